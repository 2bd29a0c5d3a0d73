#include "hp/tag/propagation.h"

#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace hp {
namespace {

// The tag every node in `neighbours` agrees on, or nullopt when they are
// none, disagree, or include a node still waiting for its own tag.
std::optional<int> AgreedTag(const std::vector<int>& neighbours,
                             const std::vector<bool>& pending,
                             const std::vector<int>& tags) {
  std::optional<int> agreed;
  for (int neighbour : neighbours) {
    if (pending[neighbour]) return std::nullopt;
    if (agreed.has_value() && *agreed != tags[neighbour]) return std::nullopt;
    agreed = tags[neighbour];
  }
  return agreed;
}

}  // namespace

std::vector<bool> PropagateTags(const NodeList& nodes,
                                const std::vector<bool>& movable,
                                std::vector<int>* tags) {
  const int count = static_cast<int>(nodes.size());
  // Value names are scoped by graph: key them by graph path too. The keys
  // view strings of `nodes` and the model.
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, int>
      producer;
  int at = 0;  // the node's index
  for (const NodeRef& node : nodes) {
    for (absl::string_view output : node.outputs) {
      if (!output.empty()) producer[{node.graph_path, output}] = at;
    }
    ++at;
  }
  std::vector<std::vector<int>> consumers_of(count), producers_of(count);
  at = 0;
  for (const NodeRef& node : nodes) {
    for (absl::string_view input : node.inputs) {
      auto it = producer.find({node.graph_path, input});
      if (it == producer.end()) continue;
      consumers_of[it->second].push_back(at);
      producers_of[at].push_back(it->second);
    }
    ++at;
  }

  std::vector<bool> pending = movable;
  std::vector<bool> moved(count, false);
  // Consumers come later in graph order: walk backwards so chains of
  // scope-less nodes (Constant -> Shape -> Gather -> ...) resolve in one go.
  for (int i = count - 1; i >= 0; --i) {
    if (!pending[i]) continue;
    if (std::optional<int> tag = AgreedTag(consumers_of[i], pending, *tags)) {
      (*tags)[i] = *tag;
      pending[i] = false;
      moved[i] = true;
    }
  }
  for (int i = 0; i < count; ++i) {
    if (!pending[i]) continue;
    if (std::optional<int> tag = AgreedTag(producers_of[i], pending, *tags)) {
      (*tags)[i] = *tag;
      pending[i] = false;
      moved[i] = true;
    }
  }
  return moved;
}

}  // namespace hp
