// hp_tagged_model's outputs (tests/testing/BUILD.bazel), checked the way a
// user's test would check them: with //hp/testing's matchers.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/model_io.h"
#include "hp/tag/tag_writer.h"
#include "hp/testing/matchers.h"
#include "hp/trace/scope_trace.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::kModels;
using ::hp::testing::EveryNodeIsTagged;
using ::hp::testing::NodeHasTag;
using ::hp::testing::NoTagSharedByTwoModules;
using ::hp::testing::ReadCarriedTags;
using ::testing::Not;
using ::testing::StartsWith;

// Tests run in the runfiles root of workspace `hp`.
constexpr char kRuleOutputs[] = "tests/testing";

onnx::ModelProto Load(const std::string& path) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : onnx::ModelProto();
}

ScopeTrace LoadTrace(absl::string_view name) {
  absl::StatusOr<ScopeTrace> trace =
      LoadScopeTrace(absl::StrCat(kModels, "/", name, ".trace.json"));
  EXPECT_TRUE(trace.ok()) << trace.status();
  return *std::move(trace);
}

TEST(TaggedModelTest, DefaultOptionsGiveTheFixturesExpectedTags) {
  const ScopeTrace trace = LoadTrace("tiny_bert");
  onnx::ModelProto model =
      Load(absl::StrCat(kRuleOutputs, "/tiny_bert_tagged.onnx"));
  EXPECT_THAT(model, EveryNodeIsTagged());
  EXPECT_THAT(model, NoTagSharedByTwoModules(&trace));
  // From testdata/models/tiny_bert.expected.json.
  EXPECT_THAT(model, NodeHasTag("/encoder/layer.0/attention/self/query/MatMul",
                                "/TinyBertModel/BertEncoder/BertLayer.0/"
                                "BertAttention/BertSelfAttention"));
  EXPECT_THAT(model, NodeHasTag("/embeddings/LayerNorm/LayerNormalization",
                                "/TinyBertModel/BertEmbeddings"));
  EXPECT_THAT(model, NodeHasTag("/Cast", "/TinyBertModel"));
  EXPECT_EQ(ModelMetadataValue(model, kFormatKey), "metadata");
  EXPECT_EQ(ModelMetadataValue(model, "pkg.hp.source"), "trace");
}

TEST(TaggedModelTest, EveryOptionReachesTheConverter) {
  const ScopeTrace trace = LoadTrace("control_flow");
  onnx::ModelProto original = Load(absl::StrCat(kModels, "/control_flow.onnx"));
  onnx::ModelProto model =
      Load(absl::StrCat(kRuleOutputs, "/control_flow_options.onnx"));
  TagOptions options;
  options.keep_torch_nn_classes = {"Linear"};
  options.propagate = true;
  options.format = TagFormat::kDocString;
  absl::StatusOr<TagResult> expected = ComputeTags(original, &trace, options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  // Otherwise this test could not tell whether `propagate` was passed on.
  ASSERT_GT(expected->statistics.propagated, 0);

  EXPECT_EQ(ModelMetadataValue(model, kFormatKey), "doc_string");
  EXPECT_THAT(model, EveryNodeIsTagged());
  EXPECT_THAT(model, NoTagSharedByTwoModules(&trace, options));
  EXPECT_THAT(model, NodeHasTag("/head/Gemm", "/ControlFlowModel/Linear"));
  const std::vector<testing::CarriedTag> carried = ReadCarriedTags(model);
  ASSERT_EQ(carried.size(), expected->nodes.size());
  for (size_t i = 0; i < carried.size(); ++i) {
    EXPECT_EQ(carried[i].tag, expected->nodes[i].tag) << carried[i].node_name;
  }
}

TEST(TaggedModelTest, WithoutATraceTheTraceBesideTheModelIsNotRead) {
  onnx::ModelProto model =
      Load(absl::StrCat(kRuleOutputs, "/tiny_resnet_without_trace.onnx"));
  EXPECT_THAT(model, EveryNodeIsTagged());
  EXPECT_EQ(ModelMetadataValue(model, "pkg.hp.source"), "node-names");
  EXPECT_THAT(model,
              NodeHasTag("/layer1/layer1.0/conv1/Conv", StartsWith("/Net/")));
  EXPECT_THAT(model, NoTagSharedByTwoModules(nullptr));
}

// The matchers must be able to fail on a real model: the untagged export.
TEST(TaggedModelTest, TheUntaggedExportFailsTheMatchers) {
  onnx::ModelProto original = Load(absl::StrCat(kModels, "/tiny_bert.onnx"));
  EXPECT_THAT(original, Not(EveryNodeIsTagged()));
  EXPECT_THAT(original, Not(NodeHasTag("/Cast", "/TinyBertModel")));
}

}  // namespace
}  // namespace hp
