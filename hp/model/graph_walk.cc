#include "hp/model/graph_walk.h"

namespace hp {
namespace {

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

NodeList CollectNodes(const onnx::ModelProto& model) {
  NodeListBuilder nodes;
  nodes.AddGraph(model.graph(), "main", -1);
  return nodes.Finish();
}

std::vector<onnx::NodeProto*> MutableNodes(onnx::ModelProto* model) {
  std::vector<onnx::NodeProto*> nodes;
  nodes.reserve(model->graph().node_size());  // subgraph bodies may add more
  CollectMutable(model->mutable_graph(), &nodes);
  return nodes;
}

}  // namespace hp
