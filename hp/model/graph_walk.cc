#include "hp/model/graph_walk.h"

#include "absl/strings/str_cat.h"

namespace hp {
namespace {

void CollectGraph(const onnx::GraphProto& graph, const std::string& graph_path,
                  int owner, std::vector<NodeRef>* nodes) {
  for (const onnx::NodeProto& node : graph.node()) {
    const int index = static_cast<int>(nodes->size());
    nodes->push_back({&node, graph_path, owner});
    for (const onnx::AttributeProto& attribute : node.attribute()) {
      if (!attribute.has_g() && attribute.graphs_size() == 0) continue;
      const std::string prefix =
          absl::StrCat(graph_path, "/", node.name(), "/", attribute.name());
      if (attribute.has_g()) CollectGraph(attribute.g(), prefix, index, nodes);
      for (int i = 0; i < attribute.graphs_size(); ++i) {
        CollectGraph(attribute.graphs(i), absl::StrCat(prefix, "[", i, "]"),
                     index, nodes);
      }
    }
  }
}

void CollectMutable(onnx::GraphProto* graph,
                    std::vector<onnx::NodeProto*>* nodes) {
  for (onnx::NodeProto& node : *graph->mutable_node()) {
    nodes->push_back(&node);
    for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
      if (attribute.has_g()) CollectMutable(attribute.mutable_g(), nodes);
      for (onnx::GraphProto& body : *attribute.mutable_graphs()) {
        CollectMutable(&body, nodes);
      }
    }
  }
}

}  // namespace

bool OwnsSubgraphs(const onnx::NodeProto& node) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.has_g() || attribute.graphs_size() > 0) return true;
  }
  return false;
}

std::vector<NodeRef> CollectNodes(const onnx::ModelProto& model) {
  std::vector<NodeRef> nodes;
  nodes.reserve(model.graph().node_size());  // subgraph bodies may add more
  CollectGraph(model.graph(), "main", -1, &nodes);
  return nodes;
}

std::vector<onnx::NodeProto*> MutableNodes(onnx::ModelProto* model) {
  std::vector<onnx::NodeProto*> nodes;
  nodes.reserve(model->graph().node_size());  // subgraph bodies may add more
  CollectMutable(model->mutable_graph(), &nodes);
  return nodes;
}

}  // namespace hp
