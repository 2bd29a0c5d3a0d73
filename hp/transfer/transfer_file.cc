#include "hp/transfer/transfer_file.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "hp/io/model_splice.h"
#include "hp/tag/appended_tags.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/transfer/opened_transfer.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// The result as NodeTagSource, for the writer; holds both models open
// while the derived nodes' tags are encoded.
struct TransferredTags : NodeTagSource {
  std::unique_ptr<OpenedTransfer> opened;
  const NodeList& nodes() const override { return opened->derived.list(); }
  NodeTagFacts FactsOf(size_t node) const override {
    const TransferResult& result = opened->result;
    return {result.TagOf(node), result.ModulePathOf(node), result.kinds[node]};
  }
};

}  // namespace

absl::StatusOr<TransferFileResult> TransferFile(
    const TransferFileRequest& request) {
  auto transferred = std::make_shared<TransferredTags>();
  HP_ASSIGN_OR_RETURN(transferred->opened,
                      OpenTransfer(request.from_path, request.model_path));
  OpenedTransfer& opened = *transferred->opened;
  const TaggedNodes& tagged = opened.from->tagged;
  const ModelSplice& from = *opened.from->splice;
  ModelSplice& splice = *opened.splice;
  const TagFormat format = opened.from->format;
  const TransferResult& result = opened.result;

  TransferFileResult done;
  done.statistics = result.statistics;
  done.root_tag = std::string(result.tags[0]);
  if (request.list_nodes) {
    const NodeList& nodes = opened.derived.list();
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
  const std::vector<onnx::NodeProto*>& messages = opened.derived.messages();
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
  entries.push_back(
      {kStatisticsKey, RecordedTransferStatisticsJson(
                           result.statistics.nodes, result.statistics.counts)});
  WriteModelMetadata(&splice.skeleton(), entries);

  SaveOptions save;
  save.input_path = request.model_path;
  save.overwrite_input = request.overwrite_input;
  save.durability = request.durability;
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
