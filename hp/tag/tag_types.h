// The values of tagging that users hold: the options a model is tagged
// with and the result they get back. Nothing here knows how tags are stored
// in a file (hp/tag/tag_writer.h) or spelled in JSON (hp/tag/tag_codec.h).
#ifndef HP_TAG_TAG_TYPES_H_
#define HP_TAG_TAG_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "hp/model/hierarchy_source.h"

namespace hp {

// hp's version, recorded in every model it tags.
inline constexpr char kVersion[] = "0.1.0";

// Where tags go on a node.
enum class TagFormat {
  kMetadata,   // NodeProto.metadata_props: pkg.hp.tag, pkg.hp.module_path,
               // and `namespace` for Google's Model Explorer
  kAttribute,  // a string attribute `hierarchy_tag`: onnx.checker and
               // onnxruntime reject such models
  kDocString,  // JSON in NodeProto.doc_string
};

struct TagOptions {
  // torch.nn modules are left out of tags unless kept here: all of them, or
  // those of the listed classes ("LayerNorm", "Embedding").
  bool keep_all_torch_nn = false;
  std::vector<std::string> keep_torch_nn_classes;
  // Give nodes without a scope the tag their consumers (else producers)
  // agree on, instead of the root tag.
  bool propagate = false;
  // Where a scope segment could name several modules reached through
  // containers that never ran, and the trace cannot tell which, take the
  // first in trace order (with a warning) instead of failing.
  bool first_candidate = false;
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
// How a node's tag was found: by `tag` (the first four) or, on a model
// derived from a tagged one, by `transfer` (the last four; docs/transfer.md).
enum class MatchKind {
  kDirect,      // the module that ran it is in the tag
  kParent,      // its module is left out of tags (torch.nn) or unknown:
                // the nearest kept ancestor's tag
  kRoot,        // no scope: the root tag
  kPropagated,  // no scope: its consumers' or producers' tag
  kKept,        // transfer: same op, domain, inputs and outputs as one
                // original node: its tag
  kReplacing,   // transfer: produces (or, by name, stands for) tensors of
                // original nodes that are gone: their deepest common module
  kInserted,    // transfer: new tensors only: the tag its neighbours agree on
  kUnplaced,    // transfer: nothing fits: the root tag
};

struct NodeTag {
  std::string graph_path;  // "main", or the subgraph's path
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

}  // namespace hp

#endif  // HP_TAG_TAG_TYPES_H_
