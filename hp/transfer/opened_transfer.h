// A tagged model read with its tags, and optionally a model derived from
// it with the tags the transfer rule gives its nodes, in memory: both
// through the splice path, nothing written. TransferFile writes the derived
// model's tags out; `profile --optimized` attributes time with them.
#ifndef HP_TRANSFER_OPENED_TRANSFER_H_
#define HP_TRANSFER_OPENED_TRANSFER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/model_splice.h"
#include "hp/io/node_list.h"
#include "hp/model/splice_nodes.h"
#include "hp/tag/tag_types.h"
#include "hp/transfer/transfer_rule.h"
#include "hp/util/string_arena.h"
#include "proto/onnx.pb.h"

namespace hp {

// A model hp tagged, with every node's tag and module path as it stores
// them (views into `tag_copies`, `tag_storage` or the model's messages).
struct OpenedTaggedModel {
  std::string path;
  std::unique_ptr<ModelSplice> splice;
  TagFormat format = TagFormat::kMetadata;
  SpliceNodes nodes;
  std::vector<StringArena> tag_copies;  // metadata tags, one per run
  std::deque<std::string> tag_storage;  // doc_string tags, read out
  TaggedNodes tagged;
};

// One node's tag as OpenTaggedModel reads it: views into the mapped file
// or the model's tag_storage.
struct NodeTagRead {
  size_t index = 0;  // in list order
  size_t count = 0;  // nodes in the list
  const NodeRef& node;
  absl::string_view tag;
  absl::string_view module_path;  // "" when not recorded
};

struct TaggedModelReading {
  // The node records' pages go back as the tags are read: for a caller
  // that opens another model before it reads these nodes again (transfer),
  // or copies what it needs of each node as its tag is read (profile).
  bool give_back_pages = false;
  // When set, each node's tag goes to it, in order, instead of into the
  // model's `tagged` tags and module paths (which stay empty).
  std::function<void(const NodeTagRead&)> visit;
};

// Opens `path` and reads its tags: FailedPrecondition when hp did not tag
// it, InvalidArgument naming the first node without a tag, or when it has
// no nodes.
absl::StatusOr<std::unique_ptr<OpenedTaggedModel>> OpenTaggedModel(
    const std::string& path, const TaggedModelReading& reading = {});

// The tagged model and a model derived from it, the rule applied.
struct OpenedTransfer {
  std::unique_ptr<OpenedTaggedModel> from;
  std::string model_path;
  std::unique_ptr<ModelSplice> splice;  // the derived model, tags stripped
  GraphValueNames derived_values;
  SpliceNodes derived;
  TransferResult result;
};

// Opens both, checks the derived model comes from the tagged one (the
// errors TransferFile documents), strips tags a tool kept on it, and
// applies TransferTags.
absl::StatusOr<std::unique_ptr<OpenedTransfer>> OpenTransfer(
    const std::string& from_path, const std::string& model_path);

}  // namespace hp

#endif  // HP_TRANSFER_OPENED_TRANSFER_H_
