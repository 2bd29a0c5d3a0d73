// ComputeTags for the views (hp/view): every node's tag kept as indices
// into the result's modules, not as the five strings per node of a
// NodeTag (a million nodes' strings are the costliest part of a result).
// The views read names and op types from the nodes themselves. Internal;
// users call ComputeTags (hp/tag/tagger.h).
#ifndef HP_TAG_COMPUTED_TAGS_H_
#define HP_TAG_COMPUTED_TAGS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/scope_trace.h"

namespace hp {

struct ComputedTags {
  // Everything of a TagResult but its nodes (`summary.nodes` is empty).
  TagResult summary;
  // Per node, in the order of the nodes tagged: the module that ran it and
  // the module whose tag it carries, as indices into summary.modules.
  std::vector<int> module;
  std::vector<int> tag;
  std::vector<uint8_t> matches;  // per node: its MatchKind, in a byte

  size_t size() const { return module.size(); }
  absl::string_view TagOf(size_t node) const {
    return summary.modules[tag[node]].tag;
  }
  absl::string_view ModulePathOf(size_t node) const {
    return summary.modules[module[node]].path;
  }
  MatchKind MatchKindOf(size_t node) const {
    return static_cast<MatchKind>(matches[node]);
  }
};

// ComputeTags on nodes read elsewhere, as ComputedTags.
absl::StatusOr<ComputedTags> ComputeNodeTags(const NodeList& nodes,
                                             const ScopeTrace* trace,
                                             const TagOptions& options);

}  // namespace hp

#endif  // HP_TAG_COMPUTED_TAGS_H_
