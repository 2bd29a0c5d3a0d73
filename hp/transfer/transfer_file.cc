#include "hp/transfer/transfer_file.h"

#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "hp/io/model_splice.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/appended_tags.h"
#include "hp/tag/record_strip.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// A model's nodes: the splice's records, or, where it parsed them all,
// the skeleton's messages.
struct OpenedNodes {
  NodeList owned;
  const NodeList* list = nullptr;
  std::vector<onnx::NodeProto*> messages;  // when parsed
};

OpenedNodes NodesOf(ModelSplice* splice) {
  OpenedNodes nodes;
  if (splice->reads_node_records()) {
    nodes.list = &splice->nodes();
    return nodes;
  }
  nodes.owned = CollectNodes(splice->skeleton());
  nodes.messages = MutableNodes(&splice->skeleton());
  nodes.list = &nodes.owned;
  return nodes;
}

GraphValueNames ValueNames(const ModelSplice& splice) {
  const onnx::ModelProto headers = splice.SkeletonWithHeaders();
  const onnx::GraphProto& graph = headers.graph();
  GraphValueNames names;
  absl::flat_hash_set<std::string> initializers;
  for (const onnx::TensorProto& tensor : graph.initializer()) {
    names.initializers.push_back(tensor.name());
    initializers.insert(tensor.name());
  }
  for (const onnx::SparseTensorProto& tensor : graph.sparse_initializer()) {
    names.initializers.push_back(tensor.values().name());
    initializers.insert(tensor.values().name());
  }
  for (const onnx::ValueInfoProto& input : graph.input()) {
    if (!initializers.contains(input.name())) {
      names.inputs.push_back(input.name());
    }
  }
  for (const onnx::ValueInfoProto& output : graph.output()) {
    names.outputs.push_back(output.name());
  }
  return names;
}

std::string Describe(const NodeRef& node) {
  return absl::StrCat("node '", node.name, "' (", node.op_type, ") in ",
                      node.graph_path);
}

// Every node's tag and module path as hp wrote them, in the format the
// model records.
absl::Status ReadTags(const std::string& path, const OpenedNodes& nodes,
                      TagFormat format, std::deque<std::string>* storage,
                      TaggedNodes* tagged) {
  const NodeList& list = *nodes.list;
  tagged->nodes = &list;
  tagged->tags.resize(list.size());
  tagged->module_paths.resize(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const NodeRef& node = list[i];
    // Views into the record or message; doc_string JSON kept in `storage`.
    const WrittenTag written = ReadNodeTag(node, format, storage);
    const std::optional<absl::string_view> tag = written.tag;
    const std::optional<absl::string_view> module_path = written.module_path;
    if (!tag.has_value() || tag->empty() || (*tag)[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": ", Describe(node),
          " carries no hp tag: tag the whole model with `converter tag` "
          "before transferring its tags"));
    }
    tagged->tags[i] = *tag;
    tagged->module_paths[i] = module_path.value_or("");
  }
  if (list.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the tagged model has no nodes"));
  }
  return absl::OkStatus();
}

// The derived model must come from the tagged one: its graph inputs are
// among the tagged model's (an optimizer may drop unused ones), and the
// two share value names at their borders.
absl::Status CheckDerived(const TransferFileRequest& request,
                          const GraphValueNames& from,
                          const GraphValueNames& derived) {
  const absl::flat_hash_set<std::string> from_inputs(from.inputs.begin(),
                                                     from.inputs.end());
  for (const std::string& input : derived.inputs) {
    if (!from_inputs.contains(input)) {
      return absl::InvalidArgumentError(absl::StrCat(
          request.model_path, ": graph input '", input, "' is not an input of ",
          request.from_path,
          ": the model must be derived from the tagged one (same graph "
          "inputs, or fewer)"));
    }
  }
  absl::flat_hash_set<std::string> border(from.inputs.begin(),
                                          from.inputs.end());
  border.insert(from.outputs.begin(), from.outputs.end());
  border.insert(from.initializers.begin(), from.initializers.end());
  for (const std::vector<std::string>* names :
       {&derived.inputs, &derived.outputs, &derived.initializers}) {
    for (const std::string& name : *names) {
      if (border.contains(name)) return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      request.model_path, " shares no graph input, output or initializer "
      "name with ", request.from_path,
      ": it is not derived from that model, so its tags cannot be "
      "transferred"));
}

// The result as NodeTagSource, for the writer; holds the derived nodes'
// list alive while their tags are encoded.
struct TransferredTags : NodeTagSource {
  OpenedNodes derived;
  TransferResult result;
  const NodeList& nodes() const override { return *derived.list; }
  NodeTagFacts FactsOf(size_t node) const override {
    return {result.TagOf(node), result.ModulePathOf(node), result.kinds[node]};
  }
};

std::string StatisticsJson(const TransferStatistics& statistics) {
  return absl::StrCat("{\"nodes\":", statistics.nodes,
                      ",\"kept\":", statistics.kept,
                      ",\"replacing\":", statistics.replacing,
                      ",\"inserted\":", statistics.inserted,
                      ",\"unplaced\":", statistics.unplaced, "}");
}

}  // namespace

absl::StatusOr<TransferFileResult> TransferFile(
    const TransferFileRequest& request) {
  SpliceOptions open;
  open.read_node_records = true;
  HP_ASSIGN_OR_RETURN(ModelSplice from, ModelSplice::Open(request.from_path, open));
  if (!IsTagged(from.skeleton())) {
    return absl::FailedPreconditionError(absl::StrCat(
        request.from_path, " carries no hp tags (no ", kFormatKey,
        "): --from must be a model written by `converter tag`"));
  }
  const TagFormat format = RecordedTagFormat(from.skeleton());
  // The attribute and doc_string formats are read from messages.
  if (format != TagFormat::kMetadata) HP_RETURN_IF_ERROR(from.ParseAllNodes());
  OpenedNodes from_nodes = NodesOf(&from);
  // Tags are views into the mapped file, or, read from messages, here.
  std::deque<std::string> tag_storage;
  TaggedNodes tagged;
  HP_RETURN_IF_ERROR(ReadTags(request.from_path, from_nodes, format,
                              &tag_storage, &tagged));
  tagged.values = ValueNames(from);

  HP_ASSIGN_OR_RETURN(ModelSplice splice,
                      ModelSplice::Open(request.model_path, open));
  const GraphValueNames derived_values = ValueNames(splice);
  HP_RETURN_IF_ERROR(CheckDerived(request, tagged.values, derived_values));
  // A derived model that kept tags (a tool that copies node metadata)
  // loses them first, as tagging a tagged model does.
  HP_RETURN_IF_ERROR(StripTags(&splice));

  auto transferred = std::make_shared<TransferredTags>();
  transferred->derived = NodesOf(&splice);
  transferred->result =
      TransferTags(tagged, *transferred->derived.list, derived_values);
  const TransferResult& result = transferred->result;
  if (result.statistics.nodes > 0 &&
      result.statistics.kept + result.statistics.replacing == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.model_path, ": none of its ", result.statistics.nodes,
        " nodes computes a tensor of ", request.from_path,
        " (no node kept or replacing one): it is not derived from that "
        "model, so its tags cannot be transferred"));
  }

  TransferFileResult done;
  done.statistics = result.statistics;
  done.root_tag = std::string(result.tags[0]);
  if (request.list_nodes) {
    const NodeList& nodes = *transferred->derived.list;
    done.nodes.resize(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      TransferredNode& node = done.nodes[i];
      node.graph_path = std::string(nodes[i].graph_path);
      node.name = std::string(nodes[i].name);
      node.op_type = std::string(nodes[i].op_type);
      node.kind = result.kinds[i];
      node.tag = std::string(result.TagOf(i));
      node.module_path = std::string(result.ModulePathOf(i));
      for (int at : result.Sources(i)) {
        node.sources.push_back(std::string((*tagged.nodes)[at].name));
      }
    }
  }

  const WriteOptions write{format, request.write_namespace,
                           request.overwrite_namespace};
  const bool records = splice.reads_node_records();
  const std::vector<onnx::NodeProto*>& messages =
      transferred->derived.messages;
  AppendedNodeTags appended;
  HP_RETURN_IF_ERROR(WriteNodeTags(
      transferred,
      [&](size_t i) -> absl::StatusOr<onnx::NodeProto*> {
        if (records) return splice.MutableNode(i);
        return messages[i];
      },
      write, /*append=*/records, &appended));
  std::vector<std::pair<std::string, std::string>> entries = {
      {kFormatKey, std::string(TagFormatName(format))},
      {kVersionKey, kVersion},
      {kSourceKey, kTransferSource},
  };
  // The export the tags came from, as the tagged model records it.
  if (std::optional<std::string> digest =
          RecordedModelSha256(from.skeleton())) {
    entries.push_back({kModelSha256Key, *digest});
  }
  if (std::optional<std::string> digest =
          RecordedModelStructureSha256(from.skeleton())) {
    entries.push_back({kModelStructureSha256Key, *digest});
  }
  entries.push_back({kStatisticsKey, StatisticsJson(result.statistics)});
  WriteModelMetadata(&splice.skeleton(), entries);

  SaveOptions save;
  save.input_path = request.model_path;
  save.overwrite_input = request.overwrite_input;
  save.write_back_early = request.durability == Durability::kFsync;
  const NodeRecordSuffixes suffixes{&appended.sizes, appended.encode};
  HP_ASSIGN_OR_RETURN(
      AtomicFileWriter writer,
      splice.SaveUncommitted(request.output_path, save, suffixes));
  HP_ASSIGN_OR_RETURN(
      PlacedExternalData placed,
      PlaceExternalData(splice.external_data_files(), request.model_path,
                        request.output_path, request.external_data,
                        request.durability));
  HP_RETURN_IF_ERROR(writer.Commit(request.durability));
  placed.Keep();
  done.external_data = placed.counts();
  return done;
}

}  // namespace hp
