// The transfer rule on small graphs built in code: each kind of match, in
// its order of precedence, and the deepest common module.
#include "hp/transfer/transfer_rule.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/tag_codec.h"
#include "hp/testing/model_builder.h"
#include "hp/util/parallel.h"

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
  SetTags(&t, {"/M/Enc/Layer.0/Att", "/M/Enc/Layer.0/Att", "/M/Enc/Layer.1"},
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
  EXPECT_THAT(Tags(result),
              ElementsAre("/M/Enc/Layer.0/Att", "/M/Enc/Layer.0/Att",
                          "/M/Enc/Layer.1"));
  EXPECT_EQ(result.ModulePathOf(2), "layer.1.ln");
  EXPECT_EQ(result.statistics.Count(MatchKind::kKept), 3);
  EXPECT_THAT(result.Sources(1), ElementsAre(1));
}

TEST(TransferRuleTest, AFusionTakesTheDeepestCommonModuleOfWhatItReplaced) {
  Tagged from = Encoder();
  // MatMul + Add fused: layer.0's attention. Everything fused: the encoder.
  onnx::ModelProto within = ModelBuilder()
                                .Input("x")
                                .Initializer("w", {2, 2})
                                .Initializer("b", {2})
                                .Node("fused", "Gemm", {"x", "w", "b"}, {"a"})
                                .Node("/layer.1/ln/LayerNormalization",
                                      "LayerNormalization", {"a"}, {"y"})
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

TEST(TransferRuleTest,
     ALayoutNodeNamedAfterAWrittenBackTensorReplacesItsWriter) {
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

// Nodes out of the original's order are found by their first output
// and kept only when they are the node found: the same op type, domain
// (ai.onnx being the default), inputs and outputs. Any of those differing
// makes the node one replacing what it computes.
TEST(TransferRuleTest, ANodeFoundByItsOutputIsKeptOnlyWhenTheSame) {
  Tagged from = Encoder();
  struct Variant {
    std::string what;
    std::string domain;
    std::vector<std::string> inputs;
    std::string kind;
  };
  const std::vector<Variant> variants = {
      {"the same", "", {"a"}, "kept"},
      {"the default domain named", "ai.onnx", {"a"}, "kept"},
      {"another domain", "com.example", {"a"}, "replacing"},
      {"one more input", "", {"a", "b"}, "replacing"},
      {"another input, as many", "", {"m"}, "replacing"},
  };
  for (const Variant& variant : variants) {
    SCOPED_TRACE(variant.what);
    // Add and MatMul swapped: each is looked up, as is the last node,
    // which follows the MatMul where the LayerNormalization does not.
    onnx::ModelProto derived =
        ModelBuilder()
            .Input("x")
            .Initializer("w", {2, 2})
            .Initializer("b", {2})
            .Node("add", "Add", {"m", "b"}, {"a"})
            .Node("matmul", "MatMul", {"x", "w"}, {"m"})
            .Node("norm", "LayerNormalization", variant.inputs, {"y"})
            .Output("y")
            .Build();
    derived.mutable_graph()->mutable_node(2)->set_domain(variant.domain);
    const NodeList nodes = CollectNodes(derived);
    const TransferResult result =
        TransferTags(from.tagged, nodes, ValuesOf(derived));
    EXPECT_THAT(Kinds(result), ElementsAre("kept", "kept", variant.kind));
    EXPECT_THAT(result.Sources(0), ElementsAre(1));
    EXPECT_THAT(result.Sources(1), ElementsAre(0));
    EXPECT_THAT(result.Sources(2), ElementsAre(2));
    EXPECT_EQ(result.TagOf(2), "/M/Enc/Layer.1");
  }
}

// Enough nodes that the tensor index is built on every core, its names
// spread over a table per core: each fused pair must still replace just
// its own two nodes, and each pair left alone be kept node for node.
TEST(TransferRuleTest, AGraphIndexedOnEveryCoreMatchesPairByPair) {
  constexpr int kNodes = 3 * static_cast<int>(kNodesPerSlice);
  const auto value = [](int i) { return absl::StrCat("v", i); };
  // Node i: layer (i + 1) / 4 of block i / 1000, so that every other pair
  // spans two layers. An even node also reads a value seven back: an
  // input that is not the node before's output, looked up by name.
  std::vector<std::vector<std::string>> inputs(kNodes);
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  ModelBuilder original;
  original.Input("x").Initializer("w", {2});
  for (int i = 0; i < kNodes; ++i) {
    inputs[i] = {i == 0 ? "x" : value(i - 1), "w"};
    if (i % 2 == 0 && i >= 7) inputs[i].push_back(value(i - 7));
    original.Node(absl::StrCat("n", i), "Add", inputs[i], {value(i)});
    tags.push_back(absl::StrCat("/M/Block.", i / 1000, "/Layer.", (i + 1) / 4));
    paths.push_back(absl::StrCat("block.", i / 1000, ".layer.", (i + 1) / 4));
  }
  Tagged from;
  from.model = original.Output(value(kNodes - 1)).Build();
  SetTags(&from, std::vector<absl::string_view>(tags.begin(), tags.end()),
          std::vector<absl::string_view>(paths.begin(), paths.end()));

  // Every hundredth pair as it was; the others one node each.
  ModelBuilder derived;
  derived.Input("x").Initializer("w", {2});
  for (int j = 0; j < kNodes / 2; ++j) {
    const int first = 2 * j;
    const int second = first + 1;
    if (j % 100 == 0) {
      derived.Node(absl::StrCat("n", first), "Add", inputs[first],
                   {value(first)});
      derived.Node(absl::StrCat("n", second), "Add", inputs[second],
                   {value(second)});
      continue;
    }
    std::vector<std::string> fused_inputs = inputs[first];
    fused_inputs.push_back("w");  // the second's, besides the first's output
    derived.Node(absl::StrCat("f", j), "FusedAdd", fused_inputs,
                 {value(second)});
  }
  const onnx::ModelProto derived_model =
      derived.Output(value(kNodes - 1)).Build();
  const NodeList nodes = CollectNodes(derived_model);
  const TransferResult result =
      TransferTags(from.tagged, nodes, ValuesOf(derived_model));

  size_t at = 0;
  for (int j = 0; j < kNodes / 2; ++j) {
    const int first = 2 * j;
    const int second = first + 1;
    SCOPED_TRACE(absl::StrCat("pair ", j));
    if (j % 100 == 0) {
      for (int original_node : {first, second}) {
        EXPECT_EQ(result.kinds[at], MatchKind::kKept);
        EXPECT_EQ(result.TagOf(at), tags[original_node]);
        EXPECT_THAT(result.Sources(at), ElementsAre(original_node));
        ++at;
      }
      continue;
    }
    EXPECT_EQ(result.kinds[at], MatchKind::kReplacing);
    EXPECT_EQ(result.TagOf(at), CommonSegments(tags[first], tags[second], '/'));
    EXPECT_EQ(result.ModulePathOf(at),
              CommonSegments(paths[first], paths[second], '.'));
    EXPECT_THAT(result.Sources(at), ElementsAre(first, second));
    ++at;
  }
  EXPECT_EQ(at, nodes.size());
  EXPECT_EQ(result.TagOf(1), "/M/Block.0/Layer.0");  // pair 0, kept
  EXPECT_EQ(result.TagOf(2), "/M/Block.0");          // pair 1: layers 0, 1
  EXPECT_EQ(result.TagOf(3), "/M/Block.0/Layer.1");  // pair 2: layer 1
}

// Enough nodes for a slice per core: the slices after the first are
// matched in order on the other cores, each from where it guesses it
// starts. Whether every node is kept, a node before a slice is gone (its
// guess off by one), or a fused pair stops a slice's run, every node gets
// what the rule in order gives it, and placements are numbered in the
// order their first nodes come.
TEST(TransferRuleTest, SlicesMatchedInOrderOnEveryCoreGiveTheRulesResult) {
  constexpr int kNodes = 4 * static_cast<int>(kNodesPerSlice);
  const auto value = [](int i) { return absl::StrCat("v", i); };
  const auto inputs = [&](int i) {
    return std::vector<std::string>{i == 0 ? "x" : value(i - 1), "w"};
  };
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  ModelBuilder original;
  original.Input("x").Initializer("w", {2});
  for (int i = 0; i < kNodes; ++i) {
    original.Node(absl::StrCat("n", i), "Add", inputs(i), {value(i)});
    tags.push_back(absl::StrCat("/M/Block.", i / 1000, "/Layer.", i / 250));
    paths.push_back(absl::StrCat("block.", i / 1000, ".layer.", i / 250));
  }
  Tagged from;
  from.model = original.Output(value(kNodes - 1)).Build();
  SetTags(&from, std::vector<absl::string_view>(tags.begin(), tags.end()),
          std::vector<absl::string_view>(paths.begin(), paths.end()));

  constexpr int kGone = 100;
  constexpr int kFused = 3 * kNodes / 4 + 10;  // it and the node after
  for (const bool changed : {false, true}) {
    SCOPED_TRACE(changed ? "a node gone, a pair fused" : "every node kept");
    // Renamed, as a converter would; the same otherwise.
    ModelBuilder derived;
    derived.Input("x").Initializer("w", {2});
    std::vector<int> kept;  // per derived node, its original; -1 fused
    for (int i = 0; i < kNodes; ++i) {
      if (changed && i == kGone) continue;
      if (changed && i == kFused) {
        derived.Node("fused", "FusedAdd", {value(i - 1), "w", "w"},
                     {value(i + 1)});
        kept.push_back(-1);
        ++i;
        continue;
      }
      derived.Node(absl::StrCat("d", i), "Add", inputs(i), {value(i)});
      kept.push_back(i);
    }
    const onnx::ModelProto derived_model =
        derived.Output(value(kNodes - 1)).Build();
    const NodeList nodes = CollectNodes(derived_model);
    const TransferResult result =
        TransferTags(from.tagged, nodes, ValuesOf(derived_model));

    ASSERT_EQ(result.kinds.size(), kept.size());
    int placements = 1;  // the root's first
    for (size_t d = 0; d < kept.size(); ++d) {
      SCOPED_TRACE(absl::StrCat("derived node ", d));
      if (kept[d] < 0) {
        ASSERT_EQ(result.kinds[d], MatchKind::kReplacing);
        EXPECT_THAT(result.Sources(d), ElementsAre(kFused, kFused + 1));
        EXPECT_EQ(result.TagOf(d), tags[kFused]);
        continue;
      }
      ASSERT_EQ(result.kinds[d], MatchKind::kKept);
      ASSERT_THAT(result.Sources(d), ElementsAre(kept[d]));
      ASSERT_EQ(result.TagOf(d), tags[kept[d]]);
      ASSERT_EQ(result.ModulePathOf(d), paths[kept[d]]);
      // A new placement takes the next number.
      ASSERT_LE(result.placement[d], placements);
      if (result.placement[d] == placements) ++placements;
    }
    EXPECT_EQ(result.tags.size(), static_cast<size_t>(placements));
    EXPECT_EQ(result.statistics.Count(MatchKind::kKept),
              static_cast<int64_t>(changed ? kNodes - 3 : kNodes));
  }
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
