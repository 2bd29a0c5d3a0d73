// hp's public API: put a PyTorch model's module hierarchy back onto the
// nodes of its ONNX export.
//
//   hp::ScopeTrace trace = ...;                  // hp::LoadScopeTrace(path)
//   hp::TagOptions options;
//   absl::StatusOr<hp::TagResult> result = hp::TagModel(&model, &trace, options);
//
// Pipeline (each stage one header under hp/): load the model (io/) -> read
// the trace (trace/) -> list the modules (model/) -> reconstruct each node's
// scope (scope/) -> resolve module tags, propagate, write (tag/) -> save.
#ifndef HP_HP_H_
#define HP_HP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/tag/tag_writer.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {

// hp's version, recorded in every model it tags.
inline constexpr char kVersion[] = "0.1.0";

struct TagOptions {
  // torch.nn modules are left out of tags unless kept here: all of them, or
  // those of the listed classes ("LayerNorm", "Embedding").
  bool keep_all_torch_nn = false;
  std::vector<std::string> keep_torch_nn_classes;
  // Give nodes without a scope the tag their consumers (else producers)
  // agree on, instead of the root tag.
  bool propagate = false;
  // Where tags go; see TagFormat.
  TagFormat format = TagFormat::kMetadata;
  bool write_namespace = true;
  bool overwrite_namespace = false;
  // Root class for models tagged without a trace or dynamo metadata.
  std::string root_name = "Model";
  // SHA-256 (hex) of the model file as exported, recorded in the output as
  // pkg.hp.model_sha256 when given. A tagged input keeps the digest it
  // already records, so re-tagging finds the trace's digest again.
  std::string model_sha256;
  // The same for its structure digest (pkg.hp.model_structure_sha256).
  std::string model_structure_sha256;
};

// How a node's tag was found.
enum class MatchKind {
  kDirect,      // the module that ran it is in the tag
  kParent,      // its module is left out of tags (torch.nn) or unknown:
                // the nearest kept ancestor's tag
  kRoot,        // no scope: the root tag
  kPropagated,  // no scope: its consumers' or producers' tag
};

absl::string_view MatchKindName(MatchKind kind);

struct NodeTag {
  std::string graph_path;   // "main", or the subgraph's path
  std::string node_name;
  std::string op_type;
  std::string module_path;  // dotted path of the module that ran the node
  std::string tag;
  MatchKind match = MatchKind::kRoot;
};

struct TagStatistics {
  int64_t nodes = 0;
  int64_t direct = 0;
  int64_t parent = 0;
  int64_t root = 0;
  int64_t propagated = 0;
  int64_t modules = 0;  // module instances known
  int64_t tags = 0;     // distinct tags written
  // Share of nodes placed in a module (all but the root fallbacks).
  double coverage = 0.0;
};

// Where the module hierarchy came from.
enum class HierarchySource { kTrace, kDynamoMetadata, kNodeNames };
absl::string_view HierarchySourceName(HierarchySource source);

struct ModuleInfo {
  std::string path;
  std::string class_name;  // "" without a trace
  std::string tag;         // the tag its nodes get
  bool kept = false;       // does it appear in tags itself?
};

struct TagResult {
  std::vector<NodeTag> nodes;  // graph order, subgraph bodies after owners
  std::vector<ModuleInfo> modules;
  TagStatistics statistics;
  HierarchySource source = HierarchySource::kNodeNames;
  std::string root_tag;
  std::vector<std::string> warnings;
};

// The options a tagged model was tagged with (pkg.hp.options and
// pkg.hp.tag_format), or nullopt when it records none.
std::optional<TagOptions> RecordedTagOptions(const onnx::ModelProto& model);

// Computes every node's tag without changing the model. `trace` may be
// null: the hierarchy then comes from dynamo metadata or node names.
absl::StatusOr<TagResult> ComputeTags(const onnx::ModelProto& model,
                                      const ScopeTrace* trace,
                                      const TagOptions& options);

// Computes the tags and writes them onto the model's nodes, replacing tags
// an earlier run wrote (so tagging twice equals tagging once). Model-level
// metadata records hp's version, the trace digest and the counts.
absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options);

// Main-graph node tags kept out of the node messages, as the bytes to
// append to each node's record: for a writer that copies node records as
// read instead of serializing them again (ModelSplice).
struct AppendedNodeTags {
  // Per main-graph node, in graph order, the end of its bytes in records()
  // (its start is the previous node's end). A node with no bytes there
  // carries its tag in its message. Empty when no tag was kept out.
  std::vector<uint64_t> ends;
  // ends.back() bytes, allocated without being zeroed first: they are
  // written once, on all cores.
  std::unique_ptr<char[]> buffer;

  absl::string_view records() const {
    return ends.empty() ? absl::string_view()
                        : absl::string_view(buffer.get(), ends.back());
  }
};

// TagModel, except that each main-graph node for which writing the tag
// would only append metadata entries (WriteOnlyAppends) is left unchanged
// and its entries go to `appended`. A model tagged before is stripped,
// which changes its nodes: then every tag goes onto the messages. For a
// writer of large files, the result lists no nodes (`nodes` is empty; its
// statistics count them): ComputeTags lists them.
absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options,
                                   AppendedNodeTags* appended);

}  // namespace hp

#endif  // HP_HP_H_
