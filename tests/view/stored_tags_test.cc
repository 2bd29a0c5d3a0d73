// Reading tags back from a tagged model, in each of hp's formats, and
// noticing every entry that is not as hp writes it.
#include "hp/view/stored_tags.h"

#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Tagged {
  onnx::ModelProto model;
  TagResult result;
};

Tagged TagTwelveLayers(TagFormat format) {
  absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
  EXPECT_TRUE(trace.ok()) << trace.status();
  Tagged tagged{testing::TwelveLayerModel(), {}};
  TagOptions options;
  options.format = format;
  absl::StatusOr<TagResult> result = TagModel(&tagged.model, &*trace, options);
  EXPECT_TRUE(result.ok()) << result.status();
  tagged.result = *result;
  return tagged;
}

// The node of the model's main graph at `index`, and one of its entries.
onnx::StringStringEntryProto* Entry(onnx::ModelProto* model, int index,
                                    const std::string& key) {
  for (auto& entry :
       *model->mutable_graph()->mutable_node(index)->mutable_metadata_props()) {
    if (entry.key() == key) return &entry;
  }
  ADD_FAILURE() << "no " << key;
  return nullptr;
}

class FormatTest : public ::testing::TestWithParam<TagFormat> {};

TEST_P(FormatTest, ReadsBackWhatTagModelWrote) {
  Tagged tagged = TagTwelveLayers(GetParam());
  absl::StatusOr<StoredTags> stored = ReadStoredTags(tagged.model, "m.onnx");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->format, GetParam());
  EXPECT_THAT(stored->problems, IsEmpty());
  EXPECT_EQ(stored->source, "trace");
  EXPECT_EQ(stored->hp_version, kVersion);
  ASSERT_EQ(stored->nodes.size(), tagged.result.nodes.size());
  for (size_t i = 0; i < stored->nodes.size(); ++i) {
    EXPECT_EQ(stored->Tag(i), tagged.result.nodes[i].tag) << i;
    if (GetParam() == TagFormat::kAttribute) {
      EXPECT_EQ(stored->ModulePath(i), std::nullopt);
    } else {
      EXPECT_EQ(stored->ModulePath(i), tagged.result.nodes[i].module_path);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, FormatTest,
                         ::testing::Values(TagFormat::kMetadata,
                                           TagFormat::kAttribute,
                                           TagFormat::kDocString));

TEST(ReadStoredTagsTest, AnUntaggedModelIsAClearError) {
  absl::StatusOr<StoredTags> stored =
      ReadStoredTags(testing::TwelveLayerModel(), "plain.onnx");
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stored.status().message(),
              HasSubstr("plain.onnx: not tagged by hp"));
  EXPECT_THAT(stored.status().message(), HasSubstr("run converter tag first"));
}

TEST(ReadStoredTagsTest, AnUnknownFormatIsAnError) {
  Tagged tagged = TagTwelveLayers(TagFormat::kMetadata);
  for (auto& entry : *tagged.model.mutable_metadata_props()) {
    if (entry.key() == kFormatKey) entry.set_value("xml");
  }
  absl::StatusOr<StoredTags> stored = ReadStoredTags(tagged.model, "m.onnx");
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(stored.status().message(), HasSubstr("xml"));
}

TEST(ReadStoredTagsTest, NotesMalformedMetadataNamingTheNode) {
  Tagged tagged = TagTwelveLayers(TagFormat::kMetadata);
  onnx::ModelProto& model = tagged.model;
  Entry(&model, 2, kTagKey)->set_value("");
  Entry(&model, 3, kNamespaceKey)->set_value("TinyBert/Elsewhere");
  // Node 4 loses its module path, match kind and namespace.
  auto* props =
      model.mutable_graph()->mutable_node(4)->mutable_metadata_props();
  props->RemoveLast();  // namespace
  props->RemoveLast();  // pkg.hp.match
  props->RemoveLast();  // pkg.hp.module_path
  *model.mutable_graph()->mutable_node(5)->add_metadata_props() =
      *Entry(&model, 5, kTagKey);

  absl::StatusOr<StoredTags> stored = ReadStoredTags(model, "m.onnx");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(stored->problems,
              Contains("node '/encoder/layer.0/dense/MatMul' (MatMul) in main: "
                       "empty tag"));
  EXPECT_THAT(stored->problems,
              Contains(HasSubstr("node '/encoder/layer.0/Add' (Add) in main: "
                                 "namespace 'TinyBert/Elsewhere' is not its "
                                 "tag without the leading '/'")));
  EXPECT_THAT(stored->problems,
              Contains("node '/encoder/layer.1/dense/MatMul' (MatMul) in main: "
                       "has no pkg.hp.module_path"));
  EXPECT_THAT(stored->problems,
              Contains("node '/encoder/layer.1/dense/MatMul' (MatMul) in main: "
                       "has no match kind although hp wrote one on other "
                       "nodes"));
  EXPECT_THAT(
      stored->problems,
      Contains(HasSubstr("node '/encoder/layer.1/dense/MatMul' (MatMul) "
                         "in main: has no namespace although hp wrote "
                         "one on 25 other nodes")));
  EXPECT_THAT(stored->problems,
              Contains("node '/encoder/layer.1/Add' (Add) in main: pkg.hp.tag "
                       "appears 2 times"));
  EXPECT_EQ(stored->problems.size(), 6u);
}

// Large graphs are read in slices on all cores; the problems still come
// in node order, whichever slice finds them.
TEST(ReadStoredTagsTest, ProblemsOfAGraphReadInSlicesComeInNodeOrder) {
  constexpr int kNodes = 30000;
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("chain");
  graph->add_input()->set_name("x");
  for (int i = 0; i < kNodes; ++i) {
    onnx::NodeProto* node = graph->add_node();
    node->set_op_type("Identity");
    node->set_name(absl::StrCat("/block.", i % 7, "/Identity_", i));
    node->add_input(i == 0 ? "x" : absl::StrCat("t", i - 1));
    node->add_output(absl::StrCat("t", i));
  }
  graph->add_output()->set_name(absl::StrCat("t", kNodes - 1));
  ASSERT_TRUE(TagModel(&model, nullptr, TagOptions()).ok());
  // Broken last to first, so that no order of writing hides a wrong merge.
  Entry(&model, 29000, kTagKey)->set_value("");
  *graph->mutable_node(20001)->add_metadata_props() =
      *Entry(&model, 20001, kTagKey);
  *graph->mutable_node(100)->add_metadata_props() =
      *Entry(&model, 100, kTagKey);
  Entry(&model, 7, kModulePathKey)->set_key("pkg.hp.elsewhere");

  absl::StatusOr<StoredTags> stored = ReadStoredTags(model, "m.onnx");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(
      stored->problems,
      ::testing::ElementsAre(
          "node '/block.0/Identity_7' (Identity) in main: has no "
          "pkg.hp.module_path",
          "node '/block.2/Identity_100' (Identity) in main: pkg.hp.tag "
          "appears 2 times",
          "node '/block.2/Identity_20001' (Identity) in main: pkg.hp.tag "
          "appears 2 times",
          "node '/block.6/Identity_29000' (Identity) in main: empty tag"));
  ASSERT_EQ(stored->nodes.size(), static_cast<size_t>(kNodes));
  EXPECT_EQ(stored->Tag(29999), "/Model/block.4");
  EXPECT_EQ(stored->Tag(29000), "");
  // Each distinct tag and module path is kept once, whichever slice read
  // it: nodes far apart share the id.
  std::set<std::string> distinct;
  for (size_t i = 0; i < stored->nodes.size(); ++i) {
    if (std::optional<absl::string_view> tag = stored->Tag(i)) {
      distinct.emplace(*tag);
    }
    if (std::optional<absl::string_view> path = stored->ModulePath(i)) {
      distinct.emplace(*path);
    }
  }
  EXPECT_EQ(stored->texts.size(), distinct.size());
  EXPECT_EQ(stored->nodes[29999].tag, stored->nodes[4].tag);
  EXPECT_EQ(stored->nodes[29999].module_path, stored->nodes[4].module_path);
}

TEST(ReadStoredTagsTest, WithoutNamespacesNoneIsMissing) {
  absl::StatusOr<ScopeTrace> trace = testing::TwelveLayerTrace();
  ASSERT_TRUE(trace.ok());
  onnx::ModelProto model = testing::TwelveLayerModel();
  TagOptions options;
  options.write_namespace = false;
  ASSERT_TRUE(TagModel(&model, &*trace, options).ok());
  absl::StatusOr<StoredTags> stored = ReadStoredTags(model, "m.onnx");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(stored->problems, IsEmpty());
}

TEST(ReadStoredTagsTest, NotesMalformedModelMetadata) {
  Tagged tagged = TagTwelveLayers(TagFormat::kMetadata);
  for (auto& entry : *tagged.model.mutable_metadata_props()) {
    if (entry.key() == "pkg.hp.trace_sha256") entry.set_value("abc");
    if (entry.key() == "pkg.hp.statistics") entry.set_value("{\"nodes\":3}");
  }
  absl::StatusOr<StoredTags> stored = ReadStoredTags(tagged.model, "m.onnx");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(stored->problems,
              Contains(HasSubstr("pkg.hp.trace_sha256 'abc' is not 64")));
  EXPECT_THAT(stored->problems,
              Contains(HasSubstr("pkg.hp.statistics counts 3 nodes, the model "
                                 "has 26")));
}

TEST(ReadStoredTagsTest, NotesDocStringsThatAreNotHps) {
  Tagged tagged = TagTwelveLayers(TagFormat::kDocString);
  tagged.model.mutable_graph()->mutable_node(0)->set_doc_string("{not json");
  tagged.model.mutable_graph()->mutable_node(1)->set_doc_string(
      "{\"hp\":1,\"hierarchy_tag\":7,\"module_path\":\"\"}");
  absl::StatusOr<StoredTags> stored = ReadStoredTags(tagged.model, "m.onnx");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(stored->problems,
              Contains("node '/Cast' (Cast) in main: its doc_string holds no "
                       "hp JSON"));
  EXPECT_THAT(stored->problems,
              Contains(HasSubstr("node 'Constant_1' (Constant) in main: "
                                 "doc_string JSON: \"hierarchy_tag\"")));
  EXPECT_EQ(stored->Tag(0), std::nullopt);
}

}  // namespace
}  // namespace hp
