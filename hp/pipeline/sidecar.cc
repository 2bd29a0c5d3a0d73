#include "hp/pipeline/sidecar.h"

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "hp/io/atomic_file.h"
#include "hp/model/data_edges.h"
#include "hp/scope/node_names.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/json_fields.h"
#include "hp/util/json_parse.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using Json = nlohmann::ordered_json;

Json OrNull(const std::string& text) {
  return text.empty() ? Json(nullptr) : Json(text);
}

Json DigestJson(const FileDigest& file) {
  return {{"path", file.path}, {"sha256", file.sha256}};
}

Json ValuesJson(
    const google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& values) {
  Json list = Json::array();
  for (const onnx::ValueInfoProto& value : values) {
    const TensorType type = TensorTypeOf(value.type());
    list.push_back({{"name", value.name()},
                    {"elem_type", OrNull(type.elem_type)},
                    {"shape", OrNull(type.shape)}});
  }
  return list;
}

Json ModelSummaryJson(const onnx::ModelProto& model, int64_t node_count) {
  Json opsets = Json::array();
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    opsets.push_back(
        {{"domain", opset.domain()}, {"version", opset.version()}});
  }
  return {{"producer_name", model.producer_name()},
          {"producer_version", model.producer_version()},
          {"ir_version", model.ir_version()},
          {"opsets", std::move(opsets)},
          {"graph_name", model.graph().name()},
          {"node_count", node_count},
          {"initializer_count", model.graph().initializer_size()},
          {"inputs", ValuesJson(model.graph().input())},
          {"outputs", ValuesJson(model.graph().output())}};
}

// Every module instance, nested by dotted path; each module's parent is its
// nearest ancestor path among the modules (as in the module table).
class ModuleTreeJson {
 public:
  ModuleTreeJson(const TagResult& result, const ScopeTrace* trace)
      : result_(result), trace_(trace) {
    for (size_t i = 0; i < result.modules.size(); ++i) {
      index_.emplace(result.modules[i].path, i);
    }
    children_.resize(result.modules.size());
    for (size_t i = 1; i < result.modules.size(); ++i) {
      children_[ParentIndex(result.modules[i].path)].push_back(i);
    }
    for (const NodeTag& node : result.nodes) ++own_nodes_[node.module_path];
  }

  // The root module (ComputeTags lists it first).
  Json Root() const {
    return result_.modules.empty() ? Json(nullptr) : Module(0);
  }

 private:
  size_t ParentIndex(absl::string_view path) const {
    while (!path.empty()) {
      path = ParentPath(path);
      auto it = index_.find(path);
      if (it != index_.end()) return it->second;
    }
    return 0;
  }

  Json Module(size_t index) const {
    const ModuleInfo& module = result_.modules[index];
    const TracedModule* traced =
        trace_ != nullptr ? trace_->Find(module.path) : nullptr;
    auto own = own_nodes_.find(module.path);
    Json json = {
        {"path", module.path},
        {"class", OrNull(module.class_name)},
        {"qualified_class",
         traced != nullptr ? Json(traced->qualified_class) : Json(nullptr)},
        {"tag", module.tag},
        {"kept", module.kept},
        {"call_count",
         traced != nullptr ? Json(traced->call_count) : Json(nullptr)},
        {"first_call_order", traced != nullptr && traced->first_call_order
                                 ? Json(*traced->first_call_order)
                                 : Json(nullptr)},
        {"own_nodes", own == own_nodes_.end() ? 0 : own->second},
        {"children", Json::array()}};
    for (size_t child : children_[index]) {
      json["children"].push_back(Module(child));
    }
    return json;
  }

  const TagResult& result_;
  const ScopeTrace* trace_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<std::vector<size_t>> children_;
  absl::flat_hash_map<std::string, int64_t> own_nodes_;
};

}  // namespace

std::string SidecarJson(const onnx::ModelProto& model, const TagResult& result,
                        const ScopeTrace* trace,
                        const SidecarContext& context) {
  Json json;
  json["format"] = kSidecarFormat;
  json["format_version"] = kSidecarFormatVersion;
  json["export"] = {
      {"hp_version", kVersion},
      {"input_model", DigestJson(context.input_model)},
      {"trace", context.trace ? DigestJson(*context.trace) : Json(nullptr)},
      {"output_model", DigestJson(context.output_model)},
      {"tag_format", TagFormatName(context.options.format)},
      {"options", OptionsJson(context.options)}};
  json["model"] =
      ModelSummaryJson(model, static_cast<int64_t>(result.nodes.size()));
  json["hierarchy"] = {{"source", HierarchySourceName(result.source)},
                       {"root_tag", result.root_tag},
                       {"modules", ModuleTreeJson(result, trace).Root()}};
  Json nodes = Json::array();
  for (const NodeTag& node : result.nodes) {
    nodes.push_back({{"graph", node.graph_path},
                     {"name", node.node_name},
                     {"op_type", node.op_type},
                     {"module_path", node.module_path},
                     {"tag", node.tag},
                     {"match", MatchKindName(node.match)}});
  }
  json["nodes"] = std::move(nodes);
  Json statistics = Json::object();
  AddStatisticsJson(result.statistics, &statistics);
  json["statistics"] = std::move(statistics);
  json["warnings"] = result.warnings;
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

absl::StatusOr<Sidecar> ParseSidecar(absl::string_view json_text,
                                     absl::string_view source) {
  HP_ASSIGN_OR_RETURN(nlohmann::json json, ParseJson(json_text, source));
  const FieldReader reader(source);
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object"));
  }
  HP_ASSIGN_OR_RETURN(std::string format, reader.String(json, "", "format"));
  if (format != kSidecarFormat) {
    return reader.Error("format", absl::StrCat("expected \"", kSidecarFormat,
                                               "\": not an hp sidecar file"));
  }
  HP_ASSIGN_OR_RETURN(const nlohmann::json* version,
                      reader.Member(json, "", "format_version"));
  if (!version->is_number_integer() ||
      version->get<int64_t>() != kSidecarFormatVersion) {
    return reader.Error("format_version", absl::StrCat("this hp reads version ",
                                                       kSidecarFormatVersion));
  }
  HP_ASSIGN_OR_RETURN(const nlohmann::json* context,
                      reader.Object(json, "", "export"));
  HP_ASSIGN_OR_RETURN(const nlohmann::json* output,
                      reader.Object(*context, "export", "output_model"));
  Sidecar sidecar;
  HP_ASSIGN_OR_RETURN(sidecar.output_model_sha256,
                      reader.String(*output, "export.output_model", "sha256"));

  HP_ASSIGN_OR_RETURN(const nlohmann::json* nodes,
                      reader.Array(json, "", "nodes"));
  for (size_t i = 0; i < nodes->size(); ++i) {
    const std::string path = absl::StrCat("nodes[", i, "]");
    const nlohmann::json& entry = (*nodes)[i];
    if (!entry.is_object()) return reader.Expected(path, "an object", entry);
    NodeTag node;
    HP_ASSIGN_OR_RETURN(node.graph_path, reader.String(entry, path, "graph"));
    HP_ASSIGN_OR_RETURN(node.node_name, reader.String(entry, path, "name"));
    HP_ASSIGN_OR_RETURN(node.op_type, reader.String(entry, path, "op_type"));
    HP_ASSIGN_OR_RETURN(node.module_path,
                        reader.String(entry, path, "module_path"));
    HP_ASSIGN_OR_RETURN(node.tag, reader.String(entry, path, "tag"));
    HP_ASSIGN_OR_RETURN(std::string match, reader.String(entry, path, "match"));
    std::optional<MatchKind> kind = ParseMatchKind(match);
    if (!kind.has_value()) {
      return reader.Error(path + ".match",
                          absl::StrCat("unknown match '", match, "'"));
    }
    node.match = *kind;
    sidecar.nodes.push_back(std::move(node));
  }
  return sidecar;
}

absl::StatusOr<Sidecar> LoadSidecar(const std::string& path) {
  HP_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseSidecar(text, path);
}

}  // namespace hp
