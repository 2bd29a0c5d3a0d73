#include "hp/extract/shape_rules.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"

namespace hp {
namespace {

using onnx::TypeProto;

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

Dims Unknown(int64_t rank) {
  return Dims(static_cast<size_t>(std::max<int64_t>(rank, 0)), -1);
}

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

}  // namespace

// Ops whose output rank depends on attributes (keepdims, axes).
bool ShapeNeedsMessage(absl::string_view op) {
  return absl::StartsWith(op, "Reduce") || op == "ArgMax" || op == "ArgMin" ||
         op == "Squeeze" || op == "Unsqueeze" || op == "Shape";
}

// Ranks by op; see the header.
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
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" ||
      op == "Mod" || op == "Where" || op == "Equal" || op == "Less" ||
      op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual" ||
      op == "And" || op == "Or" || op == "Xor" || op == "Max" || op == "Min" ||
      op == "Sum" || op == "Mean" || op == "PRelu" || op == "BitShift" ||
      op == "BitwiseAnd" || op == "BitwiseOr" || op == "BitwiseXor") {
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
    return set(
        0, Dims{dims.has_value() && whole ? static_cast<int64_t>(dims->size())
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
      op == "MaxPool" || op == "GlobalAveragePool" || op == "GlobalMaxPool" ||
      op == "LpPool" || op == "GlobalLpPool" || op == "InstanceNormalization" ||
      op == "Transpose" || op == "Concat" || op == "Slice" || op == "Split" ||
      op == "Tile" || op == "Pad" || op == "Resize" || op == "Upsample" ||
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
    return set(
        0, Unknown(static_cast<int64_t>(data->size() - 1 + indices->size())));
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

}  // namespace hp
