#include "hp/tag/record_strip.h"

#include <mutex>
#include <optional>

#include "absl/strings/string_view.h"
#include "hp/io/wire_format.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/tag/tagged_model.h"
#include "hp/util/parallel.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// NodeProto.metadata_props (proto/onnx.proto).
constexpr uint32_t kNodeMetadataPropsField = 9;

// Where a node record is cut to strip it: the bytes before hp's entries,
// and how many entries those hold. nullopt unless everything stripping
// removes sits at the record's end with nothing after it, as when hp
// appended it, and no namespace was overwritten.
struct RecordCut {
  uint64_t keep = 0;
  size_t entries = 0;
};

std::optional<RecordCut> StripCut(absl::string_view record,
                                  const NodeRef& node) {
  int tag_at = -1;
  for (size_t i = 0; i < node.metadata.size(); ++i) {
    if (node.metadata[i].key == kOriginalNamespaceKey) return std::nullopt;
    if (tag_at < 0 && node.metadata[i].key == kTagKey) tag_at = int(i);
  }
  if (tag_at < 0) return std::nullopt;
  const uint8_t* data = reinterpret_cast<const uint8_t*>(record.data());
  WireReader reader(data, 0, record.size());
  WireRecord field;
  int entry = -1;
  int stripped = 0;
  std::optional<RecordCut> run;  // the trailing run of stripped entries
  while (!reader.done()) {
    if (!reader.Next(&field)) return std::nullopt;
    const bool metadata = field.field == kNodeMetadataPropsField &&
                          field.wire_type == kLengthDelimited;
    if (metadata) ++entry;
    if (!metadata ||
        !StripsEntry(node.metadata[entry].key, entry, tag_at, false)) {
      run.reset();
      continue;
    }
    ++stripped;
    if (!run) run = RecordCut{field.begin, static_cast<size_t>(entry)};
  }
  const size_t run_entries = run ? node.metadata.size() - run->entries : 0;
  if (!run || static_cast<int>(run_entries) != stripped) return std::nullopt;
  return run;
}

}  // namespace

absl::Status StripTags(ModelSplice* splice) {
  onnx::ModelProto* model = &splice->skeleton();
  if (!IsTagged(*model) || !splice->reads_node_records()) {
    return StripTags(model);
  }
  HP_ASSIGN_OR_RETURN(
      TagFormat format,
      ParseTagFormat(ModelMetadataValue(*model, kFormatKey).value_or("")));
  if (format != TagFormat::kMetadata) {
    HP_RETURN_IF_ERROR(splice->ParseAllNodes());
    return StripTags(model);
  }
  const NodeList& nodes = splice->nodes();
  std::mutex failure_mutex;
  absl::Status failure;
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    NodeReleaser releaser(nodes, begin);
    for (size_t i = begin; i < end; ++i) {
      releaser.Reached(i);
      // Nodes read as records hold their entries as read; parsed ones may
      // have been stripped already through an owner.
      std::optional<absl::string_view> record = splice->NodeRecord(i);
      if (record && !nodes[i].FindMetadata(kTagKey).has_value()) continue;
      if (record) {
        if (std::optional<RecordCut> cut = StripCut(*record, nodes[i])) {
          splice->TruncateNodeRecord(i, cut->keep, cut->entries);
          continue;
        }
      }
      absl::StatusOr<onnx::NodeProto*> message = splice->MutableNode(i);
      if (!message.ok()) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (failure.ok()) failure = message.status();
        return;
      }
      StripNodeMetadata(*message);
    }
    nodes.Release(begin, end);
  });
  HP_RETURN_IF_ERROR(failure);
  StripModelEntries(model);
  return absl::OkStatus();
}

}  // namespace hp
