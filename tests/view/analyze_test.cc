// analyze: counts per module (own and subtree), op types and matches.
#include "hp/view/analyze.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "nlohmann/json.hpp"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

class AnalyzeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
    ASSERT_TRUE(trace.ok()) << trace.status();
    absl::StatusOr<ComputedTags> computed =
        ComputeNodeTags(nodes_, &*trace, TagOptions());
    ASSERT_TRUE(computed.ok()) << computed.status();
    computed_ = *std::move(computed);
    shown_ = ComputedTagsToShow(nodes_, computed_);
    tree_ = ModuleTree::Build(shown_);
  }

  // What shown_ views.
  const onnx::ModelProto model_ = testing::TwelveLayerModel();
  const NodeList nodes_ = CollectNodes(model_);
  ComputedTags computed_;
  TagsToShow shown_;
  ModuleTree tree_;
  AnalysisContext context_{"m.onnx", "m.trace.json"};
};

TEST_F(AnalyzeTest, TextIsAnIndentedTree) {
  const std::string text = AnalysisText(shown_, tree_, context_);
  EXPECT_THAT(text, HasSubstr("model: m.onnx\ntags: computed from trace "
                              "m.trace.json\nnodes: 26 (direct 13, parent "
                              "12, root 1); module instances: 14\n"));
  EXPECT_THAT(text, HasSubstr("\n/TinyBert: 26 nodes, 2 own (direct 1, root "
                              "1)\n  ops: Cast 1, Constant 1\n  BertEncoder "
                              "(encoder): 24 nodes, 0 own\n"));
  EXPECT_THAT(text, HasSubstr("\n    BertLayer.10 (encoder.layer.10): 2 nodes, "
                              "2 own (direct 1, parent 1)\n      ops: Add 1, "
                              "MatMul 1\n"));
}

TEST_F(AnalyzeTest, JsonCountsPerModule) {
  nlohmann::json json = nlohmann::json::parse(
      AnalysisJson(shown_, tree_, context_), nullptr, false);
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json["format"], "hp-analysis");
  EXPECT_EQ(json["tags_from"], "computed");
  EXPECT_EQ(json["statistics"]["nodes"], 26);
  EXPECT_EQ(json["statistics"]["matches"]["direct"], 13);
  EXPECT_EQ(json["statistics"]["matches"]["root"], 1);
  ASSERT_EQ(json["modules"].size(), 1u);
  const nlohmann::json& root = json["modules"][0];
  EXPECT_EQ(root["subtree_nodes"], 26);
  EXPECT_EQ(root["own_nodes"], 2);
  EXPECT_EQ(root["subtree_op_types"]["MatMul"], 12);
  const nlohmann::json& encoder = root["children"][0];
  ASSERT_EQ(encoder["children"].size(), static_cast<size_t>(testing::kLayers));
  const nlohmann::json& layer10 = encoder["children"][10];
  EXPECT_EQ(layer10["tag"], testing::LayerTag(10));
  EXPECT_EQ(layer10["path"], "encoder.layer.10");
  EXPECT_EQ(layer10["op_types"], nlohmann::json({{"Add", 1}, {"MatMul", 1}}));
  EXPECT_EQ(layer10["matches"]["parent"], 1);
  EXPECT_EQ(json["untagged_nodes"].size(), 0u);
}

TEST_F(AnalyzeTest, UnknownMatchesAndUntaggedNodesAreShown) {
  shown_.nodes[0].tag = "";
  shown_.nodes[3].match_known = false;
  tree_ = ModuleTree::Build(shown_);
  const std::string text = AnalysisText(shown_, tree_, context_);
  EXPECT_THAT(text, HasSubstr("unknown 1"));
  EXPECT_THAT(text, HasSubstr("1 nodes carry no tag:\n  node '/Cast' (Cast) "
                              "in main\n"));
  nlohmann::json json = nlohmann::json::parse(
      AnalysisJson(shown_, tree_, context_), nullptr, false);
  EXPECT_EQ(json["statistics"]["untagged"], 1);
  EXPECT_EQ(json["statistics"]["matches"]["unknown"], 1);
  EXPECT_EQ(json["untagged_nodes"][0]["name"], "/Cast");
}

}  // namespace
}  // namespace hp
