// Propagation: nodes without a module scope (constants, shape arithmetic)
// take the tag of the nodes that consume their outputs when all of those
// agree, else of the nodes producing their inputs when those agree.
#ifndef HP_TAG_PROPAGATION_H_
#define HP_TAG_PROPAGATION_H_

#include <vector>

#include "hp/model/graph_walk.h"

namespace hp {

// `tags` is parallel to `nodes`, one id per tag (equal ids, equal tags);
// `movable[i]` marks the nodes that may take a neighbour's tag. Returns which
// nodes got a new tag. Consumers and producers are looked up within each
// node's own graph.
std::vector<bool> PropagateTags(const NodeList& nodes,
                                const std::vector<bool>& movable,
                                std::vector<int>* tags);

}  // namespace hp

#endif  // HP_TAG_PROPAGATION_H_
