// The transfer rule: the nodes of a tagged model and their tags, and the
// nodes of a model derived from it (optimized, fused, converted) in; per
// derived node, its tag, its module path and how it was matched out.
// Data flow decides (tensor names); a node name is only a hint where data
// flow leaves a choice. docs/transfer.md states the rule.
#ifndef HP_TRANSFER_TRANSFER_RULE_H_
#define HP_TRANSFER_TRANSFER_RULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"

namespace hp {

// The pkg.hp.source of a model whose tags were transferred.
inline constexpr char kTransferSource[] = "transfer";

// How a derived node found its tag, in order of precedence.
enum class TransferKind {
  kKept,       // same op, domain, inputs and outputs as one original node
  kReplacing,  // produces (or, by name, stands for) tensors of original nodes
               // that are gone: their deepest common module
  kInserted,   // new tensors only: the tag its neighbours agree on
  kUnplaced,   // nothing fits: the root tag
};

inline constexpr TransferKind kTransferKinds[] = {
    TransferKind::kKept, TransferKind::kReplacing, TransferKind::kInserted,
    TransferKind::kUnplaced};

// "kept", "replacing", "inserted", "unplaced".
absl::string_view TransferKindName(TransferKind kind);

// A model's value names outside its nodes (main graph).
struct GraphValueNames {
  std::vector<std::string> inputs;        // graph inputs, initializers left out
  std::vector<std::string> outputs;
  std::vector<std::string> initializers;  // dense and sparse
};

// The tagged model: its nodes (CollectNodes order) with each one's tag and
// module path as hp wrote them.
struct TaggedNodes {
  const NodeList* nodes = nullptr;
  std::vector<std::string> tags;
  std::vector<std::string> module_paths;
  GraphValueNames values;
};

struct TransferStatistics {
  int64_t nodes = 0;
  int64_t kept = 0;
  int64_t replacing = 0;
  int64_t inserted = 0;
  int64_t unplaced = 0;
};

struct TransferResult {
  // Per derived node, in its list's order.
  std::vector<TransferKind> kinds;
  std::vector<int> placement;  // index into tags / module_paths
  // The original nodes each derived node was matched with: the kept one,
  // or those it replaced (indices into TaggedNodes::nodes); empty for
  // inserted and unplaced nodes.
  std::vector<std::vector<int>> sources;
  // Distinct placements (tag, module path); 0 is the root.
  std::vector<std::string> tags;
  std::vector<std::string> module_paths;
  TransferStatistics statistics;

  absl::string_view TagOf(size_t node) const { return tags[placement[node]]; }
  absl::string_view ModulePathOf(size_t node) const {
    return module_paths[placement[node]];
  }
};

// Applies the rule to every node of `derived`. `from.tags` must not be
// empty (a tagged model with at least one node).
TransferResult TransferTags(const TaggedNodes& from, const NodeList& derived,
                            const GraphValueNames& derived_values);

// The longest common prefix of `a` and `b` by whole segments split at
// `separator` ('/' for tags, '.' for module paths): a deepest common module.
absl::string_view CommonSegments(absl::string_view a, absl::string_view b,
                                 char separator);

}  // namespace hp

#endif  // HP_TRANSFER_TRANSFER_RULE_H_
