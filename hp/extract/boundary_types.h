// The types of a graph's tensors, inferred from op schemas: torch.onnx
// writes no value_info, so a tensor inside the graph that becomes an input
// or output of a cut-out model has no declared type. Graph inputs and
// outputs, initializers and value_info entries give theirs; every node's
// outputs follow from its op (most keep their first input's element type;
// Shape gives int64, comparisons bool, Cast its `to`; If and Loop their
// bodies'; a model-local function its body's). The shape is kept where it
// is static and cheap: initializers, Constant, ops that keep their input's
// shape, Shape.
#ifndef HP_EXTRACT_BOUNDARY_TYPES_H_
#define HP_EXTRACT_BOUNDARY_TYPES_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "hp/io/node_list.h"
#include "proto/onnx.pb.h"

namespace hp {

// Tensor name -> its type (tensor_type: elem_type, and shape when known).
// A node map: the rules hold pointers to input types while they set output
// types, which must not move them.
using TensorTypes = absl::node_hash_map<std::string, onnx::TypeProto>;

struct InferredTypes {
  TensorTypes types;
  // The tensors whose type is not known, each with why ("node 17
  // ('/a/Foo', Foo in domain x): no type rule for this op"); a tensor
  // computed from one of them carries the same reason.
  absl::flat_hash_map<std::string, std::string> unknown;

  // The tensor's type, or InvalidArgument with the reason it is unknown.
  absl::StatusOr<onnx::TypeProto> TypeOf(const std::string& name) const;
};

// Node i's message, for the ops whose output types depend on attributes
// (Cast, Constant, ...); parsed on demand by the caller.
using NodeMessage =
    std::function<absl::StatusOr<const onnx::NodeProto*>(size_t node)>;

// The type of every tensor of the main graph: `graph` gives its inputs,
// outputs, value_info and initializer headers (data not needed), `nodes`
// the main graph's nodes in graph order (entries with owner >= 0 are
// skipped: subgraph bodies are read from their owner's message), and
// `functions` the model's local functions. A node whose output types
// cannot be inferred (an op hp has no rule for, an input of unknown type)
// is not an error here: its outputs are listed as unknown, naming `source`
// and the node, and only a caller that needs them fails. Errors: the
// callback's.
// With `wanted`, only those tensors (and the graph's outputs) are asked
// for: the nodes after the last one that makes a wanted tensor are not
// read, and the result holds the wanted tensors' types (or reasons) but
// not necessarily the others'. Without, every tensor's.
absl::StatusOr<InferredTypes> InferTensorTypes(
    const onnx::GraphProto& graph, const NodeList& nodes,
    const NodeMessage& message,
    const google::protobuf::RepeatedPtrField<onnx::FunctionProto>& functions,
    const std::string& source,
    const absl::flat_hash_set<std::string>* wanted = nullptr);

}  // namespace hp

#endif  // HP_EXTRACT_BOUNDARY_TYPES_H_
