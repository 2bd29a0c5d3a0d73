#include "hp/extract/extract_file.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hp/extract/boundary_types.h"
#include "hp/extract/extract_module.h"
#include "hp/io/model_splice.h"
#include "hp/model/splice_nodes.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/tag/tagged_model.h"
#include "hp/util/status_macros.h"
#include "hp/view/module_tree.h"
#include "hp/view/stored_tags.h"

namespace hp {
namespace {

// Model metadata an extracted model records about where it came from.
constexpr char kExtractedModuleTagKey[] = "pkg.hp.extract.module_tag";
constexpr char kExtractedModulePathKey[] = "pkg.hp.extract.module_path";
// The input's structure digest (hp/io/structure_digest.h): the tagged
// model's graph without its weights.
constexpr char kExtractedFromKey[] = "pkg.hp.extract.source_structure_sha256";
// Set on the model of the nodes in no extracted module.
constexpr char kExtractedRemainderKey[] = "pkg.hp.extract.remainder";
// The source's entries that still describe an extracted model.
constexpr const char* kKeptEntries[] = {kFormatKey, kVersionKey, kSourceKey,
                                        kOptionsKey};

// The tagged input, read once for every model cut out of it.
struct Source {
  std::string path;
  std::optional<ModelSplice> splice;
  SpliceNodes nodes;
  StoredTags stored;
  ModuleTree tree;
  onnx::ModelProto headers;  // the skeleton with initializer headers
  InferredTypes types;
  std::string structure_digest;
  // The skeleton's fields each output replaces, as read.
  onnx::GraphProto graph_fields;  // inputs, outputs, value_info
  google::protobuf::RepeatedPtrField<onnx::StringStringEntryProto> metadata;
  google::protobuf::RepeatedPtrField<onnx::OperatorSetIdProto> opsets;
  google::protobuf::RepeatedPtrField<onnx::FunctionProto> functions;
  int64_t main_nodes = 0;
};

absl::StatusOr<std::unique_ptr<Source>> OpenSource(const std::string& path) {
  auto source = std::make_unique<Source>();
  source->path = path;
  SpliceOptions open;
  open.read_node_records = true;
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(path, open));
  source->splice.emplace(std::move(splice));
  ModelSplice& model = *source->splice;
  if (!IsTagged(model.skeleton())) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " carries no hp tags (no ", kFormatKey,
                     "): --model must be a model written by `converter tag`"));
  }
  // The attribute and doc_string formats are read from messages.
  if (RecordedTagFormat(model.skeleton()) != TagFormat::kMetadata) {
    HP_RETURN_IF_ERROR(model.ParseAllNodes());
  }
  source->nodes = SpliceNodes(&model);
  HP_ASSIGN_OR_RETURN(
      source->stored,
      ReadStoredTags(model.skeleton(), source->nodes.list(), path));
  // The tags are read, and the cuts copy node records as they are: the
  // list need not keep where each metadata entry lies.
  source->nodes.ForgetMetadata();
  // The tree straight from the stored tags (a node's name and op type,
  // which a shown node would copy, stay in the node list).
  const StoredTags& stored = source->stored;
  const size_t count =
      std::min(source->nodes.list().size(), stored.nodes.size());
  source->tree =
      ModuleTree::Build(StoredModules(stored, count), count,
                        [&](size_t i) { return stored.Tag(i).value_or(""); });
  source->headers = model.SkeletonWithHeaders();
  const onnx::GraphProto& graph = model.skeleton().graph();
  *source->graph_fields.mutable_input() = graph.input();
  *source->graph_fields.mutable_output() = graph.output();
  *source->graph_fields.mutable_value_info() = graph.value_info();
  source->metadata = model.skeleton().metadata_props();
  source->opsets = model.skeleton().opset_import();
  source->functions = model.skeleton().functions();
  source->main_nodes = model.main_graph_node_count();
  return source;
}

// What writing the cuts needs and finding their modules does not: the
// source's structure digest, and the types of the tensors the cuts declare
// (their inputs and outputs), inferred from the graph's inputs (the
// costliest step). Called once the module asked for is found, so that a
// wrong name is refused at once.
absl::Status PrepareCuts(Source* source,
                         const std::vector<const ModuleCut*>& cuts) {
  const std::string& path = source->path;
  ModelSplice& model = *source->splice;
  // The digest reads the file on another core while the types are
  // inferred.
  std::future<absl::StatusOr<std::string>> digest = std::async(
      std::launch::async, [&model] { return model.StructureSha256Hex(); });
  // The nodes whose rule reads attributes are parsed here, apart from the
  // splice, so that they are still copied as read.
  auto parsed = std::make_shared<std::deque<onnx::NodeProto>>();
  const NodeList& nodes = source->nodes.list();
  NodeMessage message =
      [&, parsed](size_t i) -> absl::StatusOr<const onnx::NodeProto*> {
    if (nodes[i].node != nullptr) return nodes[i].node;
    std::optional<absl::string_view> record = model.NodeRecord(i);
    parsed->emplace_back();
    if (!record.has_value() ||
        !parsed->back().ParseFromArray(record->data(),
                                       static_cast<int>(record->size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", DescribeNode(nodes[i]),
                       " does not parse as a NodeProto"));
    }
    return &parsed->back();
  };
  absl::flat_hash_set<std::string> declared;
  for (const ModuleCut* cut : cuts) {
    declared.insert(cut->inputs.begin(), cut->inputs.end());
    declared.insert(cut->outputs.begin(), cut->outputs.end());
  }
  HP_ASSIGN_OR_RETURN(
      source->types,
      InferTensorTypes(source->headers.graph(), nodes, message,
                       model.skeleton().functions(), path, &declared));
  HP_ASSIGN_OR_RETURN(source->structure_digest, digest.get());
  return absl::OkStatus();
}

// A graph input or output of the cut: the model's own declaration where
// the tensor is one of its inputs or outputs, else the inferred type.
absl::StatusOr<onnx::ValueInfoProto> Declare(const Source& source,
                                             const std::string& name,
                                             bool input,
                                             const std::string& module) {
  const auto& declared =
      input ? source.graph_fields.input() : source.graph_fields.output();
  for (const onnx::ValueInfoProto& value : declared) {
    if (value.name() == name) return value;
  }
  absl::StatusOr<onnx::TypeProto> type = source.types.TypeOf(name);
  if (!type.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        type.status().message(), "; the type of '", name, "' is needed as an ",
        input ? "input" : "output", " of ", module));
  }
  if (!type->tensor_type().has_shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source.path, ": the rank of tensor '", name,
        "' is not known to hp (no op schema rule gives it from the ops "
        "before it), but it is needed as an ",
        input ? "input" : "output", " of ", module,
        ", and ONNX asks for a shape there"));
  }
  onnx::ValueInfoProto value;
  value.set_name(name);
  *value.mutable_type() = *std::move(type);
  return value;
}

// The statistics of the nodes kept, as the source records them: `tag`'s
// counts, or, for a model whose tags transfer wrote, transfer's.
std::string CutStatisticsJson(const Source& source, const ModuleCut& cut,
                              const std::vector<bool>& kept_module) {
  TagStatistics statistics;
  MatchKindCounts counts{};
  absl::flat_hash_set<absl::string_view> tags;
  const NodeList& nodes = source.nodes.list();
  for (size_t first : cut.list_nodes) {
    // The node, then its bodies' nodes, which follow it.
    for (size_t i = first;
         i < nodes.size() && (i == first || nodes[i].owner >= 0); ++i) {
      ++statistics.nodes;
      const absl::string_view tag = source.stored.Tag(i).value_or("");
      const std::optional<MatchKind>& match = source.stored.matches[i];
      if (!tag.empty()) tags.insert(tag);
      if (match.has_value()) ++counts[static_cast<size_t>(*match)];
    }
  }
  if (source.stored.source == kTransferSource) {
    return RecordedTransferStatisticsJson(statistics.nodes, counts);
  }
  statistics.direct = counts[static_cast<size_t>(MatchKind::kDirect)];
  statistics.parent = counts[static_cast<size_t>(MatchKind::kParent)];
  statistics.root = counts[static_cast<size_t>(MatchKind::kRoot)];
  statistics.propagated = counts[static_cast<size_t>(MatchKind::kPropagated)];
  for (bool in : kept_module) statistics.modules += in ? 1 : 0;
  statistics.tags = static_cast<int64_t>(tags.size());
  statistics.coverage =
      statistics.nodes == 0
          ? 0.0
          : static_cast<double>(statistics.nodes - statistics.root) /
                static_cast<double>(statistics.nodes);
  return RecordedStatisticsJson(statistics);
}

// The functions the kept ops call, and those their bodies call.
void KeepFunctions(
    const Source& source, const ModuleCut& cut,
    google::protobuf::RepeatedPtrField<onnx::FunctionProto>* kept,
    absl::flat_hash_set<std::string>* domains) {
  std::vector<std::pair<std::string, std::string>> pending = cut.ops;
  absl::flat_hash_set<std::pair<std::string, std::string>> done;
  while (!pending.empty()) {
    std::pair<std::string, std::string> op = std::move(pending.back());
    pending.pop_back();
    if (!done.insert(op).second) continue;
    domains->insert(op.first);
    for (const onnx::FunctionProto& function : source.functions) {
      if (function.domain() != op.first || function.name() != op.second) {
        continue;
      }
      *kept->Add() = function;
      for (const onnx::NodeProto& node : function.node()) {
        pending.push_back({node.domain(), node.op_type()});
      }
    }
  }
}

struct PendingModel {
  AtomicFileWriter writer;
  PlacedExternalData placed;
  ExtractedModel info;
};

// Writes the cut to `output` (uncommitted): the skeleton's graph fields,
// metadata, opsets and functions set for it, its nodes and initializer
// records copied from the input.
absl::StatusOr<PendingModel> WriteCut(Source& source, const ModuleCut& cut,
                                      int module, const std::string& output,
                                      const ExtractFileRequest& request) {
  const std::string described =
      module >= 0
          ? absl::StrCat("module '", source.tree.modules()[module].tag, "'")
          : std::string("the remainder");
  onnx::ModelProto& skeleton = source.splice->skeleton();
  onnx::GraphProto* graph = skeleton.mutable_graph();
  graph->clear_input();
  graph->clear_output();
  graph->clear_value_info();
  for (const std::string& name : cut.inputs) {
    HP_ASSIGN_OR_RETURN(*graph->add_input(),
                        Declare(source, name, /*input=*/true, described));
  }
  for (const std::string& name : cut.outputs) {
    HP_ASSIGN_OR_RETURN(*graph->add_output(),
                        Declare(source, name, /*input=*/false, described));
  }
  const absl::flat_hash_set<std::string> internal(cut.internal.begin(),
                                                  cut.internal.end());
  for (const onnx::ValueInfoProto& value : source.graph_fields.value_info()) {
    if (internal.contains(value.name())) *graph->add_value_info() = value;
  }

  skeleton.clear_functions();
  absl::flat_hash_set<std::string> domains = {""};
  KeepFunctions(source, cut, skeleton.mutable_functions(), &domains);
  skeleton.clear_opset_import();
  for (const onnx::OperatorSetIdProto& opset : source.opsets) {
    if (domains.contains(opset.domain()) ||
        (opset.domain() == "ai.onnx" && domains.contains(""))) {
      *skeleton.add_opset_import() = opset;
    }
  }

  std::vector<bool> kept_module(source.tree.modules().size(), false);
  ExtractedModel info;
  if (module >= 0) {
    std::vector<int> pending = {module};
    while (!pending.empty()) {
      const int at = pending.back();
      pending.pop_back();
      kept_module[static_cast<size_t>(at)] = true;
      for (int child : source.tree.modules()[at].children) {
        pending.push_back(child);
      }
    }
    const TreeModule& chosen = source.tree.modules()[module];
    info.tag = chosen.tag;
    // Known for a module some node matched directly; the output does not
    // depend on whether the module was asked for by tag or by path.
    info.module_path = chosen.path.value_or("");
  }
  skeleton.clear_metadata_props();
  std::vector<std::pair<std::string, std::string>> entries;
  for (const onnx::StringStringEntryProto& entry : source.metadata) {
    bool keep = !absl::StartsWith(entry.key(), kKeyPrefix);
    for (const char* key : kKeptEntries) keep = keep || entry.key() == key;
    if (keep) entries.push_back({entry.key(), entry.value()});
  }
  if (module >= 0) {
    entries.push_back({kExtractedModuleTagKey, info.tag});
    if (!info.module_path.empty()) {
      entries.push_back({kExtractedModulePathKey, info.module_path});
    }
  } else {
    entries.push_back({kExtractedRemainderKey, "true"});
  }
  entries.push_back({kExtractedFromKey, source.structure_digest});
  entries.push_back(
      {kStatisticsKey, CutStatisticsJson(source, cut, kept_module)});
  WriteModelMetadata(&skeleton, entries);

  SaveOptions save;
  save.input_path = source.path;
  save.in_place_possible = false;
  save.durability = request.durability;
  SpliceSelection selection;
  selection.nodes = &cut.positions;
  selection.initializers = &cut.initializers;
  selection.sparse_initializers = &cut.sparse_initializers;
  HP_ASSIGN_OR_RETURN(
      AtomicFileWriter writer,
      source.splice->SaveSelectionUncommitted(output, save, selection));
  // Side files: those of the initializers kept, and of nodes kept that
  // hold tensors in external data.
  onnx::ModelProto uses;
  for (size_t k : cut.initializers) {
    *uses.mutable_graph()->add_initializer() =
        source.headers.graph().initializer(static_cast<int>(k));
  }
  for (size_t k : cut.sparse_initializers) {
    *uses.mutable_graph()->add_sparse_initializer() =
        source.headers.graph().sparse_initializer(static_cast<int>(k));
  }
  for (size_t i : cut.list_nodes) {
    if (const onnx::NodeProto* node = source.nodes.list()[i].node) {
      *uses.mutable_graph()->add_node() = *node;
    }
  }
  HP_ASSIGN_OR_RETURN(
      PlacedExternalData placed,
      PlaceExternalData(ExternalDataFiles(uses), source.path, output,
                        request.external_data, request.durability));
  info.output_path = output;
  info.nodes = static_cast<int64_t>(cut.positions.size());
  info.initializers = static_cast<int64_t>(cut.initializers.size() +
                                           cut.sparse_initializers.size());
  info.inputs = cut.inputs;
  info.outputs = cut.outputs;
  info.external_data = placed.counts();
  return PendingModel{std::move(writer), std::move(placed), std::move(info)};
}

bool HasMainNode(const std::vector<bool>& inside) {
  for (bool in : inside) {
    if (in) return true;
  }
  return false;
}

}  // namespace

std::string ExtractedFileName(const std::string& tag) {
  std::string name;
  for (char c :
       absl::string_view(tag).substr(tag.empty() || tag[0] != '/' ? 0 : 1)) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                       c == '_';
    name.push_back(c == '/' ? '.' : plain ? c : '_');
  }
  if (name.empty()) name = "root";
  return absl::StrCat(name, ".onnx");
}

absl::StatusOr<ExtractFileResult> ExtractFile(
    const ExtractFileRequest& request) {
  const bool one = request.depth < 0;
  if (one && request.module_tag.empty() == request.module_path.empty()) {
    return absl::InvalidArgumentError(
        "extract: name the module by its tag or by its module path (one of "
        "the two), or ask for every module at a depth");
  }
  if (one && request.output_path.empty()) {
    return absl::InvalidArgumentError("extract: no output path");
  }
  if (!one && request.output_dir.empty()) {
    return absl::InvalidArgumentError("extract: no output folder");
  }
  HP_ASSIGN_OR_RETURN(std::unique_ptr<Source> source,
                      OpenSource(request.model_path));
  const NodeList& nodes = source->nodes.list();
  ExtractFileResult result;
  result.source_nodes = source->main_nodes;
  std::vector<PendingModel> pending;

  if (one) {
    HP_ASSIGN_OR_RETURN(
        const int module,
        FindModule(source->tree, source->stored, request.module_tag,
                   request.module_path, request.model_path));
    const std::vector<bool> inside =
        NodesInSubtree(source->tree, module, nodes);
    if (!HasMainNode(inside)) {
      return absl::InvalidArgumentError(absl::StrCat(
          request.model_path, ": module '", source->tree.modules()[module].tag,
          "' holds no node of the main graph: there is nothing to extract"));
    }
    const ModuleCut cut = CutModule(source->headers.graph(), nodes, inside);
    HP_RETURN_IF_ERROR(PrepareCuts(source.get(), {&cut}));
    HP_ASSIGN_OR_RETURN(
        PendingModel model,
        WriteCut(*source, cut, module, request.output_path, request));
    pending.push_back(std::move(model));
  } else {
    // Every cut first, all in one pass over the graph: the types to infer
    // are those they declare.
    const std::vector<TreeModule>& modules = source->tree.modules();
    // Each module's ancestor at the depth asked for (itself there, -1
    // above): parents come before their children.
    std::vector<int> at_depth(modules.size(), -1);
    for (size_t m = 0; m < modules.size(); ++m) {
      if (modules[m].depth == request.depth) {
        at_depth[m] = static_cast<int>(m);
      } else if (modules[m].depth > request.depth && modules[m].parent >= 0) {
        at_depth[m] = at_depth[static_cast<size_t>(modules[m].parent)];
      }
    }
    // The main-graph nodes of each module at that depth, in its subtree.
    int cut_count = 0;
    std::vector<int> cut_of_module(modules.size(), -1);
    std::vector<int> cut_of(nodes.size(), -1);
    const std::vector<int>& module_of = source->tree.module_of_node();
    for (size_t i = 0; i < nodes.size() && i < module_of.size(); ++i) {
      if (nodes[i].owner >= 0 || module_of[i] < 0) continue;
      const int module = at_depth[static_cast<size_t>(module_of[i])];
      if (module < 0) continue;
      if (cut_of_module[static_cast<size_t>(module)] < 0) {
        cut_of_module[static_cast<size_t>(module)] = cut_count++;
      }
      cut_of[i] = cut_of_module[static_cast<size_t>(module)];
    }
    // In the tree's order, as the files are named.
    struct Planned {
      int module;  // -1: the remainder
      int cut;
      std::string file_name;
    };
    std::vector<Planned> planned;
    absl::flat_hash_set<std::string> names;
    for (size_t m = 0; m < modules.size(); ++m) {
      if (cut_of_module[m] < 0) continue;
      // Tags are unique, their file names nearly so ("[" and "/" both
      // become other characters): a clash gets a number.
      std::string name = ExtractedFileName(modules[m].tag);
      const std::string stem = name.substr(0, name.size() - 5);  // ".onnx"
      for (int n = 2; !names.insert(name).second; ++n) {
        name = absl::StrCat(stem, "_", n, ".onnx");
      }
      planned.push_back(
          {static_cast<int>(m), cut_of_module[m], std::move(name)});
    }
    int64_t position = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].owner >= 0) continue;
      const int64_t at = position++;
      if (cut_of[i] >= 0) continue;
      result.remainder.push_back(
          {at, std::string(nodes[i].name), std::string(nodes[i].op_type),
           std::string(source->stored.Tag(i).value_or(""))});
    }
    if (request.write_remainder && !result.remainder.empty()) {
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].owner < 0 && cut_of[i] < 0) cut_of[i] = cut_count;
      }
      planned.push_back({-1, cut_count++, "remainder.onnx"});
    }
    const std::vector<ModuleCut> all_cuts = CutModules(
        source->headers.graph(), nodes, cut_of, static_cast<size_t>(cut_count));
    std::vector<const ModuleCut*> cuts;
    for (const ModuleCut& cut : all_cuts) cuts.push_back(&cut);
    HP_RETURN_IF_ERROR(PrepareCuts(source.get(), cuts));
    std::error_code error;
    std::filesystem::create_directories(request.output_dir, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(request.output_dir,
                       ": cannot create the output "
                       "folder: ",
                       error.message()));
    }
    for (const Planned& plan : planned) {
      HP_ASSIGN_OR_RETURN(
          PendingModel model,
          WriteCut(*source, all_cuts[static_cast<size_t>(plan.cut)],
                   plan.module,
                   (std::filesystem::path(request.output_dir) / plan.file_name)
                       .string(),
                   request));
      pending.push_back(std::move(model));
    }
  }
  // Every model written, then all committed: an error leaves none behind.
  for (PendingModel& model : pending) {
    HP_RETURN_IF_ERROR(model.writer.Commit(request.durability));
    model.placed.Keep();
    result.models.push_back(std::move(model.info));
  }
  return result;
}

}  // namespace hp
