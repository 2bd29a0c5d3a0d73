#include "hp/view/graphml.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "hp/model/data_edges.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/status_macros.h"
#include "hp/view/text_escape.h"

namespace hp {
namespace {

struct Key {
  const char* id;
  const char* for_element;
  const char* type;
};

// GraphML data keys; the id doubles as the attribute name networkx reports.
constexpr Key kKeys[] = {
    {"kind", "node", "string"},         // "module" or "op"
    {"label", "node", "string"},        // component, or op type
    {"tag", "node", "string"},          // module: its tag; op: the node's tag
    {"class", "node", "string"},        // module only
    {"module_path", "node", "string"},  // dotted path, when known
    {"subtree_nodes", "node", "int"},   // module only
    {"op_type", "node", "string"},      // op only
    {"name", "node", "string"},         // op only: the ONNX node name
    {"graph", "node", "string"},        // op only: "main" or a subgraph path
    {"match", "node", "string"},        // op only: direct, parent, ...
    {"tensor", "edge", "string"},
    {"elem_type", "edge", "string"},  // "" when the model declares none
    {"shape", "edge", "string"},      // "" when the model declares none
};

class GraphmlWriter {
 public:
  GraphmlWriter(const TagsToShow& shown, const ModuleTree& tree,
                const NodeList& nodes)
      : shown_(shown), tree_(tree), nodes_(nodes) {}

  std::string Write(const onnx::ModelProto& model) {
    absl::StrAppend(
        &out_,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\"\n"
        "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
        "    xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns "
        "http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n");
    for (const Key& key : kKeys) {
      absl::StrAppend(&out_, "  <key id=\"", key.id, "\" for=\"",
                      key.for_element, "\" attr.name=\"", key.id,
                      "\" attr.type=\"", key.type, "\"/>\n");
    }
    absl::StrAppend(&out_, "  <graph id=\"G\" edgedefault=\"directed\">\n");
    for (int root : tree_.roots()) {
      if (tree_.modules()[root].subtree_nodes > 0) WriteModule(root, 2);
    }
    for (size_t i = 0; i < shown_.nodes.size(); ++i) {
      if (tree_.module_of_node()[i] < 0) WriteOp(static_cast<int>(i), 2);
    }
    // Edges at the top: GraphML lets an edge join nodes of nested graphs
    // when it is declared in a graph enclosing both.
    const auto types = DeclaredTensorTypes(model, nodes_);
    const std::vector<DataEdge> edges = CollectDataEdges(nodes_);
    for (size_t i = 0; i < edges.size(); ++i) {
      const DataEdge& edge = edges[i];
      TensorType type;
      if (auto it = types.find(edge.tensor); it != types.end())
        type = it->second;
      absl::StrAppend(&out_, "    <edge id=\"e", i, "\" source=\"n", edge.from,
                      "\" target=\"n", edge.to, "\">");
      Data("tensor", edge.tensor);
      Data("elem_type", type.elem_type);
      Data("shape", type.shape);
      absl::StrAppend(&out_, "</edge>\n");
    }
    absl::StrAppend(&out_, "  </graph>\n</graphml>\n");
    return std::move(out_);
  }

 private:
  void Indent(int depth) { out_.append(2 * depth, ' '); }

  void Data(const char* key, absl::string_view value) {
    absl::StrAppend(&out_, "<data key=\"", key, "\">", XmlEscape(value),
                    "</data>");
  }

  void WriteModule(int index, int depth) {
    const TreeModule& module = tree_.modules()[index];
    Indent(depth);
    absl::StrAppend(&out_, "<node id=\"m", index,
                    "\" yfiles.foldertype=\"group\">");
    Data("kind", "module");
    Data("label", module.component);
    Data("tag", module.tag);
    Data("class", module.class_name);
    if (module.path.has_value()) Data("module_path", *module.path);
    Data("subtree_nodes", absl::StrCat(module.subtree_nodes));
    out_ += "\n";
    Indent(depth + 1);
    absl::StrAppend(&out_, "<graph id=\"m", index,
                    ":\" edgedefault=\"directed\">\n");
    for (int child : module.children) {
      if (tree_.modules()[child].subtree_nodes > 0)
        WriteModule(child, depth + 2);
    }
    for (int node : module.nodes) WriteOp(node, depth + 2);
    Indent(depth + 1);
    out_ += "</graph>\n";
    Indent(depth);
    out_ += "</node>\n";
  }

  void WriteOp(int index, int depth) {
    const ShownNode& shown = shown_.nodes[index];
    Indent(depth);
    absl::StrAppend(&out_, "<node id=\"n", index, "\">");
    Data("kind", "op");
    Data("label", shown.op_type);
    Data("op_type", shown.op_type);
    Data("name", shown.node_name);
    Data("graph", shown.graph_path);
    Data("tag", shown.tag);
    Data("module_path", shown.module_path);
    Data("match", shown.match_known ? MatchKindName(shown.match) : "unknown");
    out_ += "</node>\n";
  }

  const TagsToShow& shown_;
  const ModuleTree& tree_;
  const NodeList& nodes_;
  std::string out_;
};

}  // namespace

absl::StatusOr<std::string> GraphmlText(const onnx::ModelProto& model,
                                        const NodeList& nodes,
                                        const TagsToShow& shown,
                                        const ModuleTree& tree) {
  HP_RETURN_IF_ERROR(CheckSameNodes(nodes, shown));
  return GraphmlWriter(shown, tree, nodes).Write(model);
}

}  // namespace hp
