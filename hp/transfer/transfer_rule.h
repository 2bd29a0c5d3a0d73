// The transfer rule: the nodes of a tagged model and their tags, and the
// nodes of a model derived from it (optimized, fused, converted) in; per
// derived node, its tag, its module path and how it was matched out (a
// MatchKind of kTransferMatchKinds, hp/tag/tag_codec.h).
// Data flow decides (tensor names); a node name is only a hint where data
// flow leaves a choice. docs/transfer.md states the rule.
#ifndef HP_TRANSFER_TRANSFER_RULE_H_
#define HP_TRANSFER_TRANSFER_RULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "hp/io/node_list.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_types.h"
#include "hp/util/string_arena.h"

namespace hp {

// A model's value names outside its nodes (main graph).
struct GraphValueNames {
  std::vector<std::string> inputs;  // graph inputs, initializers left out
  std::vector<std::string> outputs;
  std::vector<std::string> initializers;  // dense and sparse
};

// The tagged model: its nodes (CollectNodes order) with each one's tag and
// module path as hp wrote them, as views that must outlive the result.
struct TaggedNodes {
  const NodeList* nodes = nullptr;
  std::vector<absl::string_view> tags;
  std::vector<absl::string_view> module_paths;
  GraphValueNames values;
};

struct TransferStatistics {
  int64_t nodes = 0;
  MatchKindCounts counts{};  // kTransferMatchKinds only

  int64_t Count(MatchKind kind) const {
    return counts[static_cast<size_t>(kind)];
  }
};

struct TransferResult {
  // Per derived node, in its list's order.
  std::vector<MatchKind> kinds;  // kTransferMatchKinds only
  std::vector<int> placement;    // index into tags / module_paths
  // Distinct placements (tag, module path); 0 is the root. Views into
  // placement_strings, which the result owns: they stay valid when the
  // tagged model is gone.
  std::vector<absl::string_view> tags;
  std::vector<absl::string_view> module_paths;
  StringArena placement_strings;
  TransferStatistics statistics;
  // The original nodes each derived node was matched with, as offsets
  // into source_nodes (per node, and one past the last).
  std::vector<int> source_offsets;
  std::vector<int> source_nodes;

  absl::string_view TagOf(size_t node) const { return tags[placement[node]]; }
  absl::string_view ModulePathOf(size_t node) const {
    return module_paths[placement[node]];
  }
  // The kept original node, or those a replacing node replaced (indices
  // into TaggedNodes::nodes, in graph order); empty for inserted and
  // unplaced nodes.
  absl::Span<const int> Sources(size_t node) const {
    return absl::MakeConstSpan(source_nodes)
        .subspan(source_offsets[node],
                 source_offsets[node + 1] - source_offsets[node]);
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
