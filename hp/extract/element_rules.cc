#include "hp/extract/element_rules.h"

#include "absl/container/flat_hash_map.h"
#include "hp/extract/type_scope.h"

namespace hp {

using onnx::TensorProto;
using onnx::TypeProto;

// The ops whose output's element type follows one rule, by rule (RuleOf).
// Packed by hand: clang-format would give each op a line of its own.
// clang-format off
constexpr absl::string_view kKeepInput0Ops[] = {
    "Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Neg", "Abs", "Exp", "Log",
    "Softmax", "LogSoftmax", "Hardmax", "Identity", "Gelu", "LeakyRelu", "Elu",
    "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Floor",
    "Ceil", "Round", "Reciprocal", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "InstanceNormalization",
    "CumSum", "Clip", "Shrink", "ThresholdedRelu", "Mish", "LpNormalization",
    "MeanVarianceNormalization", "BitwiseNot"};
// OneHot's output takes `values`' type (input 2): BoundaryTypes reads
// that input in its place.
constexpr absl::string_view kLikeInput0Ops[] = {
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "MatMul", "Gemm", "Conv",
    "ConvTranspose", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "LpPool", "GlobalLpPool", "Transpose", "Reshape", "Flatten", "Squeeze",
    "Unsqueeze", "Concat", "Slice", "Gather", "GatherElements", "GatherND",
    "Expand", "Tile", "Split", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
    "ReduceLogSum", "ReduceLogSumExp", "Pad", "Resize", "Upsample", "Max",
    "Min", "Sum", "Mean", "Einsum", "Trilu", "ScatterND", "ScatterElements",
    "Scatter", "Range", "DepthToSpace", "SpaceToDepth", "PRelu", "Compress",
    "ReverseSequence", "RoiAlign", "GridSample", "Col2Im", "CenterCropPad",
    "LRN", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "OneHot",
    "SequenceAt", "Det", "MaxRoiPool", "MaxUnpool"};
constexpr absl::string_view kFirstLikeInput0Ops[] = {
    "Dropout", "LayerNormalization", "BatchNormalization", "MaxPool", "TopK",
    "Unique"};
constexpr absl::string_view kInt64Ops[] = {
    "Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression"};
constexpr absl::string_view kBoolOps[] = {
    "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And",
    "Or", "Xor", "IsNaN", "IsInf"};
// clang-format on

int32_t SecondaryType(absl::string_view op, int input0) {
  if (op == "Dropout") return TensorProto::BOOL;
  if (op == "LayerNormalization") return TensorProto::FLOAT;  // stash_type
  if (op == "MaxPool" || op == "TopK" || op == "Unique") {
    return TensorProto::INT64;
  }
  return input0;  // BatchNormalization's running statistics
}

std::optional<Rule> RuleOf(absl::string_view op) {
  static const auto* const rules =
      new absl::flat_hash_map<absl::string_view, Rule>([] {
        absl::flat_hash_map<absl::string_view, Rule> table;
        for (absl::string_view op : kKeepInput0Ops)
          table[op] = Rule::kKeepInput0;
        for (absl::string_view op : kLikeInput0Ops)
          table[op] = Rule::kLikeInput0;
        for (absl::string_view op : kFirstLikeInput0Ops)
          table[op] = Rule::kFirstLikeInput0;
        for (absl::string_view op : kInt64Ops) table[op] = Rule::kInt64;
        for (absl::string_view op : kBoolOps) table[op] = Rule::kBool;
        table["Where"] = Rule::kLikeInput1;
        table["Cast"] = Rule::kCast;
        table["CastLike"] = Rule::kCastLike;
        table["Constant"] = Rule::kConstant;
        table["ConstantOfShape"] = Rule::kConstantOfShape;
        table["RandomNormal"] = Rule::kDtype;
        table["RandomUniform"] = Rule::kDtype;
        table["RandomNormalLike"] = Rule::kDtypeOrInput0;
        table["RandomUniformLike"] = Rule::kDtypeOrInput0;
        table["EyeLike"] = Rule::kDtypeOrInput0;
        table["Bernoulli"] = Rule::kDtypeOrInput0;
        table["Multinomial"] = Rule::kMultinomial;
        table["If"] = Rule::kIf;
        table["Loop"] = Rule::kLoop;
        table["Scan"] = Rule::kScan;
        return table;
      }());
  const auto found = rules->find(op);
  if (found == rules->end()) return std::nullopt;
  return found->second;
}

bool NeedsMessage(Rule rule) {
  switch (rule) {
    case Rule::kCast:
    case Rule::kConstant:
    case Rule::kConstantOfShape:
    case Rule::kDtype:
    case Rule::kDtypeOrInput0:
    case Rule::kMultinomial:
    case Rule::kIf:
    case Rule::kLoop:
    case Rule::kScan:
      return true;
    default:
      return false;
  }
}

std::optional<TypeProto> ConstantType(const onnx::NodeProto& node) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    const std::string& name = attribute.name();
    if (name == "value") {
      return WithDims(attribute.t().data_type(), attribute.t().dims());
    }
    if (name == "sparse_value") {
      return WithDims(attribute.sparse_tensor().values().data_type(),
                      attribute.sparse_tensor().dims());
    }
    google::protobuf::RepeatedField<int64_t> scalar;
    google::protobuf::RepeatedField<int64_t> vector;
    if (name == "value_float") return WithDims(TensorProto::FLOAT, scalar);
    if (name == "value_int") return WithDims(TensorProto::INT64, scalar);
    if (name == "value_string") return WithDims(TensorProto::STRING, scalar);
    if (name == "value_floats") {
      vector.Add(attribute.floats_size());
      return WithDims(TensorProto::FLOAT, vector);
    }
    if (name == "value_ints") {
      vector.Add(attribute.ints_size());
      return WithDims(TensorProto::INT64, vector);
    }
    if (name == "value_strings") {
      vector.Add(attribute.strings_size());
      return WithDims(TensorProto::STRING, vector);
    }
  }
  return std::nullopt;
}

}  // namespace hp
