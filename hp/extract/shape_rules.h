// The output shapes of a node where the rank (and perhaps dims) follows
// cheaply from its inputs' and its attributes, from the op schemas of the
// default domain: a graph input or output of a model cut out of another
// needs at least its rank (onnx's checker asks for a shape there).
// Internal to hp/extract (boundary_types runs it after each node's element
// types).
#ifndef HP_EXTRACT_SHAPE_RULES_H_
#define HP_EXTRACT_SHAPE_RULES_H_

#include "absl/strings/string_view.h"
#include "hp/extract/type_scope.h"
#include "proto/onnx.pb.h"

namespace hp {

// Ops whose output rank depends on attributes (keepdims, axes): their
// records are parsed for it.
bool ShapeNeedsMessage(absl::string_view op);

// Sets the shapes of the node's outputs that have a type and no shape yet,
// where a rule gives them; `message` may be null (then rules that read
// attributes give nothing).
void InferShapes(const NodeFacts& node, const onnx::NodeProto* message,
                 Scope* scope);

}  // namespace hp

#endif  // HP_EXTRACT_SHAPE_RULES_H_
