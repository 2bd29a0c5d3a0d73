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

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("tiny_bert", "tiny_resnet",
                                           "tiny_gpt", "tiny_t5",
                                           "control_flow", "dynamo_style",
                                           "unscoped"));

}  // namespace
}  // namespace hp
