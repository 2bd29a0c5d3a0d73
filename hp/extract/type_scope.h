// What the type rules of extract share: the names a graph sees (its own
// and, for a subgraph body, the outer graphs'), one node as the rules read
// it, and small onnx::TypeProto helpers. Internal to hp/extract.
#ifndef HP_EXTRACT_TYPE_SCOPE_H_
#define HP_EXTRACT_TYPE_SCOPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hp/extract/boundary_types.h"
#include "proto/onnx.pb.h"

namespace hp {

// One node, in the abstract: what the rules read of it. Views into the
// node's record or message.
struct NodeFacts {
  absl::string_view name;
  absl::string_view op_type;
  absl::string_view domain;
  std::vector<absl::string_view> inputs;
  std::vector<absl::string_view> outputs;
  // Where the node is: its index in `graph`, a body's or function's
  // description ("" for the main graph).
  absl::string_view graph;
  size_t index = 0;

  // "node 17 ('/a/Add', Add)", "<graph> node 3 ('/b', Relu)": made only
  // for a message, which few of a million nodes need.
  std::string Describe() const;
};

// Names visible from a graph: its own and, through `parent`, those of the
// graphs around it (subgraph bodies see outer tensors).
class Scope {
 public:
  explicit Scope(InferredTypes* own, const Scope* parent = nullptr)
      : own_(own), parent_(parent) {}

  const onnx::TypeProto* Find(absl::string_view name) const {
    for (const Scope* scope = this; scope != nullptr; scope = scope->parent_) {
      const auto found = scope->own_->types.find(name);
      if (found != scope->own_->types.end()) return &found->second;
    }
    return nullptr;
  }
  // Why `name` has no type, or "" when nothing recorded it.
  std::string WhyUnknown(absl::string_view name) const {
    for (const Scope* scope = this; scope != nullptr; scope = scope->parent_) {
      const auto found = scope->own_->unknown.find(name);
      if (found != scope->own_->unknown.end()) return found->second;
    }
    return "";
  }
  void Set(absl::string_view name, onnx::TypeProto type) {
    if (name.empty()) return;
    if (!own_->unknown.empty()) own_->unknown.erase(name);
    own_->types[name] = std::move(type);
  }
  void SetUnknown(absl::string_view name, const std::string& why) {
    if (name.empty() || own_->types.contains(name)) return;
    own_->unknown.emplace(std::string(name), why);
  }

 private:
  InferredTypes* own_;
  const Scope* parent_;
};

// A tensor type of one element type, without or with a shape of `dims`.
onnx::TypeProto ElementType(int32_t elem_type);
onnx::TypeProto WithDims(int32_t elem_type,
                         const google::protobuf::RepeatedField<int64_t>& dims);
inline int32_t ElemOf(const onnx::TypeProto& type) {
  return type.tensor_type().elem_type();
}
// The type with its rank kept (plus `extra` leading dims) and every dim
// unknown; no shape when the rank is not known.
onnx::TypeProto RankOnly(const onnx::TypeProto& type, int extra);

// A node's attribute by name, or null; an INT attribute's value, or
// `otherwise`.
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node,
                                          absl::string_view name);
int32_t IntAttribute(const onnx::NodeProto& node, absl::string_view name,
                     int32_t otherwise);

}  // namespace hp

#endif  // HP_EXTRACT_TYPE_SCOPE_H_
