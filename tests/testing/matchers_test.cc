// //hp/testing's matchers accept what they promise and reject the rest, with
// messages that name the nodes at fault.
#include "hp/testing/matchers.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace {

using ::hp::testing::EveryNodeIsTagged;
using ::hp::testing::GraphBuilder;
using ::hp::testing::ModelBuilder;
using ::hp::testing::NodeHasTag;
using ::hp::testing::NoTagSharedByTwoModules;
using ::hp::testing::TraceBuilder;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Whether `matcher` accepts `value`, and what it says about it.
template <typename T>
std::pair<bool, std::string> Explain(
    const ::testing::Matcher<const T&>& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  const bool matched = matcher.MatchAndExplain(value, &listener);
  return {matched, listener.str()};
}

// encoder and decoder are both T5Stack (tag rule 5); each has a torch.nn
// Linear child that shares its tag, and the root runs a scope-free Cast.
ScopeTrace StacksTrace() {
  absl::StatusOr<ScopeTrace> trace = TraceBuilder("T5Model")
                                         .Module("encoder", "T5Stack")
                                         .TorchNn("encoder.proj", "Linear")
                                         .Module("decoder", "T5Stack")
                                         .TorchNn("decoder.proj", "Linear")
                                         .Build();
  EXPECT_TRUE(trace.ok()) << trace.status();
  return *std::move(trace);
}

onnx::ModelProto StacksModel() {
  return ModelBuilder()
      .Input("x")
      .Chain({"Cast_0", "/encoder/Relu", "/encoder/proj/MatMul",
              "/decoder/Relu", "/decoder/proj/MatMul"})
      .Node("/If", "If", {"v5"}, {"y"})
      .Subgraph("then_branch",
                GraphBuilder("then")
                    .Node("Identity_7", "Identity", {"v5"}, {"t"})
                    .Output("t"))
      .Output("y")
      .Build();
}

onnx::ModelProto Tagged(onnx::ModelProto model, const ScopeTrace* trace,
                        const TagOptions& options = TagOptions()) {
  absl::StatusOr<TagResult> result = TagModel(&model, trace, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return model;
}

void SetMetadata(onnx::NodeProto* node, absl::string_view key,
                 absl::string_view value) {
  for (onnx::StringStringEntryProto& entry : *node->mutable_metadata_props()) {
    if (entry.key() == key) entry.set_value(std::string(value));
  }
}

TEST(EveryNodeIsTaggedTest, AcceptsEveryFormatIncludingSubgraphNodes) {
  const ScopeTrace trace = StacksTrace();
  for (TagFormat format :
       {TagFormat::kMetadata, TagFormat::kAttribute, TagFormat::kDocString}) {
    SCOPED_TRACE(TagFormatName(format));
    TagOptions options;
    options.format = format;
    onnx::ModelProto model = Tagged(StacksModel(), &trace, options);
    EXPECT_THAT(model, EveryNodeIsTagged());
    EXPECT_THAT(model, NodeHasTag("Identity_7", "/T5Model"));
    EXPECT_THAT(
        model, NodeHasTag("/decoder/proj/MatMul", "/T5Model/T5Stack[decoder]"));
  }
}

TEST(EveryNodeIsTaggedTest, NamesTheUntaggedNodes) {
  const ScopeTrace trace = StacksTrace();
  onnx::ModelProto model = Tagged(StacksModel(), &trace);
  onnx::NodeProto* body_node = model.mutable_graph()
                                   ->mutable_node(5)
                                   ->mutable_attribute(0)
                                   ->mutable_g()
                                   ->mutable_node(0);
  body_node->clear_metadata_props();

  auto [matched, explanation] = Explain(EveryNodeIsTagged(), model);
  EXPECT_FALSE(matched);
  EXPECT_EQ(explanation,
            "1 of 7 nodes carry no tag (metadata format): 'Identity_7' "
            "(Identity) in main//If/then_branch");
}

TEST(EveryNodeIsTaggedTest, SaysWhenTheModelWasNeverTagged) {
  auto [matched, explanation] = Explain(EveryNodeIsTagged(), StacksModel());
  EXPECT_FALSE(matched);
  EXPECT_THAT(explanation, AllOf(StartsWith("7 of 7 nodes carry no tag"),
                                 HasSubstr("not tagged by hp?"),
                                 HasSubstr("'Cast_0' (Cast)")));
}

TEST(NodeHasTagTest, ExplainsAWrongTagAndAMissingNode) {
  const ScopeTrace trace = StacksTrace();
  onnx::ModelProto model = Tagged(StacksModel(), &trace);

  auto [matched, explanation] =
      Explain(NodeHasTag("/encoder/Relu", "/T5Model/T5Stack"), model);
  EXPECT_FALSE(matched);
  EXPECT_EQ(explanation,
            "node '/encoder/Relu' (Relu) in main has tag "
            "'/T5Model/T5Stack[encoder]'");

  std::tie(matched, explanation) =
      Explain(NodeHasTag("/encoder/Gelu", "/T5Model"), model);
  EXPECT_FALSE(matched);
  EXPECT_EQ(explanation, "the model has no node named '/encoder/Gelu'");

  EXPECT_THAT(model,
              NodeHasTag("/encoder/Relu", StartsWith("/T5Model/T5Stack[")));
  EXPECT_EQ(::testing::DescribeMatcher<const onnx::ModelProto&>(
                NodeHasTag("/encoder/Relu", "/T5Model")),
            "has a node named '/encoder/Relu' whose tag is equal to "
            "\"/T5Model\"");
}

TEST(NoTagSharedByTwoModulesTest, TorchNnChildrenMayShareTheirParentsTag) {
  const ScopeTrace trace = StacksTrace();
  onnx::ModelProto model = Tagged(StacksModel(), &trace);
  EXPECT_THAT(model,
              NodeHasTag("/encoder/proj/MatMul", "/T5Model/T5Stack[encoder]"));
  auto [matched, explanation] = Explain(NoTagSharedByTwoModules(&trace), model);
  EXPECT_TRUE(matched) << explanation;
  EXPECT_EQ(explanation, "3 kept modules, 3 distinct tags");

  absl::StatusOr<TagResult> result =
      ComputeTags(StacksModel(), &trace, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(*result, NoTagSharedByTwoModules());
}

TEST(NoTagSharedByTwoModulesTest, PropagatedRootNodesDoNotCount) {
  const ScopeTrace trace = StacksTrace();
  TagOptions options;
  options.propagate = true;
  onnx::ModelProto model = Tagged(StacksModel(), &trace, options);
  // Cast_0 feeds only the encoder: it takes the encoder's tag.
  EXPECT_THAT(model, NodeHasTag("Cast_0", "/T5Model/T5Stack[encoder]"));
  EXPECT_THAT(model, NoTagSharedByTwoModules(&trace, options));
}

TEST(NoTagSharedByTwoModulesTest, NamesKeptModulesCarryingOneTag) {
  const ScopeTrace trace = StacksTrace();
  // What hp's tags were before rule 5: both stacks as plain T5Stack.
  onnx::ModelProto collided = Tagged(StacksModel(), &trace);
  for (int i : {1, 2, 3, 4}) {
    SetMetadata(collided.mutable_graph()->mutable_node(i), kTagKey,
                "/T5Model/T5Stack");
  }
  auto [matched, explanation] =
      Explain(NoTagSharedByTwoModules(&trace), collided);
  EXPECT_FALSE(matched);
  EXPECT_EQ(explanation,
            "tag '/T5Model/T5Stack' is shared by kept modules 'decoder' "
            "(node '/decoder/Relu' (Relu) in main), 'encoder' (node "
            "'/encoder/Relu' (Relu) in main)");
}

TEST(NoTagSharedByTwoModulesTest, OnATagResultNamesTheModules) {
  TagResult result;
  result.modules = {{"", "Net", "/Net", true},
                    {"blocks.0", "Block", "/Net/Block", true},
                    {"blocks.0.fc", "Linear", "/Net/Block", false},
                    {"blocks.1", "Block", "/Net/Block", true}};
  auto [matched, explanation] = Explain(NoTagSharedByTwoModules(), result);
  EXPECT_FALSE(matched);
  EXPECT_EQ(
      explanation,
      "tag '/Net/Block' is shared by kept modules 'blocks.0', 'blocks.1'");

  result.modules[3].tag = "/Net/Block.1";
  EXPECT_THAT(result, NoTagSharedByTwoModules());
}

}  // namespace
}  // namespace hp
