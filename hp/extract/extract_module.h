// What a module instance is as a model of its own: its nodes (the subtree
// of its tag, main graph), the tensors crossing its border, and the
// initializers it reads. Graph inputs: tensors the nodes consume (subgraph
// bodies included) that none of them produces and that are no initializer;
// graph outputs: tensors they produce that a node outside consumes or that
// are outputs of the model. docs/extract.md has the rule.
#ifndef HP_EXTRACT_EXTRACT_MODULE_H_
#define HP_EXTRACT_EXTRACT_MODULE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"
#include "hp/view/module_tree.h"
#include "hp/view/stored_tags.h"
#include "proto/onnx.pb.h"

namespace hp {

// The module instance with tag `tag`, or whose dotted module path is
// `module_path` (one of the two is set); NotFound naming `source` and the
// nearest tags or paths when there is none.
absl::StatusOr<int> FindModule(const ModuleTree& tree, const StoredTags& stored,
                               absl::string_view tag,
                               absl::string_view module_path,
                               absl::string_view source);

// Per entry of `nodes`: a main-graph node whose tag is `module`'s or one
// of its descendants' (subgraph bodies go with their owner; false for
// them).
std::vector<bool> NodesInSubtree(const ModuleTree& tree, int module,
                                 const NodeList& nodes);

// A cut of the main graph.
struct ModuleCut {
  // Main-graph positions of the nodes kept, in graph order (count only
  // main-graph nodes), and their indices in the NodeList.
  std::vector<size_t> positions;
  std::vector<size_t> list_nodes;
  // Graph inputs: the model's own inputs first (in its order), then the
  // others in the order the nodes first read them.
  std::vector<std::string> inputs;
  // Graph outputs: the model's own outputs first, then in the order the
  // nodes produce them.
  std::vector<std::string> outputs;
  // Positions in graph.initializer() / sparse_initializer() read inside.
  std::vector<size_t> initializers;
  std::vector<size_t> sparse_initializers;
  // Tensors produced inside, read only inside (value_info worth keeping).
  std::vector<std::string> internal;
  // (domain, op_type) of every node kept, subgraph bodies included.
  std::vector<std::pair<std::string, std::string>> ops;
};

// Cuts the nodes marked in `inside` (per entry of `nodes`, main-graph
// entries only) out of a graph whose inputs, outputs and initializer
// headers `graph` gives. Subgraph bodies of kept nodes are read from their
// messages: a tensor of the outer graph they use is read by their owner.
ModuleCut CutModule(const onnx::GraphProto& graph, const NodeList& nodes,
                    const std::vector<bool>& inside);

// `count` cuts at once, each as CutModule would cut it, in one pass over
// the graph: `cut_of[i]` (per entry of `nodes`, main-graph entries only)
// is the cut that keeps node i, -1 for none. For every module at a depth,
// where a cut each would walk the whole graph once per module.
std::vector<ModuleCut> CutModules(const onnx::GraphProto& graph,
                                  const NodeList& nodes,
                                  const std::vector<int>& cut_of, size_t count);

}  // namespace hp

#endif  // HP_EXTRACT_EXTRACT_MODULE_H_
