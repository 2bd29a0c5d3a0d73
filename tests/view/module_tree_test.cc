// The tree the views draw: one module per tag, nodes placed by exact tag.
#include "hp/view/module_tree.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

// The twelve-layer model with the tags hp computes for its nodes, which
// shown nodes view: it stays where it is made.
struct TwelveLayers {
  TwelveLayers() {
    absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
    EXPECT_TRUE(trace.ok()) << trace.status();
    absl::StatusOr<ComputedTags> computed =
        ComputeNodeTags(nodes, &*trace, TagOptions());
    EXPECT_TRUE(computed.ok()) << computed.status();
    tags = computed.value_or(ComputedTags());
  }

  const onnx::ModelProto model = testing::TwelveLayerModel();
  const NodeList nodes = CollectNodes(model);
  ComputedTags tags;
};

TEST(ParentTagTest, DropsTheLastComponentOnly) {
  EXPECT_THAT(ParentTag("/A/B/BertLayer.10"),
              Optional(absl::string_view("/A/B")));
  EXPECT_THAT(ParentTag("/A/T5Stack[encoder.x]"),
              Optional(absl::string_view("/A")));
  EXPECT_EQ(ParentTag("/A"), std::nullopt);
  EXPECT_EQ(ParentTag("A"), std::nullopt);
}

TEST(ModuleTreeTest, LayerTenIsNotInsideLayerOne) {
  const TwelveLayers computed;
  const TagsToShow shown = ComputedTagsToShow(computed.nodes, computed.tags);
  const ModuleTree tree = ModuleTree::Build(shown);
  const int layer1 = tree.Find(testing::LayerTag(1));
  const int layer10 = tree.Find(testing::LayerTag(10));
  ASSERT_GE(layer1, 0);
  ASSERT_GE(layer10, 0);
  EXPECT_EQ(tree.modules()[layer10].parent, tree.modules()[layer1].parent);
  EXPECT_TRUE(tree.modules()[layer1].children.empty());
  EXPECT_EQ(tree.modules()[layer1].subtree_nodes, 2);
  EXPECT_EQ(tree.modules()[layer10].subtree_nodes, 2);
  for (int node : tree.modules()[layer10].nodes) {
    EXPECT_THAT(shown.nodes[node].node_name, HasSubstr("/encoder/layer.10/"));
  }
  for (int node : tree.modules()[layer1].nodes) {
    EXPECT_THAT(shown.nodes[node].node_name, HasSubstr("/encoder/layer.1/"));
  }
}

TEST(ModuleTreeTest, OneRootWithEveryNodeAndKnownPaths) {
  const TwelveLayers computed;
  const TagsToShow shown = ComputedTagsToShow(computed.nodes, computed.tags);
  const ModuleTree tree = ModuleTree::Build(shown);
  ASSERT_THAT(tree.roots(), ElementsAre(0));
  const TreeModule& root = tree.modules()[0];
  EXPECT_EQ(root.tag, "/TinyBert");
  EXPECT_EQ(root.subtree_nodes, testing::kTwelveLayerNodes);
  EXPECT_EQ(root.nodes.size(), 2u);  // /Cast and Constant_1
  // Root, encoder and twelve layers; torch.nn modules have no tag.
  EXPECT_EQ(tree.modules().size(), 2u + testing::kLayers);
  const TreeModule& layer = tree.modules()[tree.Find(testing::LayerTag(7))];
  EXPECT_EQ(layer.component, "BertLayer.7");
  EXPECT_EQ(layer.class_name, "BertLayer");
  EXPECT_THAT(layer.path, Optional(std::string("encoder.layer.7")));
  EXPECT_EQ(layer.depth, 2);
}

TEST(ModuleTreeTest, ClassesComeFromComponentsWhenModulesAreUnknown) {
  TagsToShow shown;
  for (const char* tag :
       {"/T5/T5Stack[encoder]", "/T5/T5Stack[decoder]", "/T5/Block.3"}) {
    ShownNode node;
    node.tag = tag;
    shown.nodes.push_back(node);
  }
  const ModuleTree tree = ModuleTree::Build(shown);
  ASSERT_EQ(tree.modules().size(), 4u);
  EXPECT_EQ(tree.modules()[tree.Find("/T5/T5Stack[encoder]")].class_name,
            "T5Stack");
  EXPECT_EQ(tree.modules()[tree.Find("/T5/Block.3")].class_name, "Block");
  EXPECT_EQ(tree.modules()[tree.Find("/T5/Block.3")].path, std::nullopt);
  EXPECT_EQ(tree.modules()[0].subtree_nodes, 3);
}

TEST(ModuleTreeTest, NodesWithoutATagStayOutside) {
  TagsToShow shown;
  shown.nodes.resize(2);
  shown.nodes[0].tag = "/M";
  const ModuleTree tree = ModuleTree::Build(shown);
  EXPECT_THAT(tree.module_of_node(), ElementsAre(0, -1));
  EXPECT_EQ(tree.modules()[0].subtree_nodes, 1);
}

TEST(ModuleTreeTest, StoredTagsThatDifferDoNotGrowASecondTree) {
  const TwelveLayers computed;
  StoredTags stored;
  for (size_t i = 0; i < computed.tags.size(); ++i) {
    std::string tag(computed.tags.TagOf(i));
    // As if tagged with another root name: every tag differs.
    tag.replace(0, std::string("/TinyBert").size(), "/Other");
    stored.AddNode(tag, computed.tags.ModulePathOf(i));
  }
  absl::StatusOr<TagsToShow> shown =
      StoredTagsToShow(computed.nodes, computed.tags, stored);
  ASSERT_TRUE(shown.ok()) << shown.status();
  for (const ShownNode& node : shown->nodes) EXPECT_FALSE(node.match_known);
  ASSERT_EQ(shown->warnings.size(), 1u);
  EXPECT_THAT(shown->warnings[0], HasSubstr("26 of 26 nodes"));
  const ModuleTree tree = ModuleTree::Build(*shown);
  ASSERT_EQ(tree.roots().size(), 1u);
  EXPECT_EQ(tree.modules()[tree.roots()[0]].tag, "/Other");
  EXPECT_EQ(tree.Find("/TinyBert"), -1);
}

TEST(ModuleTreeTest, StoredTagsThatAgreeKeepTheirMatch) {
  const TwelveLayers computed;
  StoredTags stored;
  for (size_t i = 0; i < computed.tags.size(); ++i) {
    stored.AddNode(computed.tags.TagOf(i), computed.tags.ModulePathOf(i));
  }
  absl::StatusOr<TagsToShow> shown =
      StoredTagsToShow(computed.nodes, computed.tags, stored);
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_TRUE(shown->read_from_model);
  EXPECT_TRUE(shown->warnings.empty());
  for (const ShownNode& node : shown->nodes) EXPECT_TRUE(node.match_known);
}

TEST(ModuleTreeTest, StoredTagsOfAnotherModelAreRefused) {
  StoredTags stored;
  stored.nodes.resize(3);
  const TwelveLayers computed;
  absl::StatusOr<TagsToShow> shown =
      StoredTagsToShow(computed.nodes, computed.tags, stored);
  EXPECT_FALSE(shown.ok());
}

TEST(ModuleTreeTest, FromNodeTagsPlacesRepeatedAndReturningTags) {
  // A tag repeated by its neighbour, left and taken up again later, and a
  // node without one.
  const std::vector<absl::string_view> tags = {
      "/M/Block.0/Attn", "/M/Block.0/Attn", "/M/Block.0", "",
      "/M/Block.1",      "/M/Block.0/Attn"};
  const ModuleTree tree =
      ModuleTree::FromNodeTags(tags.size(), [&](size_t i) { return tags[i]; });
  const int attn = tree.Find("/M/Block.0/Attn");
  const int block0 = tree.Find("/M/Block.0");
  const int block1 = tree.Find("/M/Block.1");
  const int root = tree.Find("/M");
  ASSERT_GE(attn, 0);
  ASSERT_GE(block0, 0);
  ASSERT_GE(block1, 0);
  ASSERT_GE(root, 0);
  EXPECT_THAT(tree.module_of_node(),
              ElementsAre(attn, attn, block0, -1, block1, attn));
  EXPECT_THAT(tree.modules()[attn].nodes, ElementsAre(0, 1, 5));
  EXPECT_EQ(tree.modules()[attn].parent, block0);
  EXPECT_EQ(tree.modules()[block0].subtree_nodes, 4);
  EXPECT_EQ(tree.modules()[root].subtree_nodes, 5);
  EXPECT_THAT(tree.roots(), ElementsAre(root));
}

TEST(ModuleTreeTest, FromNodeTagsKnowsATagByItsTextWhereverItLies) {
  // One text in two strings, and a view of a tag's first part, which
  // starts where the tag does.
  const std::string first = "/M/Block.0/Attn";
  const std::string second = "/M/Block.0/Attn";
  const absl::string_view block(first.data(), 10);  // "/M/Block.0"
  const std::vector<absl::string_view> tags = {first, block, second, first,
                                               block};
  const ModuleTree tree =
      ModuleTree::FromNodeTags(tags.size(), [&](size_t i) { return tags[i]; });
  const int attn = tree.Find("/M/Block.0/Attn");
  const int block0 = tree.Find("/M/Block.0");
  ASSERT_GE(attn, 0);
  ASSERT_GE(block0, 0);
  EXPECT_NE(attn, block0);
  EXPECT_THAT(tree.module_of_node(),
              ElementsAre(attn, block0, attn, attn, block0));
  EXPECT_EQ(tree.modules().size(), 3u);  // /M, /M/Block.0, its Attn
}

TEST(CheckSameNodesTest, NamesTheFirstDifferentNode) {
  const TwelveLayers computed;
  TagsToShow shown = ComputedTagsToShow(computed.nodes, computed.tags);
  const NodeList& nodes = computed.nodes;
  EXPECT_TRUE(CheckSameNodes(nodes, shown).ok());
  shown.nodes[3].node_name = "/elsewhere/Add";
  absl::Status status = CheckSameNodes(nodes, shown);
  EXPECT_THAT(status.message(), HasSubstr("node '/encoder/layer.0/Add' (Add)"));
}

}  // namespace
}  // namespace hp
