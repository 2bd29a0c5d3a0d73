#include "hp/extract/boundary_types.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hp/extract/element_rules.h"
#include "hp/extract/shape_rules.h"
#include "hp/extract/tensor_lifetimes.h"
#include "hp/extract/type_scope.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

using onnx::TensorProto;
using onnx::TypeProto;

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

  void InferElementTypes(const NodeFacts& node, const onnx::NodeProto* message,
                         Scope* scope) {
    auto unknown = [&](const std::string& why) {
      for (absl::string_view output : node.outputs) {
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
        why = absl::StrCat(source_, ": ", node.Describe(), ": input ",
                           k < node.inputs.size()
                               ? absl::StrCat("'", node.inputs[k], "'")
                               : absl::StrCat(k),
                           " has no known type");
      }
      unknown(why);
    };

    if (!node.domain.empty() && node.domain != "ai.onnx") {
      const onnx::FunctionProto* function = FindFunction(node);
      if (function == nullptr) {
        unknown(absl::StrCat(source_, ": ", node.Describe(),
                             ": no type rule for ops of domain '", node.domain,
                             "'"));
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
      unknown(absl::StrCat(source_, ": ", node.Describe(),
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
        for (absl::string_view output : node.outputs) {
          TypeProto type = ElementType(elem);
          // Shape's output is 1-D of the input's rank, when that is known.
          if (node.op_type == "Shape" && first != nullptr &&
              first->tensor_type().has_shape() && message != nullptr &&
              FindAttribute(*message, "start") == nullptr &&
              FindAttribute(*message, "end") == nullptr) {
            type.mutable_tensor_type()
                ->mutable_shape()
                ->add_dim()
                ->set_dim_value(first->tensor_type().shape().dim_size());
          }
          scope->Set(output, std::move(type));
        }
        return;
      }
      case Rule::kLikeInput1: {
        const TypeProto* input = input_type(1);
        if (input == nullptr) return missing_input(1);
        for (absl::string_view output : node.outputs) {
          scope->Set(output, ElementType(ElemOf(*input)));
        }
        return;
      }
      case Rule::kCastLike: {
        const TypeProto* like = input_type(1);
        if (like == nullptr) return missing_input(1);
        TypeProto type = first != nullptr ? *first : TypeProto();
        type.mutable_tensor_type()->set_elem_type(ElemOf(*like));
        for (absl::string_view output : node.outputs) scope->Set(output, type);
        return;
      }
      default:
        break;
    }
    if (message == nullptr) {
      unknown(absl::StrCat(source_, ": ", node.Describe(),
                           ": its attributes were not read"));
      return;
    }
    const onnx::NodeProto& proto = *message;
    switch (*rule) {
      case Rule::kCast: {
        const onnx::AttributeProto* to = FindAttribute(proto, "to");
        if (to == nullptr) {
          unknown(absl::StrCat(source_, ": ", node.Describe(),
                               ": Cast without attribute 'to'"));
          return;
        }
        TypeProto type = first != nullptr ? *first : TypeProto();
        type.mutable_tensor_type()->set_elem_type(
            static_cast<int32_t>(to->i()));
        for (absl::string_view output : node.outputs) scope->Set(output, type);
        return;
      }
      case Rule::kConstant: {
        std::optional<TypeProto> type = ConstantType(proto);
        if (!type.has_value()) {
          unknown(absl::StrCat(source_, ": ", node.Describe(),
                               ": Constant without a value attribute"));
          return;
        }
        for (absl::string_view output : node.outputs) scope->Set(output, *type);
        return;
      }
      case Rule::kConstantOfShape: {
        const onnx::AttributeProto* value = FindAttribute(proto, "value");
        const int32_t elem =
            value != nullptr ? value->t().data_type() : TensorProto::FLOAT;
        for (absl::string_view output : node.outputs) {
          scope->Set(output, ElementType(elem));
        }
        return;
      }
      case Rule::kDtype:
      case Rule::kMultinomial: {
        const int32_t elem = IntAttribute(
            proto, "dtype",
            *rule == Rule::kDtype ? TensorProto::FLOAT : TensorProto::INT32);
        for (absl::string_view output : node.outputs) {
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
        for (absl::string_view output : node.outputs) {
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

  // Every node of a graph held as messages (a subgraph body, a function).
  void InferGraph(const onnx::GraphProto& graph, absl::string_view path,
                  Scope* scope) {
    AddDeclared(graph, scope);
    for (int i = 0; i < graph.node_size(); ++i) {
      const onnx::NodeProto& node = graph.node(i);
      InferNode(Facts(node, path, static_cast<size_t>(i)), &node, scope);
    }
  }

  // `graph` must outlive the facts.
  static NodeFacts Facts(const onnx::NodeProto& node, absl::string_view graph,
                         size_t index) {
    NodeFacts facts;
    facts.name = node.name();
    facts.op_type = node.op_type();
    facts.domain = node.domain();
    facts.inputs.assign(node.input().begin(), node.input().end());
    facts.outputs.assign(node.output().begin(), node.output().end());
    facts.graph = graph;
    facts.index = index;
    return facts;
  }

 private:
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
    const onnx::AttributeProto* then_branch =
        FindAttribute(proto, "then_branch");
    std::vector<std::optional<TypeProto>> outputs;
    std::string why;
    if (then_branch != nullptr) {
      BodyOutputs(then_branch->g(),
                  absl::StrCat(node.Describe(), "/then_branch"), {}, scope,
                  &outputs, &why);
    }
    // The shapes of the two branches may differ: element types only.
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      if (k < outputs.size() && outputs[k].has_value()) {
        scope->Set(node.outputs[k], RankOnly(*outputs[k], 0));
      } else {
        scope->SetUnknown(node.outputs[k],
                          why.empty()
                              ? absl::StrCat(source_, ": ", node.Describe(),
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
      for (absl::string_view output : node.outputs) {
        scope->SetUnknown(output, absl::StrCat(source_, ": ", node.Describe(),
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
    BodyOutputs(body->g(), absl::StrCat(node.Describe(), "/body"), bound, scope,
                &outputs, &why);
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
                          why.empty()
                              ? absl::StrCat(source_, ": ", node.Describe(),
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
    const std::string graph =
        absl::StrCat(node.Describe(), "/", function.name());
    for (int i = 0; i < function.node_size(); ++i) {
      const onnx::NodeProto& body_node = function.node(i);
      InferNode(Facts(body_node, graph, static_cast<size_t>(i)), &body_node,
                &inner);
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
            absl::StrCat(source_, ": ", node.Describe(), ": function ",
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
      absl::StrCat("tensor '", name,
                   "' is neither an input, an initializer "
                   "nor the output of a node"));
}

absl::StatusOr<InferredTypes> InferTensorTypes(
    const onnx::GraphProto& graph, const NodeList& nodes,
    const NodeMessage& message, const Functions& functions,
    const std::string& source, const absl::flat_hash_set<std::string>* wanted) {
  InferredTypes inferred;
  Scope scope(&inferred);
  AddDeclared(graph, &scope);
  Inferrer inferrer(functions, source);

  std::optional<TensorLifetimes> lifetimes;
  if (wanted != nullptr) lifetimes.emplace(graph, nodes, *wanted);
  const size_t end = lifetimes.has_value() ? lifetimes->end() : nodes.size();

  NodeFacts facts;
  size_t position = 0;
  // The walk holds a window of the records, not every page it passed:
  // extract's passes over a million nodes would otherwise keep the whole
  // file resident beside what they build.
  NodeReleaser releaser(nodes, 0);
  NodeReadAhead ahead(nodes);
  for (size_t i = 0; i < end; ++i) {
    releaser.Reached(i);
    ahead.Reached(i);
    const NodeRef& node = nodes[i];
    if (node.owner >= 0) continue;
    facts.name = node.name;
    facts.op_type = node.op_type;
    facts.domain = node.domain;
    facts.inputs.assign(node.inputs.begin(), node.inputs.end());
    facts.outputs.assign(node.outputs.begin(), node.outputs.end());
    facts.index = position++;
    const std::optional<Rule> rule =
        node.domain.empty() ? RuleOf(node.op_type) : std::nullopt;
    const onnx::NodeProto* proto = node.node;
    if (proto == nullptr && (!rule.has_value() || NeedsMessage(*rule) ||
                             ShapeNeedsMessage(node.op_type))) {
      HP_ASSIGN_OR_RETURN(proto, message(i));
    }
    inferrer.InferNode(facts, proto, &scope);
    if (!lifetimes.has_value()) continue;
    // This node and its bodies' nodes (which follow it) are done.
    lifetimes->Forget(i, &inferred);
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
