#include "hp/extract/boundary_types.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

using onnx::TensorProto;
using onnx::TypeProto;

// How an op's outputs get their types. Element types from the op schemas
// of the default domain (onnx/defs), as of opset 17.
enum class Rule {
  kKeepInput0,        // every output: input 0's element type and shape
  kLikeInput0,        // every output: input 0's element type
  kFirstLikeInput0,   // output 0 like input 0; others by kSecondary below
  kInt64,             // every output int64
  kBool,              // every output bool
  kLikeInput1,        // Where: the branches' type
  kCast,              // attribute `to`, input 0's shape
  kCastLike,          // input 1's type, input 0's shape
  kConstant,          // the attribute's tensor or value
  kConstantOfShape,   // `value`'s type, float without one
  kDtype,             // attribute `dtype`, float without one (RandomNormal)
  kDtypeOrInput0,     // attribute `dtype`, else input 0's (EyeLike, *Like)
  kMultinomial,       // attribute `dtype`, int32 without one
  kIf,
  kLoop,
  kScan,
};

// Secondary outputs of kFirstLikeInput0 ops.
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
        for (absl::string_view op :
             {"Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Neg", "Abs", "Exp",
              "Log", "Softmax", "LogSoftmax", "Hardmax", "Identity", "Gelu",
              "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
              "Softplus", "Softsign", "Floor", "Ceil", "Round", "Reciprocal",
              "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
              "Cosh", "Asinh", "Acosh", "Atanh", "InstanceNormalization",
              "CumSum", "Clip", "Shrink", "ThresholdedRelu", "Mish",
              "LpNormalization", "MeanVarianceNormalization", "BitwiseNot"}) {
          table[op] = Rule::kKeepInput0;
        }
        for (absl::string_view op :
             {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "MatMul", "Gemm",
              "Conv", "ConvTranspose", "AveragePool", "GlobalAveragePool",
              "GlobalMaxPool", "LpPool", "GlobalLpPool", "Transpose",
              "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Slice",
              "Gather", "GatherElements", "GatherND", "Expand", "Tile",
              "Split", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
              "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
              "ReduceLogSum", "ReduceLogSumExp", "Pad", "Resize", "Upsample",
              "Max", "Min", "Sum", "Mean", "Einsum", "Trilu", "ScatterND",
              "ScatterElements", "Scatter", "Range", "DepthToSpace",
              "SpaceToDepth", "PRelu", "Compress", "ReverseSequence",
              "RoiAlign", "GridSample", "Col2Im", "CenterCropPad", "LRN",
              "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
              "OneHot", "SequenceAt", "Det", "MaxRoiPool", "MaxUnpool"}) {
          table[op] = Rule::kLikeInput0;
        }
        // OneHot's output takes `values`' type (input 2); handled below.
        for (absl::string_view op : {"Dropout", "LayerNormalization",
                                     "BatchNormalization", "MaxPool", "TopK",
                                     "Unique"}) {
          table[op] = Rule::kFirstLikeInput0;
        }
        for (absl::string_view op :
             {"Shape", "Size", "ArgMax", "ArgMin", "NonZero",
              "NonMaxSuppression"}) {
          table[op] = Rule::kInt64;
        }
        for (absl::string_view op :
             {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
              "Not", "And", "Or", "Xor", "IsNaN", "IsInf"}) {
          table[op] = Rule::kBool;
        }
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

int32_t ElemOf(const TypeProto& type) { return type.tensor_type().elem_type(); }

// Ops whose output rank depends on attributes (keepdims, axes).
bool ShapeNeedsMessage(absl::string_view op) {
  return absl::StartsWith(op, "Reduce") || op == "ArgMax" || op == "ArgMin" ||
         op == "Squeeze" || op == "Unsqueeze" || op == "Shape";
}

// The type with its rank kept (plus `extra` leading dims) and every dim
// unknown; no shape when the rank is not known.
TypeProto RankOnly(const TypeProto& type, int extra) {
  TypeProto kept = ElementType(ElemOf(type));
  if (!type.tensor_type().has_shape()) return kept;
  auto* shape = kept.mutable_tensor_type()->mutable_shape();
  for (int k = 0; k < type.tensor_type().shape().dim_size() + extra; ++k) {
    shape->add_dim();
  }
  return kept;
}

// A tensor's dims as far as known (-1: unknown), or nullopt without a rank.
using Dims = std::vector<int64_t>;
std::optional<Dims> DimsOf(const TypeProto* type) {
  if (type == nullptr || !type->tensor_type().has_shape()) return std::nullopt;
  Dims dims;
  for (const auto& dim : type->tensor_type().shape().dim()) {
    dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  }
  return dims;
}

Dims Unknown(int64_t rank) { return Dims(static_cast<size_t>(std::max<int64_t>(rank, 0)), -1); }

// Numpy-style broadcasting of known ranks; a dim where all are known.
std::optional<Dims> Broadcast(const std::vector<std::optional<Dims>>& all) {
  size_t rank = 0;
  for (const std::optional<Dims>& dims : all) {
    if (!dims.has_value()) return std::nullopt;
    rank = std::max(rank, dims->size());
  }
  Dims out(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    for (const std::optional<Dims>& dims : all) {
      const size_t offset = rank - dims->size();
      if (k < offset) continue;
      const int64_t dim = (*dims)[k - offset];
      if (dim == 1) continue;
      if (dim < 0 || (out[k] != 1 && out[k] != dim)) {
        out[k] = -1;
        break;
      }
      out[k] = dim;
    }
  }
  // A dim left 1 with an unknown input dim is unknown.
  for (size_t k = 0; k < rank; ++k) {
    for (const std::optional<Dims>& dims : all) {
      const size_t offset = rank - dims->size();
      if (k >= offset && (*dims)[k - offset] < 0) out[k] = -1;
    }
  }
  return out;
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
  return attribute == nullptr ? otherwise : static_cast<int32_t>(attribute->i());
}

// Names visible from a graph: its own and, through `parent`, those of the
// graphs around it (subgraph bodies see outer tensors).
class Scope {
 public:
  explicit Scope(InferredTypes* own, const Scope* parent = nullptr)
      : own_(own), parent_(parent) {}

  const TypeProto* Find(absl::string_view name) const {
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
  void Set(const std::string& name, TypeProto type) {
    if (name.empty()) return;
    own_->unknown.erase(name);
    own_->types[name] = std::move(type);
  }
  void SetUnknown(const std::string& name, const std::string& why) {
    if (name.empty() || own_->types.contains(name)) return;
    own_->unknown.emplace(name, why);
  }

 private:
  InferredTypes* own_;
  const Scope* parent_;
};

void AddDeclared(const onnx::GraphProto& graph, Scope* scope) {
  for (const TensorProto& tensor : graph.initializer()) {
    scope->Set(tensor.name(), WithDims(tensor.data_type(), tensor.dims()));
  }
  for (const onnx::SparseTensorProto& tensor : graph.sparse_initializer()) {
    scope->Set(tensor.values().name(),
               WithDims(tensor.values().data_type(), tensor.dims()));
  }
  for (const auto* values : {&graph.input(), &graph.value_info()}) {
    for (const onnx::ValueInfoProto& value : *values) {
      if (value.type().has_tensor_type() &&
          value.type().tensor_type().elem_type() != 0) {
        scope->Set(value.name(), value.type());
      }
    }
  }
}

using Functions = google::protobuf::RepeatedPtrField<onnx::FunctionProto>;

// One node, in the abstract: what the rules read of it.
struct NodeFacts {
  absl::string_view op_type;
  absl::string_view domain;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::string description;  // "node 17 ('/a/Add', Add)"
};

class Inferrer {
 public:
  Inferrer(const Functions& functions, std::string source)
      : functions_(functions), source_(std::move(source)) {}

  // The output types of one node whose message is `message` (null when
  // the rule needs none and none was parsed); unknown outputs recorded.
  void InferNode(const NodeFacts& node, const onnx::NodeProto* message,
                 Scope* scope) {
    InferElementTypes(node, message, scope);
    InferShapes(node, message, scope);
  }

  void InferElementTypes(const NodeFacts& node,
                         const onnx::NodeProto* message, Scope* scope) {
    auto unknown = [&](const std::string& why) {
      for (const std::string& output : node.outputs) {
        scope->SetUnknown(output, why);
      }
    };
    // Inputs of unknown type make their consumers' outputs unknown, with
    // the first cause.
    auto input_type = [&](size_t k) -> const TypeProto* {
      if (k >= node.inputs.size() || node.inputs[k].empty()) return nullptr;
      return scope->Find(node.inputs[k]);
    };
    auto missing_input = [&](size_t k) {
      std::string why =
          k < node.inputs.size() ? scope->WhyUnknown(node.inputs[k]) : "";
      if (why.empty()) {
        why = absl::StrCat(
            source_, ": ", node.description, ": input ",
            k < node.inputs.size() ? absl::StrCat("'", node.inputs[k], "'")
                                   : absl::StrCat(k),
            " has no known type");
      }
      unknown(why);
    };

    if (!node.domain.empty() && node.domain != "ai.onnx") {
      const onnx::FunctionProto* function = FindFunction(node);
      if (function == nullptr) {
        unknown(absl::StrCat(source_, ": ", node.description,
                             ": no type rule for ops of domain '",
                             node.domain, "'"));
        return;
      }
      InferFunction(node, *function, scope);
      return;
    }
    const std::optional<Rule> rule = RuleOf(node.op_type);
    if (!rule.has_value()) {
      if (const onnx::FunctionProto* function = FindFunction(node)) {
        InferFunction(node, *function, scope);
        return;
      }
      unknown(absl::StrCat(source_, ": ", node.description,
                           ": hp has no type rule for op ", node.op_type));
      return;
    }
    const TypeProto* first = input_type(0);
    switch (*rule) {
      case Rule::kKeepInput0:
      case Rule::kLikeInput0:
      case Rule::kFirstLikeInput0: {
        const size_t from = node.op_type == "OneHot" ? 2 : 0;
        const TypeProto* input = input_type(from);
        if (input == nullptr) return missing_input(from);
        for (size_t k = 0; k < node.outputs.size(); ++k) {
          if (*rule == Rule::kKeepInput0) {
            scope->Set(node.outputs[k], *input);
          } else if (*rule == Rule::kLikeInput0 || k == 0) {
            scope->Set(node.outputs[k], ElementType(ElemOf(*input)));
          } else {
            scope->Set(node.outputs[k], ElementType(SecondaryType(
                                            node.op_type, ElemOf(*input))));
          }
        }
        return;
      }
      case Rule::kInt64:
      case Rule::kBool: {
        const int32_t elem =
            *rule == Rule::kInt64 ? TensorProto::INT64 : TensorProto::BOOL;
        for (const std::string& output : node.outputs) {
          TypeProto type = ElementType(elem);
          // Shape's output is 1-D of the input's rank, when that is known.
          if (node.op_type == "Shape" && first != nullptr &&
              first->tensor_type().has_shape() && message != nullptr &&
              FindAttribute(*message, "start") == nullptr &&
              FindAttribute(*message, "end") == nullptr) {
            type.mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(
                first->tensor_type().shape().dim_size());
          }
          scope->Set(output, std::move(type));
        }
        return;
      }
      case Rule::kLikeInput1: {
        const TypeProto* input = input_type(1);
        if (input == nullptr) return missing_input(1);
        for (const std::string& output : node.outputs) {
          scope->Set(output, ElementType(ElemOf(*input)));
        }
        return;
      }
      case Rule::kCastLike: {
        const TypeProto* like = input_type(1);
        if (like == nullptr) return missing_input(1);
        TypeProto type = first != nullptr ? *first : TypeProto();
        type.mutable_tensor_type()->set_elem_type(ElemOf(*like));
        for (const std::string& output : node.outputs) scope->Set(output, type);
        return;
      }
      default:
        break;
    }
    if (message == nullptr) {
      unknown(absl::StrCat(source_, ": ", node.description,
                           ": its attributes were not read"));
      return;
    }
    const onnx::NodeProto& proto = *message;
    switch (*rule) {
      case Rule::kCast: {
        const onnx::AttributeProto* to = FindAttribute(proto, "to");
        if (to == nullptr) {
          unknown(absl::StrCat(source_, ": ", node.description,
                               ": Cast without attribute 'to'"));
          return;
        }
        TypeProto type = first != nullptr ? *first : TypeProto();
        type.mutable_tensor_type()->set_elem_type(static_cast<int32_t>(to->i()));
        for (const std::string& output : node.outputs) scope->Set(output, type);
        return;
      }
      case Rule::kConstant: {
        std::optional<TypeProto> type = ConstantType(proto);
        if (!type.has_value()) {
          unknown(absl::StrCat(source_, ": ", node.description,
                               ": Constant without a value attribute"));
          return;
        }
        for (const std::string& output : node.outputs) scope->Set(output, *type);
        return;
      }
      case Rule::kConstantOfShape: {
        const onnx::AttributeProto* value = FindAttribute(proto, "value");
        const int32_t elem =
            value != nullptr ? value->t().data_type() : TensorProto::FLOAT;
        for (const std::string& output : node.outputs) {
          scope->Set(output, ElementType(elem));
        }
        return;
      }
      case Rule::kDtype:
      case Rule::kMultinomial: {
        const int32_t elem = IntAttribute(
            proto, "dtype",
            *rule == Rule::kDtype ? TensorProto::FLOAT : TensorProto::INT32);
        for (const std::string& output : node.outputs) {
          scope->Set(output, ElementType(elem));
        }
        return;
      }
      case Rule::kDtypeOrInput0: {
        if (FindAttribute(proto, "dtype") == nullptr && first == nullptr) {
          return missing_input(0);
        }
        const int32_t elem =
            IntAttribute(proto, "dtype", first != nullptr ? ElemOf(*first) : 0);
        for (const std::string& output : node.outputs) {
          scope->Set(output, ElementType(elem));
        }
        return;
      }
      case Rule::kIf:
        return InferIf(node, proto, scope);
      case Rule::kLoop:
      case Rule::kScan:
        return InferLoopOrScan(node, proto, *rule == Rule::kScan, scope);
      default:
        return;
    }
  }

  // Output shapes, where the rank (and perhaps dims) follows cheaply from
  // the inputs' and the attributes: a graph input or output of an extracted
  // model needs at least its rank.
  void InferShapes(const NodeFacts& node, const onnx::NodeProto* message,
                   Scope* scope) {
    if (!node.domain.empty() && node.domain != "ai.onnx") return;
    auto in = [&](size_t k) -> std::optional<Dims> {
      if (k >= node.inputs.size() || node.inputs[k].empty()) {
        return std::nullopt;
      }
      return DimsOf(scope->Find(node.inputs[k]));
    };
    // The length of a 1-D input (an axes or shape tensor), when known.
    auto length = [&](size_t k) -> int64_t {
      std::optional<Dims> dims = in(k);
      return dims.has_value() && dims->size() == 1 ? (*dims)[0] : -1;
    };
    auto attribute = [&](absl::string_view name) -> const onnx::AttributeProto* {
      return message == nullptr ? nullptr : FindAttribute(*message, name);
    };
    auto set = [&](size_t k, const std::optional<Dims>& dims) {
      if (k >= node.outputs.size() || node.outputs[k].empty() ||
          !dims.has_value()) {
        return;
      }
      const TypeProto* known = scope->Find(node.outputs[k]);
      if (known == nullptr || known->tensor_type().has_shape()) return;
      TypeProto type = *known;
      auto* shape = type.mutable_tensor_type()->mutable_shape();
      for (int64_t dim : *dims) {
        auto* added = shape->add_dim();
        if (dim >= 0) added->set_dim_value(dim);
      }
      scope->Set(node.outputs[k], std::move(type));
    };
    auto rank_of = [&](size_t k) -> std::optional<Dims> {
      std::optional<Dims> dims = in(k);
      if (!dims.has_value()) return std::nullopt;
      return Unknown(static_cast<int64_t>(dims->size()));
    };
    const absl::string_view op = node.op_type;
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" ||
        op == "Pow" || op == "Mod" || op == "Where" || op == "Equal" ||
        op == "Less" || op == "Greater" || op == "LessOrEqual" ||
        op == "GreaterOrEqual" || op == "And" || op == "Or" || op == "Xor" ||
        op == "Max" || op == "Min" || op == "Sum" || op == "Mean" ||
        op == "PRelu" || op == "BitShift" || op == "BitwiseAnd" ||
        op == "BitwiseOr" || op == "BitwiseXor") {
      std::vector<std::optional<Dims>> all;
      for (size_t k = 0; k < node.inputs.size(); ++k) all.push_back(in(k));
      return set(0, Broadcast(all));
    }
    if (op == "Not" || op == "IsNaN" || op == "IsInf") return set(0, in(0));
    if (op == "Dropout") {
      set(0, in(0));
      return set(1, in(0));
    }
    if (op == "LayerNormalization") {
      set(0, in(0));
      set(1, rank_of(0));
      return set(2, rank_of(0));
    }
    if (op == "BatchNormalization") return set(0, in(0));
    if (op == "Shape") {
      std::optional<Dims> dims = in(0);
      const bool whole = message != nullptr && attribute("start") == nullptr &&
                         attribute("end") == nullptr;
      return set(0, Dims{dims.has_value() && whole
                             ? static_cast<int64_t>(dims->size())
                             : -1});
    }
    if (op == "Size") return set(0, Dims{});
    if (op == "Range") return set(0, Unknown(1));
    if (op == "NonZero") return set(0, Unknown(2));
    if (op == "EyeLike" || op == "Gemm" || op == "Flatten") {
      return set(0, Unknown(2));
    }
    if (op == "MatMul") {
      std::optional<Dims> a = in(0);
      std::optional<Dims> b = in(1);
      if (!a.has_value() || !b.has_value()) return;
      const int64_t ra = static_cast<int64_t>(a->size());
      const int64_t rb = static_cast<int64_t>(b->size());
      if (ra == 1 && rb == 1) return set(0, Dims{});
      if (ra == 1) return set(0, Unknown(rb - 1));
      if (rb == 1) return set(0, Unknown(ra - 1));
      return set(0, Unknown(std::max(ra, rb)));
    }
    if (op == "Conv" || op == "ConvTranspose" || op == "AveragePool" ||
        op == "MaxPool" || op == "GlobalAveragePool" ||
        op == "GlobalMaxPool" || op == "LpPool" || op == "GlobalLpPool" ||
        op == "InstanceNormalization" || op == "Transpose" ||
        op == "Concat" || op == "Slice" || op == "Split" || op == "Tile" ||
        op == "Pad" || op == "Resize" || op == "Upsample" ||
        op == "Trilu" || op == "ScatterND" || op == "ScatterElements" ||
        op == "TopK" || op == "DepthToSpace" || op == "SpaceToDepth" ||
        op == "LRN" || op == "ReverseSequence") {
      // Concat of 1-D tensors of known lengths: their sum (shape tensors).
      if (op == "Concat") {
        int64_t total = 0;
        bool known = true;
        for (size_t k = 0; k < node.inputs.size() && known; ++k) {
          const int64_t n = length(k);
          known = n >= 0;
          total += n;
        }
        if (known && !node.inputs.empty()) return set(0, Dims{total});
      }
      for (size_t k = 0; k < node.outputs.size(); ++k) set(k, rank_of(0));
      return;
    }
    if (op == "Gather") {
      std::optional<Dims> data = in(0);
      std::optional<Dims> indices = in(1);
      if (!data.has_value() || !indices.has_value() || data->empty()) return;
      return set(0, Unknown(static_cast<int64_t>(data->size() - 1 +
                                                 indices->size())));
    }
    if (op == "GatherElements") return set(0, rank_of(1));
    if (op == "GatherND") {
      std::optional<Dims> data = in(0);
      std::optional<Dims> indices = in(1);
      if (!data.has_value() || !indices.has_value() || indices->empty() ||
          indices->back() < 0) {
        return;
      }
      const onnx::AttributeProto* batch = attribute("batch_dims");
      const int64_t batch_dims = batch != nullptr ? batch->i() : 0;
      return set(0, Unknown(static_cast<int64_t>(data->size()) +
                            static_cast<int64_t>(indices->size()) -
                            indices->back() - 1 - batch_dims));
    }
    if (op == "Unsqueeze" || op == "Squeeze") {
      std::optional<Dims> data = in(0);
      if (!data.has_value()) return;
      int64_t axes = node.inputs.size() > 1 ? length(1) : -1;
      if (const onnx::AttributeProto* attr = attribute("axes")) {
        axes = attr->ints_size();
      }
      if (axes < 0) return;
      const int64_t rank = static_cast<int64_t>(data->size());
      if (op == "Unsqueeze") {
        // A scalar unsqueezed once: the 1-D tensor of one element.
        if (rank == 0 && axes == 1) return set(0, Dims{1});
        return set(0, Unknown(rank + axes));
      }
      return set(0, Unknown(rank - axes));
    }
    if (absl::StartsWith(op, "Reduce") || op == "ArgMax" || op == "ArgMin") {
      std::optional<Dims> data = in(0);
      if (!data.has_value() || message == nullptr) return;
      const onnx::AttributeProto* keep = attribute("keepdims");
      const int64_t rank = static_cast<int64_t>(data->size());
      if (keep == nullptr || keep->i() != 0) return set(0, Unknown(rank));
      if (op == "ArgMax" || op == "ArgMin") return set(0, Unknown(rank - 1));
      int64_t axes = node.inputs.size() > 1 ? length(1) : -1;
      if (const onnx::AttributeProto* attr = attribute("axes")) {
        axes = attr->ints_size();
      }
      if (axes < 0 && node.inputs.size() <= 1) axes = rank;  // all axes
      if (axes < 0) return;
      return set(0, Unknown(rank - axes));
    }
    if (op == "Reshape" || op == "Expand" || op == "ConstantOfShape") {
      const int64_t n = length(op == "ConstantOfShape" ? 0 : 1);
      if (n < 0) return;
      if (op == "Expand") {
        std::optional<Dims> data = in(0);
        if (!data.has_value()) return;
        return set(0, Unknown(std::max(n, static_cast<int64_t>(data->size()))));
      }
      return set(0, Unknown(n));
    }
    if (op == "OneHot") {
      std::optional<Dims> indices = in(0);
      if (indices.has_value()) {
        return set(0, Unknown(static_cast<int64_t>(indices->size()) + 1));
      }
      return;
    }
    if (op == "CumSum" || op == "Clip") return set(0, in(0));
  }

  // Every node of a graph held as messages (a subgraph body, a function).
  void InferGraph(const onnx::GraphProto& graph, absl::string_view path,
                  Scope* scope) {
    AddDeclared(graph, scope);
    for (int i = 0; i < graph.node_size(); ++i) {
      const onnx::NodeProto& node = graph.node(i);
      InferNode(Facts(node, absl::StrCat(path, " node ", i)), &node, scope);
    }
  }

  static NodeFacts Facts(const onnx::NodeProto& node,
                         const std::string& where) {
    NodeFacts facts;
    facts.op_type = node.op_type();
    facts.domain = node.domain();
    facts.inputs.assign(node.input().begin(), node.input().end());
    facts.outputs.assign(node.output().begin(), node.output().end());
    facts.description =
        absl::StrCat(where, " ('", node.name(), "', ", node.op_type(), ")");
    return facts;
  }

 private:
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

  const onnx::FunctionProto* FindFunction(const NodeFacts& node) const {
    for (const onnx::FunctionProto& function : functions_) {
      if (function.name() == node.op_type && function.domain() == node.domain) {
        return &function;
      }
    }
    return nullptr;
  }

  // A body's output types: declared, else inferred from its nodes.
  void BodyOutputs(const onnx::GraphProto& body, absl::string_view path,
                   const std::vector<const TypeProto*>& bound, Scope* outer,
                   std::vector<std::optional<TypeProto>>* outputs,
                   std::string* why) {
    InferredTypes own;
    Scope scope(&own, outer);
    for (int k = 0; k < body.input_size() && k < static_cast<int>(bound.size());
         ++k) {
      if (bound[k] != nullptr) scope.Set(body.input(k).name(), *bound[k]);
    }
    InferGraph(body, path, &scope);
    for (const onnx::ValueInfoProto& output : body.output()) {
      if (output.type().tensor_type().elem_type() != 0) {
        outputs->push_back(output.type());
      } else if (const TypeProto* type = scope.Find(output.name())) {
        outputs->push_back(*type);
      } else {
        outputs->push_back(std::nullopt);
        if (why->empty()) why->assign(scope.WhyUnknown(output.name()));
      }
    }
  }

  void InferIf(const NodeFacts& node, const onnx::NodeProto& proto,
               Scope* scope) {
    const onnx::AttributeProto* then_branch = FindAttribute(proto, "then_branch");
    std::vector<std::optional<TypeProto>> outputs;
    std::string why;
    if (then_branch != nullptr) {
      BodyOutputs(then_branch->g(),
                  absl::StrCat(node.description, "/then_branch"), {}, scope,
                  &outputs, &why);
    }
    // The shapes of the two branches may differ: element types only.
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      if (k < outputs.size() && outputs[k].has_value()) {
        scope->Set(node.outputs[k], RankOnly(*outputs[k], 0));
      } else {
        scope->SetUnknown(node.outputs[k],
                          why.empty() ? absl::StrCat(source_, ": ",
                                                     node.description,
                                                     ": its then_branch gives "
                                                     "no type for output ",
                                                     k)
                                      : why);
      }
    }
  }

  // Loop: inputs (M, cond, v_initial...), body (iteration, cond, v...) ->
  // (cond, v..., scan outputs...); node outputs (v_final..., scans...).
  // Scan: inputs (states..., scan inputs...), body (states, elements) ->
  // (states, scan output elements); node outputs (states..., scans...).
  void InferLoopOrScan(const NodeFacts& node, const onnx::NodeProto& proto,
                       bool scan, Scope* scope) {
    const onnx::AttributeProto* body = FindAttribute(proto, "body");
    if (body == nullptr) {
      for (const std::string& output : node.outputs) {
        scope->SetUnknown(output, absl::StrCat(source_, ": ",
                                               node.description,
                                               ": no body attribute"));
      }
      return;
    }
    std::vector<const TypeProto*> bound;
    const TypeProto int64_type = ElementType(TensorProto::INT64);
    const TypeProto bool_type = ElementType(TensorProto::BOOL);
    std::vector<TypeProto> elements;  // Scan's scan inputs, one rank less
    elements.reserve(node.inputs.size());
    size_t carried = 0;
    if (!scan) {
      bound = {&int64_type, &bool_type};
      carried = node.inputs.size() >= 2 ? node.inputs.size() - 2 : 0;
      for (size_t k = 2; k < node.inputs.size(); ++k) {
        bound.push_back(scope->Find(node.inputs[k]));
      }
    } else {
      const int64_t scan_inputs = IntAttribute(proto, "num_scan_inputs", 0);
      carried = node.inputs.size() - static_cast<size_t>(scan_inputs);
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        const TypeProto* type = scope->Find(node.inputs[k]);
        if (k < carried || type == nullptr) {
          bound.push_back(type);
          continue;
        }
        elements.push_back(ElementType(ElemOf(*type)));
        bound.push_back(&elements.back());
      }
    }
    std::vector<std::optional<TypeProto>> outputs;
    std::string why;
    BodyOutputs(body->g(), absl::StrCat(node.description, "/body"), bound,
                scope, &outputs, &why);
    const size_t skip = scan ? 0 : 1;  // Loop's body also returns cond
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      std::optional<TypeProto> type;
      const size_t body_output = k + skip;
      if (k < carried && (scan ? k : k + 2) < bound.size() &&
          bound[scan ? k : k + 2] != nullptr) {
        type = RankOnly(*bound[scan ? k : k + 2], 0);
      } else if (body_output < outputs.size() &&
                 outputs[body_output].has_value()) {
        type = RankOnly(*outputs[body_output], 1);  // stacked per iteration
      }
      if (type.has_value()) {
        scope->Set(node.outputs[k], *type);
      } else {
        scope->SetUnknown(node.outputs[k],
                          why.empty() ? absl::StrCat(source_, ": ",
                                                     node.description,
                                                     ": no type for output ", k)
                                      : why);
      }
    }
  }

  void InferFunction(const NodeFacts& node, const onnx::FunctionProto& function,
                     Scope* scope) {
    InferredTypes own;
    Scope inner(&own, nullptr);
    for (int k = 0; k < function.input_size(); ++k) {
      if (static_cast<size_t>(k) >= node.inputs.size()) break;
      if (const TypeProto* type = scope->Find(node.inputs[k])) {
        inner.Set(function.input(k), *type);
      }
    }
    for (int i = 0; i < function.node_size(); ++i) {
      const onnx::NodeProto& body_node = function.node(i);
      InferNode(Facts(body_node, absl::StrCat(node.description, "/",
                                              function.name(), " node ", i)),
                &body_node, &inner);
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const TypeProto* type =
          static_cast<int>(k) < function.output_size()
              ? inner.Find(function.output(static_cast<int>(k)))
              : nullptr;
      if (type != nullptr) {
        scope->Set(node.outputs[k], *type);
      } else {
        scope->SetUnknown(
            node.outputs[k],
            absl::StrCat(source_, ": ", node.description, ": function ",
                         function.name(), " gives no type for output ", k));
      }
    }
  }

  const Functions& functions_;
  std::string source_;
};

}  // namespace

absl::StatusOr<onnx::TypeProto> InferredTypes::TypeOf(
    const std::string& name) const {
  const auto found = types.find(name);
  if (found != types.end()) return found->second;
  const auto why = unknown.find(name);
  if (why != unknown.end()) return absl::InvalidArgumentError(why->second);
  return absl::InvalidArgumentError(
      absl::StrCat("tensor '", name, "' is neither an input, an initializer "
                   "nor the output of a node"));
}

absl::StatusOr<InferredTypes> InferTensorTypes(
    const onnx::GraphProto& graph, const NodeList& nodes,
    const NodeMessage& message, const Functions& functions,
    const std::string& source) {
  InferredTypes inferred;
  Scope scope(&inferred);
  AddDeclared(graph, &scope);
  Inferrer inferrer(functions, source);
  size_t position = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeRef& node = nodes[i];
    if (node.owner >= 0) continue;
    NodeFacts facts;
    facts.op_type = node.op_type;
    facts.domain = node.domain;
    facts.inputs = std::vector<std::string>(node.inputs.begin(),
                                            node.inputs.end());
    facts.outputs = std::vector<std::string>(node.outputs.begin(),
                                             node.outputs.end());
    facts.description = absl::StrCat("node ", position++, " ('", node.name,
                                     "', ", node.op_type, ")");
    const std::optional<Rule> rule =
        node.domain.empty() ? RuleOf(node.op_type) : std::nullopt;
    const onnx::NodeProto* proto = node.node;
    if (proto == nullptr && (!rule.has_value() || NeedsMessage(*rule) ||
                             ShapeNeedsMessage(node.op_type))) {
      HP_ASSIGN_OR_RETURN(proto, message(i));
    }
    inferrer.InferNode(facts, proto, &scope);
  }
  // Declared types win over inferred ones (a graph output's shape).
  for (const onnx::ValueInfoProto& output : graph.output()) {
    if (output.type().tensor_type().elem_type() != 0) {
      scope.Set(output.name(), output.type());
    }
  }
  return inferred;
}

}  // namespace hp
