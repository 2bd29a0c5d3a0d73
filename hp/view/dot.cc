#include "hp/view/dot.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hp/model/data_edges.h"
#include "hp/model/graph_walk.h"
#include "hp/util/status_macros.h"
#include "hp/view/text_escape.h"

namespace hp {
namespace {

class DotWriter {
 public:
  DotWriter(const TagsToShow& shown, const ModuleTree& tree)
      : shown_(shown), tree_(tree) {}

  std::string Write(const NodeList& nodes) {
    out_ =
        "digraph model {\n"
        "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11];\n"
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\", "
        "fontname=\"Helvetica\", fontsize=10];\n"
        "  edge [fontname=\"Helvetica\", fontsize=8];\n";
    for (int root : tree_.roots()) {
      if (tree_.modules()[root].subtree_nodes > 0) WriteCluster(root, 1);
    }
    for (size_t i = 0; i < shown_.nodes.size(); ++i) {
      if (tree_.module_of_node()[i] < 0) WriteOp(static_cast<int>(i), 1);
    }
    // Every node is declared in its cluster above; edges at the top level
    // then cannot pull a node into another cluster.
    for (const DataEdge& edge : CollectDataEdges(nodes)) {
      absl::StrAppend(&out_, "  n", edge.from, " -> n", edge.to, " [tooltip=\"",
                      DotEscape(edge.tensor), "\"];\n");
    }
    out_ += "}\n";
    return std::move(out_);
  }

 private:
  void Indent(int depth) { out_.append(2 * depth, ' '); }

  void WriteCluster(int index, int depth) {
    const TreeModule& module = tree_.modules()[index];
    Indent(depth);
    absl::StrAppend(&out_, "subgraph cluster_", index, " {\n");
    Indent(depth + 1);
    absl::StrAppend(&out_, "label=\"", DotEscape(module.component),
                    "\"; tooltip=\"", DotEscape(module.tag),
                    "\"; style=rounded; color=\"#7f7f7f\";\n");
    for (int child : module.children) {
      if (tree_.modules()[child].subtree_nodes > 0)
        WriteCluster(child, depth + 1);
    }
    for (int node : module.nodes) WriteOp(node, depth + 1);
    Indent(depth);
    out_ += "}\n";
  }

  void WriteOp(int index, int depth) {
    const ShownNode& node = shown_.nodes[index];
    Indent(depth);
    absl::StrAppend(&out_, "n", index, " [label=\"", DotEscape(node.op_type),
                    "\", tooltip=\"", DotEscape(node.node_name), "\"];\n");
  }

  const TagsToShow& shown_;
  const ModuleTree& tree_;
  std::string out_;
};

}  // namespace

absl::StatusOr<std::string> DotText(const onnx::ModelProto& model,
                                    const NodeList& nodes,
                                    const TagsToShow& shown,
                                    const ModuleTree& tree) {
  HP_RETURN_IF_ERROR(CheckSameNodes(nodes, shown));
  return DotWriter(shown, tree).Write(nodes);
}

}  // namespace hp
