// The core promise on real torch exports: every node's tag equals the one
// the fixture generator derived from the live torch model (torch's own
// scopes and named_modules()), never from hp's output.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/model_io.h"
#include "hp/trace/scope_trace.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

constexpr char kModels[] = "testdata/models";

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

class FixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Path(absl::string_view suffix) const {
    return absl::StrCat(kModels, "/", GetParam(), suffix);
  }
};

TEST_P(FixtureTest, TagsEqualTheGeneratorsExpectedTags) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(Path(".onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(Path(".trace.json"));
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<TagResult> result = ComputeTags(*model, &*trace, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();

  nlohmann::json expected = ReadJson(Path(".expected.json"));
  const nlohmann::json& nodes = expected["nodes"];
  ASSERT_EQ(result->nodes.size(), nodes.size());
  EXPECT_EQ(result->root_tag, expected["root_tag"].get<std::string>());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeTag& got = result->nodes[i];
    SCOPED_TRACE(absl::StrCat("node ", i, " '", got.node_name, "' in ",
                              got.graph_path));
    EXPECT_EQ(got.node_name, nodes[i]["name"].get<std::string>());
    EXPECT_EQ(got.graph_path, nodes[i]["graph"].get<std::string>());
    EXPECT_FALSE(got.tag.empty());
    EXPECT_EQ(got.tag, nodes[i]["tag"].get<std::string>());
  }
}

TEST_P(FixtureTest, ModuleTagsEqualTheGeneratorsAndIdentifyOneInstance) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(Path(".onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(Path(".trace.json"));
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<TagResult> result = ComputeTags(*model, &*trace, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();

  nlohmann::json expected = ReadJson(Path(".expected.json"))["module_tags"];
  absl::flat_hash_map<std::string, std::string> owner_of_tag;
  for (const ModuleInfo& module : result->modules) {
    ASSERT_TRUE(expected.contains(module.path)) << module.path;
    EXPECT_EQ(module.tag, expected[module.path].get<std::string>())
        << module.path;
    if (!module.kept) continue;
    auto [it, inserted] = owner_of_tag.emplace(module.tag, module.path);
    EXPECT_TRUE(inserted) << "modules '" << it->second << "' and '"
                          << module.path << "' share tag " << module.tag;
  }
  EXPECT_EQ(result->modules.size(), expected.size());
}

// The dynamo exporter's node metadata names modules and classes itself, so
// such a model needs no trace to get the same tags.
TEST(DynamoMetadataTest, TagsWithoutATraceEqualTheExpectedTags) {
  const std::string base = absl::StrCat(kModels, "/dynamo_style");
  absl::StatusOr<onnx::ModelProto> model = LoadModel(base + ".onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<TagResult> result = ComputeTags(*model, nullptr, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->source, HierarchySource::kDynamoMetadata);

  nlohmann::json expected = ReadJson(base + ".expected.json");
  ASSERT_EQ(result->nodes.size(), expected["nodes"].size());
  for (size_t i = 0; i < result->nodes.size(); ++i) {
    EXPECT_EQ(result->nodes[i].tag, expected["nodes"][i]["tag"].get<std::string>())
        << result->nodes[i].node_name;
    EXPECT_EQ(result->nodes[i].module_path,
              expected["nodes"][i]["module_path"].get<std::string>())
        << result->nodes[i].node_name;
  }
}

// Without a trace, TorchScript names still give every module path; tags are
// then made of those paths' components under the root name.
class NodeNamesOnlyTest : public FixtureTest {};

TEST_P(NodeNamesOnlyTest, TagsFollowModulePathsWithoutClasses) {
  const std::string base = absl::StrCat(kModels, "/", GetParam());
  absl::StatusOr<onnx::ModelProto> model = LoadModel(base + ".onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<TagResult> result = ComputeTags(*model, nullptr, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->source, HierarchySource::kNodeNames);
  EXPECT_EQ(result->root_tag, "/Model");

  nlohmann::json expected = ReadJson(base + ".expected.json");
  for (size_t i = 0; i < result->nodes.size(); ++i) {
    const NodeTag& node = result->nodes[i];
    // The module path is the same one torch's scopes gave the generator.
    EXPECT_EQ(node.module_path, expected["nodes"][i]["module_path"].get<std::string>())
        << node.node_name;
    if (node.node_name ==
        "/encoder/layer.1/attention/self/query/MatMul") {
      EXPECT_EQ(node.tag, "/Model/encoder/layer.1/attention/self/query");
    }
  }
}

// Fixtures whose node names carry every scope (no scope-free subgraphs, no
// renamed nodes); tiny_gpt and tiny_resnet call modules twice ("_1").
INSTANTIATE_TEST_SUITE_P(Fixtures, NodeNamesOnlyTest,
                         ::testing::Values("tiny_bert", "tiny_resnet",
                                           "tiny_gpt", "tiny_t5"));

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("tiny_bert", "tiny_resnet",
                                           "tiny_gpt", "tiny_t5",
                                           "control_flow", "dynamo_style",
                                           "unscoped"));

}  // namespace
}  // namespace hp
