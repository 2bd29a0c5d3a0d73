#include "tests/support/twelve_layers.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace testing {
namespace {

void DeclareShape(onnx::ValueInfoProto* value) {
  auto* shape = value->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->add_dim()->set_dim_value(2);
  shape->add_dim()->set_dim_param("hidden");
}

}  // namespace

std::string LayerTag(int layer) {
  return absl::StrCat("/TinyBert/BertEncoder/BertLayer.", layer);
}

onnx::ModelProto TwelveLayerModel() {
  ModelBuilder builder;
  builder.Input("x")
      .Initializer("w", {4, 4})
      .Node("/Cast", "Cast", {"x"}, {"/Cast_output_0"})
      .Node("Constant_1", "Constant", {}, {"c"});
  std::string previous = "/Cast_output_0";
  for (int layer = 0; layer < kLayers; ++layer) {
    const std::string scope = absl::StrCat("/encoder/layer.", layer);
    const std::string matmul = absl::StrCat(scope, "/dense/MatMul_output_0");
    const std::string add =
        layer + 1 == kLayers ? "y" : absl::StrCat(scope, "/Add_output_0");
    builder.Node(absl::StrCat(scope, "/dense/MatMul"), "MatMul",
                 {previous, "w"}, {matmul});
    builder.Node(absl::StrCat(scope, "/Add"), "Add", {matmul, "c"}, {add});
    previous = add;
  }
  builder.Output("y");
  onnx::ModelProto model = builder.Build();
  DeclareShape(model.mutable_graph()->mutable_input(0));
  DeclareShape(model.mutable_graph()->mutable_output(0));
  onnx::ValueInfoProto* hidden = model.mutable_graph()->add_value_info();
  hidden->set_name("/encoder/layer.0/dense/MatMul_output_0");
  hidden->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::FLOAT);
  DeclareShape(hidden);
  return model;
}

absl::StatusOr<ScopeTrace> TwelveLayerTrace() {
  TraceBuilder trace("TinyBert");
  trace.Module("encoder", "BertEncoder")
      .TorchNn("encoder.layer", "ModuleList", /*call_count=*/0);
  for (int layer = 0; layer < kLayers; ++layer) {
    const std::string path = absl::StrCat("encoder.layer.", layer);
    trace.Module(path, "BertLayer").TorchNn(path + ".dense", "Linear");
  }
  return trace.Build();
}

void TaggedTwelveLayers::SetUp() {
  absl::StatusOr<ScopeTrace> trace = TwelveLayerTrace();
  ASSERT_TRUE(trace.ok()) << trace.status();
  trace_ = std::move(trace).value();
  absl::StatusOr<TagResult> result = TagModel(&model_, &*trace_, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  result_ = *result;
}

}  // namespace testing
}  // namespace hp
