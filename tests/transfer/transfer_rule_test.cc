// The transfer rule on small graphs built in code: each kind of match, in
// its order of precedence, and the deepest common module.
#include "hp/transfer/transfer_rule.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/tag_codec.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace {

using ::testing::ElementsAre;
using testing::ModelBuilder;

// An original model's nodes with the tag and module path of each.
struct Tagged {
  onnx::ModelProto model;
  NodeList nodes;
  TaggedNodes tagged;
};

// `tags` and `paths` are literals: the result views them.
void SetTags(Tagged* t, const std::vector<absl::string_view>& tags,
             const std::vector<absl::string_view>& paths) {
  t->nodes = CollectNodes(t->model);
  t->tagged.nodes = &t->nodes;
  t->tagged.tags = tags;
  t->tagged.module_paths = paths;
  for (const auto& input : t->model.graph().input()) {
    t->tagged.values.inputs.push_back(input.name());
  }
  for (const auto& init : t->model.graph().initializer()) {
    t->tagged.values.initializers.push_back(init.name());
  }
}

GraphValueNames ValuesOf(const onnx::ModelProto& model) {
  GraphValueNames values;
  for (const auto& input : model.graph().input()) {
    values.inputs.push_back(input.name());
  }
  for (const auto& init : model.graph().initializer()) {
    values.initializers.push_back(init.name());
  }
  return values;
}

std::vector<std::string> Kinds(const TransferResult& result) {
  std::vector<std::string> kinds;
  for (MatchKind kind : result.kinds) {
    kinds.push_back(std::string(MatchKindName(kind)));
  }
  return kinds;
}

std::vector<std::string> Tags(const TransferResult& result) {
  std::vector<std::string> tags;
  for (size_t i = 0; i < result.kinds.size(); ++i) {
    tags.push_back(std::string(result.TagOf(i)));
  }
  return tags;
}

// x -> MatMul -> Add -> LayerNorm -> y, the first two in a linear layer of
// layer.0's attention, the last in layer.1.
Tagged Encoder() {
  Tagged t;
  t.model = ModelBuilder()
                .Input("x")
                .Initializer("w", {2, 2})
                .Initializer("b", {2})
                .Node("/layer.0/att/q/MatMul", "MatMul", {"x", "w"}, {"m"})
                .Node("/layer.0/att/q/Add", "Add", {"m", "b"}, {"a"})
                .Node("/layer.1/ln/LayerNormalization", "LayerNormalization",
                      {"a"}, {"y"})
                .Output("y")
                .Build();
  SetTags(&t,
          {"/M/Enc/Layer.0/Att", "/M/Enc/Layer.0/Att", "/M/Enc/Layer.1"},
          {"layer.0.att.q", "layer.0.att.q", "layer.1.ln"});
  return t;
}

TEST(TransferRuleTest, SameNodesAreKeptWhateverTheirNames) {
  Tagged from = Encoder();
  onnx::ModelProto derived =
      ModelBuilder()
          .Input("x")
          .Initializer("w", {2, 2})
          .Initializer("b", {2})
          .Node("renamed_0", "MatMul", {"x", "w"}, {"m"})
          .Node("renamed_1", "Add", {"m", "b"}, {"a"})
          .Node("renamed_2", "LayerNormalization", {"a"}, {"y"})
          .Output("y")
          .Build();
  const NodeList nodes = CollectNodes(derived);
  const TransferResult result =
      TransferTags(from.tagged, nodes, ValuesOf(derived));
  EXPECT_THAT(Kinds(result), ElementsAre("kept", "kept", "kept"));
  EXPECT_THAT(Tags(result), ElementsAre("/M/Enc/Layer.0/Att",
                                        "/M/Enc/Layer.0/Att", "/M/Enc/Layer.1"));
  EXPECT_EQ(result.ModulePathOf(2), "layer.1.ln");
  EXPECT_EQ(result.statistics.Count(MatchKind::kKept), 3);
  EXPECT_THAT(result.Sources(1), ElementsAre(1));
}

TEST(TransferRuleTest, AFusionTakesTheDeepestCommonModuleOfWhatItReplaced) {
  Tagged from = Encoder();
  // MatMul + Add fused: layer.0's attention. Everything fused: the encoder.
  onnx::ModelProto within =
      ModelBuilder()
          .Input("x")
          .Initializer("w", {2, 2})
          .Initializer("b", {2})
          .Node("fused", "Gemm", {"x", "w", "b"}, {"a"})
          .Node("/layer.1/ln/LayerNormalization", "LayerNormalization", {"a"},
                {"y"})
          .Output("y")
          .Build();
  const NodeList within_nodes = CollectNodes(within);
  TransferResult result =
      TransferTags(from.tagged, within_nodes, ValuesOf(within));
  EXPECT_THAT(Kinds(result), ElementsAre("replacing", "kept"));
  EXPECT_EQ(result.TagOf(0), "/M/Enc/Layer.0/Att");
  EXPECT_EQ(result.ModulePathOf(0), "layer.0.att.q");
  EXPECT_THAT(result.Sources(0), ElementsAre(0, 1));

  onnx::ModelProto across =
      ModelBuilder()
          .Input("x")
          .Initializer("w", {2, 2})
          .Initializer("b", {2})
          .Node("SkipLayerNormalization", "SkipLayerNormalization",
                {"x", "w", "b"}, {"y"})
          .Output("y")
          .Build();
  const NodeList across_nodes = CollectNodes(across);
  result = TransferTags(from.tagged, across_nodes, ValuesOf(across));
  EXPECT_THAT(Kinds(result), ElementsAre("replacing"));
  EXPECT_EQ(result.TagOf(0), "/M/Enc");
  EXPECT_EQ(result.ModulePathOf(0), "layer");  // the list holding both
  EXPECT_THAT(result.Sources(0), ElementsAre(0, 1, 2));
}

TEST(TransferRuleTest, NodesWithNewTensorsOnlyTakeTheirNeighboursTag) {
  Tagged from = Encoder();
  // A Gemm between two inserted reshapes, as onnxruntime writes it: the
  // last reshape produces an original tensor (replacing), the Gemm and the
  // first reshape only new ones (inserted).
  onnx::ModelProto derived =
      ModelBuilder()
          .Input("x")
          .Initializer("w", {2, 2})
          .Initializer("b", {2})
          .Initializer("shape_in", {2})
          .Initializer("shape_out", {2})
          .Node("gemm_input_reshape", "Reshape", {"x", "shape_in"}, {"x2"})
          .Node("/layer.0/att/q/MatMul/MatMulAddFusion", "Gemm",
                {"x2", "w", "b"}, {"g"})
          .Node("gemm_output_reshape", "Reshape", {"g", "shape_out"}, {"a"})
          .Node("/layer.1/ln/LayerNormalization", "LayerNormalization", {"a"},
                {"y"})
          .Output("y")
          .Build();
  const NodeList nodes = CollectNodes(derived);
  const TransferResult result =
      TransferTags(from.tagged, nodes, ValuesOf(derived));
  EXPECT_THAT(Kinds(result),
              ElementsAre("inserted", "replacing", "replacing", "kept"));
  EXPECT_THAT(Tags(result),
              ElementsAre("/M/Enc/Layer.0/Att", "/M/Enc/Layer.0/Att",
                          "/M/Enc/Layer.0/Att", "/M/Enc/Layer.1"));
}

TEST(TransferRuleTest, LayoutNodesArePlacedByTheTensorTheirNameStandsFor) {
  Tagged from;
  from.model = ModelBuilder()
                   .Input("x")
                   .Initializer("w1", {2})
                   .Initializer("w2", {2})
                   .Node("/b1/conv/Conv", "Conv", {"x", "w1"}, {"c1"})
                   .Node("/b1/relu/Relu", "Relu", {"c1"}, {"r1"})
                   .Node("/b2/conv/Conv", "Conv", {"r1", "w2"}, {"c2"})
                   .Output("c2")
                   .Build();
  SetTags(&from, {"/M/B[b1]", "/M/B[b1]", "/M/B[b2]"},
          {"b1.conv", "b1.relu", "b2.conv"});
  // NCHWc: reordered weights (new initializers), tensors in another
  // layout named after the tensors they hold.
  onnx::ModelProto derived =
      ModelBuilder()
          .Input("x")
          .Initializer("reorder", {2})
          .Initializer("reorder_token_1", {2})
          .Node("r1_nchwc", "Conv", {"x", "reorder"}, {"reorder_token_0"})
          .Node("c2_nchwc", "Conv", {"reorder_token_0", "reorder_token_1"},
                {"reorder_token_2"})
          .Node("ReorderOutput", "ReorderOutput", {"reorder_token_2"}, {"c2"})
          .Output("c2")
          .Build();
  const NodeList nodes = CollectNodes(derived);
  const TransferResult result =
      TransferTags(from.tagged, nodes, ValuesOf(derived));
  // r1_nchwc stands for r1, gone: it replaced b1's Conv and Relu.
  // c2_nchwc names c2, which ReorderOutput still writes back; no derived
  // node keeps b2's Conv, so c2_nchwc replaced it, and the reorder, whose
  // input then stands for c2, is a layout change inserted after it.
  EXPECT_THAT(Kinds(result), ElementsAre("replacing", "replacing", "inserted"));
  EXPECT_THAT(Tags(result), ElementsAre("/M/B[b1]", "/M/B[b2]", "/M/B[b2]"));
  EXPECT_THAT(result.Sources(0), ElementsAre(0, 1));
  EXPECT_THAT(result.Sources(1), ElementsAre(2));
  EXPECT_THAT(result.Sources(2), ElementsAre());
}

TEST(TransferRuleTest, ALayoutNodeNamedAfterAWrittenBackTensorReplacesItsWriter) {
  Tagged from;
  from.model = ModelBuilder()
                   .Input("x")
                   .Initializer("w0", {2})
                   .Initializer("w1", {2})
                   .Node("/conv1/Conv", "Conv", {"x", "w0"}, {"c0"})
                   .Node("/relu/Relu", "Relu", {"c0"}, {"r0"})
                   .Node("/b1/conv/Conv", "Conv", {"r0", "w1"}, {"c1"})
                   .Node("/b1/Add", "Add", {"c1", "r0"}, {"y"})
                   .Output("y")
                   .Build();
  SetTags(&from, {"/M", "/M", "/M/B[b1]", "/M/B[b1]"},
          {"conv1", "", "b1.conv", "b1"});
  // The stem's NCHWc convolution feeds both a reorder writing r0 back (for
  // the residual Add) and the block's convolution: its consumers sit in two
  // modules, so only its name can place it.
  onnx::ModelProto derived =
      ModelBuilder()
          .Input("x")
          .Initializer("reorder", {2})
          .Initializer("reorder_token_1", {2})
          .Node("/relu/Relu_output_0_nchwc", "Conv", {"x", "reorder"},
                {"reorder_token_0"})
          .Node("ReorderOutput_token_5", "ReorderOutput", {"reorder_token_0"},
                {"r0"})
          .Node("/b1/conv/Conv_output_0_nchwc", "Conv",
                {"reorder_token_0", "reorder_token_1"}, {"reorder_token_2"})
          .Node("ReorderOutput_token_6", "ReorderOutput", {"reorder_token_2"},
                {"c1"})
          .Node("/b1/Add", "Add", {"c1", "r0"}, {"y"})
          .Output("y")
          .Build();
  const NodeList nodes = CollectNodes(derived);
  const TransferResult result =
      TransferTags(from.tagged, nodes, ValuesOf(derived));
  EXPECT_THAT(Kinds(result), ElementsAre("replacing", "inserted", "replacing",
                                         "inserted", "kept"));
  EXPECT_THAT(Tags(result), ElementsAre("/M", "/M/B[b1]", "/M/B[b1]",
                                        "/M/B[b1]", "/M/B[b1]"));
  EXPECT_THAT(result.Sources(0), ElementsAre(0, 1));
  EXPECT_THAT(result.Sources(2), ElementsAre(2));
  EXPECT_EQ(result.statistics.Count(MatchKind::kUnplaced), 0);
}

TEST(TransferRuleTest, ANodeNothingPlacesGetsTheRootTag) {
  Tagged from = Encoder();
  onnx::ModelProto derived =
      ModelBuilder()
          .Input("x")
          .Initializer("k", {2})
          .Node("Constant_token_9", "Identity", {"k"}, {"z"})
          .Output("z")
          .Build();
  const NodeList nodes = CollectNodes(derived);
  const TransferResult result =
      TransferTags(from.tagged, nodes, ValuesOf(derived));
  EXPECT_THAT(Kinds(result), ElementsAre("unplaced"));
  EXPECT_EQ(result.TagOf(0), "/M");
  EXPECT_EQ(result.ModulePathOf(0), "");
  EXPECT_EQ(result.statistics.Count(MatchKind::kUnplaced), 1);
}

TEST(TransferRuleTest, CommonSegmentsCutsAtWholeSegments) {
  EXPECT_EQ(CommonSegments("/M/Enc/L.1", "/M/Enc/L.10", '/'), "/M/Enc");
  EXPECT_EQ(CommonSegments("/M/Enc", "/M/Enc/L.1", '/'), "/M/Enc");
  EXPECT_EQ(CommonSegments("/M/A", "/M/A", '/'), "/M/A");
  EXPECT_EQ(CommonSegments("encoder.layer.1", "encoder.layer.10", '.'),
            "encoder.layer");
  EXPECT_EQ(CommonSegments("encoder", "decoder", '.'), "");
  EXPECT_EQ(CommonSegments("", "a.b", '.'), "");
}

}  // namespace
}  // namespace hp
