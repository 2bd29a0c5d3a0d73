// DOT: one cluster per module instance, nested like the hierarchy, each op
// inside the cluster of exactly its tag.
#include "hp/view/dot.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

constexpr int kTopLevel = -1;

struct Parsed {
  std::map<int, int> cluster_of_op;      // op index -> innermost cluster
  std::map<int, int> parent_of_cluster;  // cluster -> enclosing cluster
};

// Reads back the nesting DotText writes: one statement per line, clusters
// opened by "subgraph cluster_N {" and closed by a line "}".
Parsed ParseNesting(const std::string& text) {
  Parsed parsed;
  std::vector<int> open;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    int index;
    if (absl::ConsumePrefix(&line, "subgraph cluster_") &&
        absl::ConsumeSuffix(&line, " {") && absl::SimpleAtoi(line, &index)) {
      parsed.parent_of_cluster[index] = open.empty() ? kTopLevel : open.back();
      open.push_back(index);
    } else if (line == "}" && !open.empty()) {
      open.pop_back();
    } else if (absl::ConsumePrefix(&line, "n") &&
               !absl::StrContains(line, "->")) {
      const size_t space = line.find(' ');
      if (absl::SimpleAtoi(line.substr(0, space), &index)) {
        parsed.cluster_of_op[index] = open.empty() ? kTopLevel : open.back();
      }
    }
  }
  return parsed;
}

class DotTest : public ::testing::Test {
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
    absl::StatusOr<std::string> text = DotText(model_, nodes_, shown_, tree_);
    ASSERT_TRUE(text.ok()) << text.status();
    text_ = *text;
  }

  // What shown_ views.
  const onnx::ModelProto model_ = testing::TwelveLayerModel();
  const NodeList nodes_ = CollectNodes(model_);
  ComputedTags computed_;
  TagsToShow shown_;
  ModuleTree tree_;
  std::string text_;
};

TEST_F(DotTest, EveryOpSitsInTheClusterOfExactlyItsTag) {
  const Parsed parsed = ParseNesting(text_);
  ASSERT_EQ(parsed.cluster_of_op.size(), shown_.nodes.size());
  for (const auto& [op, cluster] : parsed.cluster_of_op) {
    EXPECT_EQ(cluster, tree_.Find(shown_.nodes[op].tag))
        << shown_.nodes[op].node_name;
  }
  EXPECT_EQ(parsed.cluster_of_op.at(22), tree_.Find(testing::LayerTag(10)));
}

TEST_F(DotTest, ClustersNestLikeTheHierarchy) {
  const Parsed parsed = ParseNesting(text_);
  ASSERT_EQ(parsed.parent_of_cluster.size(), tree_.modules().size());
  for (const auto& [cluster, parent] : parsed.parent_of_cluster) {
    EXPECT_EQ(parent, tree_.modules()[cluster].parent) << cluster;
  }
}

TEST_F(DotTest, ClustersAreLabelledWithTheLastComponent) {
  EXPECT_THAT(text_, HasSubstr("label=\"BertLayer.10\"; tooltip=\""
                               "/TinyBert/BertEncoder/BertLayer.10\""));
  EXPECT_THAT(text_, HasSubstr("label=\"TinyBert\""));
  EXPECT_THAT(text_, HasSubstr("n2 -> n3 [tooltip=\""
                               "/encoder/layer.0/dense/MatMul_output_0\"];"));
}

TEST(DotEscapeTest, QuotesAndBackslashesCannotEndTheString) {
  onnx::ModelProto model = testing::TwelveLayerModel();
  model.mutable_graph()->mutable_node(0)->set_name("/x\"];evil[\\");
  absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
  ASSERT_TRUE(trace.ok());
  const NodeList nodes = CollectNodes(model);
  absl::StatusOr<ComputedTags> computed =
      ComputeNodeTags(nodes, &*trace, TagOptions());
  ASSERT_TRUE(computed.ok());
  const TagsToShow shown = ComputedTagsToShow(nodes, *computed);
  absl::StatusOr<std::string> text =
      DotText(model, nodes, shown, ModuleTree::Build(shown));
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("tooltip=\"/x\\\"];evil[\\\\\"]"));
}

}  // namespace
}  // namespace hp
