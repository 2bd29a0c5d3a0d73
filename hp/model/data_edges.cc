#include "hp/model/data_edges.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hp {
namespace {

std::string ValueKey(absl::string_view graph_path, absl::string_view name) {
  return absl::StrCat(graph_path, "\n", name);
}

void AddDeclared(const onnx::GraphProto& graph,
                 absl::flat_hash_map<std::string, TensorType>* types) {
  for (const auto* values :
       {&graph.input(), &graph.output(), &graph.value_info()}) {
    for (const onnx::ValueInfoProto& value : *values) {
      if (value.has_type())
        types->emplace(value.name(), TensorTypeOf(value.type()));
    }
  }
}

}  // namespace

std::vector<DataEdge> CollectDataEdges(const NodeList& nodes) {
  // Producers by (graph, value): ONNX scopes names per graph, and a subgraph
  // sees the values of the graphs enclosing it.
  absl::flat_hash_map<std::string, int> producer;
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    for (absl::string_view output : nodes[i].outputs) {
      if (!output.empty()) {
        producer.emplace(ValueKey(nodes[i].graph_path, output), i);
      }
    }
  }
  std::vector<DataEdge> edges;
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    for (absl::string_view input : nodes[i].inputs) {
      if (input.empty()) continue;  // an omitted optional input
      for (int scope = i; scope >= 0; scope = nodes[scope].owner) {
        auto it = producer.find(ValueKey(nodes[scope].graph_path, input));
        if (it != producer.end()) {
          edges.push_back({it->second, i, std::string(input)});
          break;
        }
      }
    }
  }
  return edges;
}

TensorType TensorTypeOf(const onnx::TypeProto& type) {
  TensorType result;
  const onnx::TypeProto::Tensor* tensor = nullptr;
  if (type.has_tensor_type()) tensor = &type.tensor_type();
  if (tensor == nullptr) return result;
  if (tensor->elem_type() != onnx::TensorProto::UNDEFINED) {
    result.elem_type = onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(tensor->elem_type()));
    if (result.elem_type.empty()) {
      result.elem_type = absl::StrCat("type ", tensor->elem_type());
    }
  }
  if (tensor->has_shape()) {
    std::vector<std::string> dims;
    for (const onnx::TensorShapeProto::Dimension& dim : tensor->shape().dim()) {
      if (dim.has_dim_value()) {
        dims.push_back(absl::StrCat(dim.dim_value()));
      } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
        dims.push_back(dim.dim_param());
      } else {
        dims.push_back("?");
      }
    }
    result.shape = absl::StrCat("[", absl::StrJoin(dims, ","), "]");
  }
  return result;
}

absl::flat_hash_map<std::string, TensorType> DeclaredTensorTypes(
    const onnx::ModelProto& model, const NodeList& nodes) {
  absl::flat_hash_map<std::string, TensorType> types;
  AddDeclared(model.graph(), &types);
  // Subgraphs hang off node attributes; CollectNodes has found their owners.
  for (const NodeRef& node : nodes) {
    if (!node.owns_subgraphs) continue;
    for (const onnx::AttributeProto& attribute : node.node->attribute()) {
      if (attribute.has_g()) AddDeclared(attribute.g(), &types);
      for (const onnx::GraphProto& graph : attribute.graphs()) {
        AddDeclared(graph, &types);
      }
    }
  }
  return types;
}

}  // namespace hp
