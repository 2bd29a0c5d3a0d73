// The views' common stage: each node's tag in (read from a tagged model, or
// computed for an untagged one); the tree of module instances, one per tag,
// with the nodes each holds, out. A node goes to the module whose tag equals
// its own exactly, and a module's parent is its tag minus the last "/"
// component: never string-prefix matching, which would put the ops of
// /M/BertLayer.10 inside /M/BertLayer.1.
#ifndef HP_VIEW_MODULE_TREE_H_
#define HP_VIEW_MODULE_TREE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/computed_tags.h"
#include "hp/tag/tag_types.h"
#include "hp/view/stored_tags.h"

namespace hp {

// The distinct op types of the shown nodes, each kept once and numbered in
// the order met: nodes view these (views into the file would map its pages
// back in for every pass that reads them), and analyze counts by number.
class OpTypeTable {
 public:
  OpTypeTable() = default;
  OpTypeTable(OpTypeTable&&) = default;
  OpTypeTable& operator=(OpTypeTable&&) = default;
  // The keys view names_: a copy would view the original's.
  OpTypeTable(const OpTypeTable&) = delete;
  OpTypeTable& operator=(const OpTypeTable&) = delete;

  // `op_type`'s number, kept the first time it is met.
  int Intern(absl::string_view op_type);
  absl::string_view Name(int id) const { return names_[id]; }

 private:
  std::deque<std::string> names_;  // moved, its strings stay where they are
  absl::flat_hash_map<absl::string_view, int> ids_;
  int last_ = -1;  // a run of nodes of one op type needs no lookup
};

// One node as the views show it: views into the model's nodes and into the
// stored tags or computed result they were made from, which outlive it
// (a million nodes' strings are not copied again).
struct ShownNode {
  absl::string_view graph_path;  // "main", or the subgraph's path
  absl::string_view node_name;
  absl::string_view op_type;  // in TagsToShow::op_types
  int op_id = -1;             // its number there
  absl::string_view module_path;
  absl::string_view tag;  // "" when the node carries no tag
  MatchKind match = MatchKind::kRoot;
  // False when how the node was matched is not known: its stored tag
  // differs from the one hp computes now (another trace, other tag flags),
  // or the model records no match kind for it.
  bool match_known = true;
};

// "node '/encoder/Add_3' (Add) in main", as every message names a node.
std::string DescribeNode(const ShownNode& node);

struct TagsToShow {
  std::vector<ShownNode> nodes;     // in CollectNodes order
  std::vector<ModuleInfo> modules;  // the module instances hp knows
  bool read_from_model = false;     // tags read back, not computed
  bool stored_matches = false;      // match kinds read back, not computed
  HierarchySource source = HierarchySource::kNodeNames;
  // Stored facts of a model whose tags `transfer` wrote: its match kinds
  // are kTransferMatchKinds, and `source` is not known.
  bool transferred = false;
  std::vector<std::string> warnings;
  // The op types the nodes view.
  OpTypeTable op_types;
};

// The tags hp computes (for a model it has not tagged) for `nodes`. The
// shown nodes view `nodes` and `computed`, which must outlive them.
TagsToShow ComputedTagsToShow(const NodeList& nodes,
                              const ComputedTags& computed);
TagsToShow ComputedTagsToShow(const NodeList& nodes, ComputedTags&&) = delete;

// The tags a tagged model carries. `computed` (ComputeNodeTags on the same
// `nodes`) gives the match kinds where its tags agree with the stored ones,
// and the module instances.
absl::StatusOr<TagsToShow> StoredTagsToShow(const NodeList& nodes,
                                            const ComputedTags& computed,
                                            const StoredTags& stored);

// The facts a tagged model stores, alone: each node's tag, module path and
// match kind as written, and as modules those the nodes matched directly
// (a module's tag is the tag of its direct nodes). `nodes` are the
// model's nodes, in the order of `stored`.
TagsToShow StoredFactsToShow(const NodeList& nodes, const StoredTags& stored);
// Those modules alone, from the first `count` nodes of `stored`: for a
// caller that reads the stored facts directly (extract).
std::vector<ModuleInfo> StoredModules(const StoredTags& stored, size_t count);

// OK when `shown` describes exactly these nodes (same count, names and op
// types, in order); InvalidArgument naming the first difference otherwise.
absl::Status CheckSameNodes(const NodeList& nodes, const TagsToShow& shown);

// A module instance of the tree: one tag.
struct TreeModule {
  std::string tag;        // "/TinyBert/BertEncoder/BertLayer.10"
  std::string component;  // its last component: "BertLayer.10"
  // The module's class; read off the component when hp does not know the
  // module ("BertLayer.10" -> "BertLayer", "T5Stack[encoder]" -> "T5Stack").
  std::string class_name;
  std::optional<std::string> path;  // dotted module path, when known
  int parent = -1;
  int depth = 0;
  std::vector<int> children;  // indices into ModuleTree::modules
  std::vector<int> nodes;     // indices of the nodes tagged exactly `tag`
  int64_t subtree_nodes = 0;  // nodes here and in every descendant
};

class ModuleTree {
 public:
  // Every tag carried by a node, with its ancestors, plus the kept modules
  // hp knows whose tag fits into that tree (modules that hold no node).
  static ModuleTree Build(const TagsToShow& shown);
  // The same from `shown`'s parts: its modules, and `tag_of(i)` for each
  // node i < `count` ("" when it has none), a view that stays valid while
  // Build runs.
  static ModuleTree Build(
      const std::vector<ModuleInfo>& modules, size_t count,
      const std::function<absl::string_view(size_t)>& tag_of);
  // The tree of node tags alone, without modules that hold no node:
  // `tag_of(i)` for each node i < `count`, in order ("" when it has none),
  // a view that stays valid while the tree is built.
  // For a caller that holds its nodes' tags some other way (profile).
  static ModuleTree FromNodeTags(
      size_t count, const std::function<absl::string_view(size_t)>& tag_of);

  const std::vector<TreeModule>& modules() const { return modules_; }
  // Normally one, the root module; several only for inconsistent tags.
  const std::vector<int>& roots() const { return roots_; }
  // Per shown node: its module's index, or -1 when it carries no tag.
  const std::vector<int>& module_of_node() const { return module_of_node_; }
  // Index of the module with exactly this tag, or -1.
  int Find(absl::string_view tag) const;

 private:
  int Add(absl::string_view tag);
  // Each node's tag as Build and FromNodeTags place it, then the subtree
  // counts.
  void AddNodes(size_t count,
                const std::function<absl::string_view(size_t)>& tag_of);

  std::vector<TreeModule> modules_;  // a parent before its children
  std::vector<int> roots_;
  std::vector<int> module_of_node_;
  absl::flat_hash_map<std::string, int> index_;
};

// The tag one level up ("/A/B" -> "/A"); nullopt for a root ("/A").
std::optional<absl::string_view> ParentTag(absl::string_view tag);

}  // namespace hp

#endif  // HP_VIEW_MODULE_TREE_H_
