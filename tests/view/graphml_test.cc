// GraphML: each op sits in the group node of the module with exactly its
// tag; edges carry the tensor's name, type and shape.
#include "hp/view/graphml.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

// Op node id ("n5") -> id of the node enclosing it ("m3"), "" at the top,
// from the nesting of <node ...> and </node> in the text.
std::map<std::string, std::string> EnclosingNodes(const std::string& text) {
  std::map<std::string, std::string> enclosing;
  std::vector<std::string> open;
  const std::string start = "<node id=\"";
  const std::string end = "</node>";
  for (size_t at = 0;;) {
    const size_t next_start = text.find(start, at);
    const size_t next_end = text.find(end, at);
    if (next_start == std::string::npos && next_end == std::string::npos) break;
    if (next_start < next_end) {
      const size_t id_begin = next_start + start.size();
      const std::string id =
          text.substr(id_begin, text.find('"', id_begin) - id_begin);
      enclosing[id] = open.empty() ? "" : open.back();
      open.push_back(id);
      at = id_begin;
    } else {
      EXPECT_FALSE(open.empty()) << "unbalanced </node>";
      if (!open.empty()) open.pop_back();
      at = next_end + end.size();
    }
  }
  EXPECT_TRUE(open.empty()) << "unclosed <node>";
  return enclosing;
}

// The twelve-layer model drawn. `shown` views its nodes and tags: a Drawn
// stays where it is made.
struct Drawn {
  Drawn();

  const onnx::ModelProto model = testing::TwelveLayerModel();
  const NodeList nodes = CollectNodes(model);
  ComputedTags computed;
  TagsToShow shown;
  ModuleTree tree;
  std::string text;
};

Drawn::Drawn() {
  absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
  EXPECT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<ComputedTags> tags =
      ComputeNodeTags(nodes, &*trace, TagOptions());
  EXPECT_TRUE(tags.ok()) << tags.status();
  computed = tags.value_or(ComputedTags());
  shown = ComputedTagsToShow(nodes, computed);
  tree = ModuleTree::Build(shown);
  absl::StatusOr<std::string> drawn = GraphmlText(model, nodes, shown, tree);
  EXPECT_TRUE(drawn.ok()) << drawn.status();
  text = drawn.value_or("");
}

TEST(GraphmlTest, EveryOpSitsInTheModuleWithExactlyItsTag) {
  const Drawn drawn;
  const std::map<std::string, std::string> enclosing =
      EnclosingNodes(drawn.text);
  for (size_t i = 0; i < drawn.shown.nodes.size(); ++i) {
    const std::string tag(drawn.shown.nodes[i].tag);
    SCOPED_TRACE(drawn.shown.nodes[i].node_name);
    auto it = enclosing.find(absl::StrCat("n", i));
    ASSERT_NE(it, enclosing.end());
    EXPECT_EQ(it->second, absl::StrCat("m", drawn.tree.Find(tag)));
  }
  // And the one that string prefixes get wrong, spelled out.
  const int layer10 = drawn.tree.Find(testing::LayerTag(10));
  const int layer1 = drawn.tree.Find(testing::LayerTag(1));
  EXPECT_EQ(enclosing.at("n22"),
            absl::StrCat("m", layer10));  // layer.10 MatMul
  EXPECT_EQ(enclosing.at("n23"), absl::StrCat("m", layer10));  // layer.10 Add
  EXPECT_EQ(enclosing.at(absl::StrCat("m", layer10)),
            enclosing.at(absl::StrCat("m", layer1)));
}

TEST(GraphmlTest, ModulesAreYedGroupsWithNestedGraphs) {
  const Drawn drawn;
  EXPECT_THAT(drawn.text,
              HasSubstr("<node id=\"m0\" yfiles.foldertype=\"group\">"));
  EXPECT_THAT(drawn.text,
              HasSubstr("<graph id=\"m0:\" edgedefault=\"directed\">"));
  EXPECT_THAT(drawn.text, HasSubstr("<data key=\"label\">BertLayer.10</data>"));
  // Root, encoder, twelve layers.
  size_t groups = 0;
  for (size_t at = 0;
       (at = drawn.text.find("yfiles.foldertype", at)) != std::string::npos;
       ++at) {
    ++groups;
  }
  EXPECT_EQ(groups, 2u + testing::kLayers);
}

TEST(GraphmlTest, EdgesCarryTensorNameTypeAndShape) {
  const Drawn drawn;
  size_t edges = 0;
  for (size_t at = 0; (at = drawn.text.find("<edge ", at)) != std::string::npos;
       ++at) {
    ++edges;
  }
  // Layer 0's MatMul reads /Cast; every Add reads its MatMul and Constant_1;
  // every later MatMul reads the Add before it.
  EXPECT_EQ(edges, 1u + 2u * testing::kLayers + (testing::kLayers - 1u));
  EXPECT_THAT(drawn.text,
              HasSubstr("source=\"n2\" target=\"n3\"><data key=\"tensor\">"
                        "/encoder/layer.0/dense/MatMul_output_0</data><data "
                        "key=\"elem_type\">FLOAT</data><data key=\"shape\">"
                        "[2,hidden]</data></edge>"));
}

TEST(GraphmlTest, NamesAreEscaped) {
  onnx::ModelProto model = testing::TwelveLayerModel();
  model.mutable_graph()->mutable_node(1)->set_name("a<b>&\"c'\xff");
  absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
  ASSERT_TRUE(trace.ok());
  const NodeList nodes = CollectNodes(model);
  absl::StatusOr<ComputedTags> computed =
      ComputeNodeTags(nodes, &*trace, TagOptions());
  ASSERT_TRUE(computed.ok());
  const TagsToShow shown = ComputedTagsToShow(nodes, *computed);
  absl::StatusOr<std::string> text =
      GraphmlText(model, nodes, shown, ModuleTree::Build(shown));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("a&lt;b&gt;&amp;&quot;c&apos;\xEF\xBF\xBD"));
}

TEST(GraphmlTest, TagsOfAnotherModelAreRefused) {
  const Drawn drawn;
  onnx::ModelProto other = testing::TwelveLayerModel();
  other.mutable_graph()->mutable_node()->RemoveLast();
  EXPECT_FALSE(
      GraphmlText(other, CollectNodes(other), drawn.shown, drawn.tree).ok());
}

}  // namespace
}  // namespace hp
