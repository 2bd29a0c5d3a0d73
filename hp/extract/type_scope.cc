#include "hp/extract/type_scope.h"

#include "absl/strings/str_cat.h"

namespace hp {

using onnx::TensorProto;
using onnx::TypeProto;

std::string NodeFacts::Describe() const {
  return absl::StrCat(graph, graph.empty() ? "" : " ", "node ", index, " ('",
                      name, "', ", op_type, ")");
}

TypeProto ElementType(int32_t elem_type) {
  TypeProto type;
  type.mutable_tensor_type()->set_elem_type(elem_type);
  return type;
}

TypeProto WithDims(int32_t elem_type,
                   const google::protobuf::RepeatedField<int64_t>& dims) {
  TypeProto type = ElementType(elem_type);
  auto* shape = type.mutable_tensor_type()->mutable_shape();
  for (int64_t dim : dims) shape->add_dim()->set_dim_value(dim);
  return type;
}

TypeProto RankOnly(const TypeProto& type, int extra) {
  TypeProto kept = ElementType(ElemOf(type));
  if (!type.tensor_type().has_shape()) return kept;
  auto* shape = kept.mutable_tensor_type()->mutable_shape();
  for (int k = 0; k < type.tensor_type().shape().dim_size() + extra; ++k) {
    shape->add_dim();
  }
  return kept;
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node,
                                          absl::string_view name) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

int32_t IntAttribute(const onnx::NodeProto& node, absl::string_view name,
                     int32_t otherwise) {
  const onnx::AttributeProto* attribute = FindAttribute(node, name);
  return attribute == nullptr ? otherwise
                              : static_cast<int32_t>(attribute->i());
}

}  // namespace hp
