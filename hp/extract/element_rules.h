// The element types of an op's outputs, by op, from the op schemas of the
// default domain (onnx/defs, as of opset 17): which rule an op follows and
// whether it reads attributes. Internal to hp/extract (boundary_types
// applies the rules).
#ifndef HP_EXTRACT_ELEMENT_RULES_H_
#define HP_EXTRACT_ELEMENT_RULES_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "proto/onnx.pb.h"

namespace hp {

// How an op's outputs get their types. Element types from the op schemas
// of the default domain (onnx/defs), as of opset 17.
enum class Rule {
  kKeepInput0,       // every output: input 0's element type and shape
  kLikeInput0,       // every output: input 0's element type
  kFirstLikeInput0,  // output 0 like input 0; others by kSecondary below
  kInt64,            // every output int64
  kBool,             // every output bool
  kLikeInput1,       // Where: the branches' type
  kCast,             // attribute `to`, input 0's shape
  kCastLike,         // input 1's type, input 0's shape
  kConstant,         // the attribute's tensor or value
  kConstantOfShape,  // `value`'s type, float without one
  kDtype,            // attribute `dtype`, float without one (RandomNormal)
  kDtypeOrInput0,    // attribute `dtype`, else input 0's (EyeLike, *Like)
  kMultinomial,      // attribute `dtype`, int32 without one
  kIf,
  kLoop,
  kScan,
};

// Secondary outputs of kFirstLikeInput0 ops, given input 0's type.
int32_t SecondaryType(absl::string_view op, int input0);
// The rule of a default-domain op; nullopt when hp has none.
std::optional<Rule> RuleOf(absl::string_view op);
// Whether the rule reads the node's attributes (or bodies).
bool NeedsMessage(Rule rule);
// A Constant node's output type, from whichever value attribute it has.
std::optional<onnx::TypeProto> ConstantType(const onnx::NodeProto& node);

}  // namespace hp

#endif  // HP_EXTRACT_ELEMENT_RULES_H_
