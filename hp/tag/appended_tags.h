// TagModel for a writer that copies node records as read instead of
// serializing them again (hp/io/model_splice.h): the tags of most nodes are
// handed back as the bytes to append to each node's record. Internal to
// the splice path; users call TagModel (hp/tag/tagger.h).
#ifndef HP_TAG_APPENDED_TAGS_H_
#define HP_TAG_APPENDED_TAGS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"
#include "hp/model/module_table.h"
#include "hp/tag/tag_types.h"
#include "hp/tag/tag_writer.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {

// Main-graph node tags kept out of the node messages, as the bytes to
// append to each node's record.
struct AppendedNodeTags {
  // Per main-graph node, in graph order, the size of its bytes; a node with
  // none carries its tag in its message. Empty when no tag was kept out.
  std::vector<uint32_t> sizes;
  // Writes main-graph node i's bytes at `target`, when they are written out
  // (NodeRecordSuffixes): a million nodes' tags are never all in memory as
  // bytes. Holds what it needs; callable from several threads at once.
  std::function<void(size_t node, char* target)> encode;
};

// TagModel, except that each main-graph node for which writing the tag
// would only append metadata entries (WriteOnlyAppends) is left unchanged
// and its entries go to `appended`. A model tagged before is stripped,
// which changes its nodes: then every tag goes onto the messages. For a
// writer of large files, the result lists neither nodes nor modules
// (`nodes` and `modules` are empty; its statistics count them):
// ComputeTags lists them.
// `traced_modules`, when given, is ModuleTableFromTrace(*trace), built by
// the caller beside other work (pipeline/tag_file builds it while the
// model is opened); else TagModel builds it.
absl::StatusOr<TagResult> TagModel(
    onnx::ModelProto* model, const ScopeTrace* trace, const TagOptions& options,
    AppendedNodeTags* appended,
    std::optional<ModuleTable> traced_modules = std::nullopt);

// ComputeTags for nodes read elsewhere (ModelSplice with read_node_records):
// only their names, dynamo metadata and value names are read.
absl::StatusOr<TagResult> ComputeTags(const NodeList& nodes,
                                      const ScopeTrace* trace,
                                      const TagOptions& options);

// `options` with the export digests a tagged model records, which tagging
// keeps (TagModel takes them before it strips the old tags): for a caller
// that strips the model itself first.
TagOptions WithRecordedDigests(const onnx::ModelProto& model,
                               TagOptions options);

// The message to write node i's tag into, for a node whose tag cannot be
// appended to its record. Called for different nodes at once.
using NodeMessageOf =
    std::function<absl::StatusOr<onnx::NodeProto*>(size_t node)>;

// The same for an untagged model whose main-graph nodes are not in `model`
// but read as records (ModelSplice with read_node_records): `nodes` lists
// them, and `message_of` parses one when its tag cannot be appended. The
// model's own entries are written into `model`.
// `traced_modules` as above.
absl::StatusOr<TagResult> TagModel(
    onnx::ModelProto* model, const NodeList& nodes,
    const NodeMessageOf& message_of, const ScopeTrace* trace,
    const TagOptions& options, AppendedNodeTags* appended,
    std::optional<ModuleTable> traced_modules = std::nullopt);

// Per node of a list, the tag and module path to write onto it: what
// TagModel computed, or what another rule (hp/transfer) decided.
class NodeTagSource {
 public:
  virtual ~NodeTagSource() = default;
  virtual const NodeList& nodes() const = 0;
  // What is written on the node: its tag, module path and match kind.
  virtual NodeTagFacts FactsOf(size_t node) const = 0;
};

// Writes every node's tag from `source`: onto the message `message_of`
// gives, or, with `append`, for a main-graph node where writing would only
// append entries (WriteOnlyAppends), as bytes in `appended` (whose encoder
// keeps `source` alive). The first node in graph order that cannot be
// written is the error, naming its graph.
absl::Status WriteNodeTags(std::shared_ptr<const NodeTagSource> source,
                           const NodeMessageOf& message_of,
                           const WriteOptions& write, bool append,
                           AppendedNodeTags* appended);

}  // namespace hp

#endif  // HP_TAG_APPENDED_TAGS_H_
