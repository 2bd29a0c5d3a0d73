// The core promise on real torch exports: every node's tag equals the one
// the fixture generator derived from the live torch model (torch's own
// scopes and named_modules()), never from hp's output.
#include <filesystem>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/model_io.h"
#include "hp/trace/scope_trace.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::kModels;

nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(::hp::test_files::ReadBytes(path));
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
    SCOPED_TRACE(
        absl::StrCat("node ", i, " '", got.node_name, "' in ", got.graph_path));
    EXPECT_EQ(got.node_name, nodes[i]["name"].get<std::string>());
    EXPECT_EQ(got.graph_path, nodes[i]["graph"].get<std::string>());
    EXPECT_FALSE(got.tag.empty());
    EXPECT_EQ(got.tag, nodes[i]["tag"].get<std::string>());
    EXPECT_EQ(got.module_path, nodes[i]["module_path"].get<std::string>());
  }
}

// A trace recorded before calls were added places every node by module
// alone; on all fixtures but recalls (whose re-call "relu_1" only the call
// sequence tells from the real relu_1) that gives the same tags.
TEST_P(FixtureTest, TracesWithoutCallsGiveTheSameTags) {
  if (GetParam() == "recalls") GTEST_SKIP() << "needs the call sequence";
  absl::StatusOr<onnx::ModelProto> model = LoadModel(Path(".onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  nlohmann::json text = ReadJson(Path(".trace.json"));
  ASSERT_TRUE(text.contains("calls"));
  text.erase("calls");
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text.dump(), "old.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_FALSE(trace->has_calls());
  absl::StatusOr<TagResult> result = ComputeTags(*model, &*trace, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();

  const nlohmann::json expected = ReadJson(Path(".expected.json"));
  const nlohmann::json& nodes = expected["nodes"];
  ASSERT_EQ(result->nodes.size(), nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(result->nodes[i].tag, nodes[i]["tag"].get<std::string>())
        << result->nodes[i].node_name;
  }
}

TEST(RecallsTest, WithoutCallsTheReCallCollidingWithRelu1GoesToRelu1) {
  // What the call sequence fixes: by module alone, the scope "relu_1" of
  // relu's second call names the real module relu_1.
  const std::string base = absl::StrCat(kModels, "/recalls");
  absl::StatusOr<onnx::ModelProto> model = LoadModel(base + ".onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  nlohmann::json text = ReadJson(base + ".trace.json");
  text.erase("calls");
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text.dump(), "old.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<TagResult> result = ComputeTags(*model, &*trace, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->nodes[12].node_name, "/relu_1/Relu_2");
  EXPECT_EQ(result->nodes[12].module_path, "relu_1");
}

// Without a trace the containers that never ran are unknown, so module
// paths lack them ("left.proj" for heads.left.proj), but every module
// instance still gets a path of its own.
TEST(ContainersTest, WithoutATraceEveryInstanceGetsAPathOfItsOwn) {
  const std::string base = absl::StrCat(kModels, "/containers");
  absl::StatusOr<onnx::ModelProto> model = LoadModel(base + ".onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<TagResult> result = ComputeTags(*model, nullptr, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  const nlohmann::json expected = ReadJson(base + ".expected.json");
  const nlohmann::json& nodes = expected["nodes"];
  ASSERT_EQ(result->nodes.size(), nodes.size());
  absl::flat_hash_map<std::string, std::string> path_of, expected_of;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string want = nodes[i]["module_path"].get<std::string>();
    const std::string& got = result->nodes[i].module_path;
    EXPECT_EQ(path_of.try_emplace(want, got).first->second, got) << want;
    EXPECT_EQ(expected_of.try_emplace(got, want).first->second, want) << got;
  }
  EXPECT_EQ(path_of["heads.left.proj"], "left.proj");
  EXPECT_EQ(path_of["towers.x.1.proj"], "x.1.proj");
  EXPECT_EQ(path_of["block.block"], "block");
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
    EXPECT_EQ(result->nodes[i].tag,
              expected["nodes"][i]["tag"].get<std::string>())
        << result->nodes[i].node_name;
    EXPECT_EQ(result->nodes[i].module_path,
              expected["nodes"][i]["module_path"].get<std::string>())
        << result->nodes[i].node_name;
  }
}

// Without a trace, TorchScript names still give every module path; tags are
// then made of those paths' components under the root name.
// control_flow has scope-free nodes (Constant_N, If_N) in the root's own
// forward; with propagation they take the tag their consumers agree on.
TEST(PropagationTest, ScopeFreeNodesTakeTheirConsumersTag) {
  const std::string base = absl::StrCat(kModels, "/control_flow");
  absl::StatusOr<onnx::ModelProto> model = LoadModel(base + ".onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(base + ".trace.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  TagOptions options;
  absl::StatusOr<TagResult> plain = ComputeTags(*model, &*trace, options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  options.propagate = true;
  absl::StatusOr<TagResult> propagated = ComputeTags(*model, &*trace, options);
  ASSERT_TRUE(propagated.ok()) << propagated.status();

  const TagStatistics& before = plain->statistics;
  const TagStatistics& after = propagated->statistics;
  EXPECT_GT(after.propagated, 0);
  EXPECT_EQ(after.root + after.propagated, before.root);
  EXPECT_EQ(after.direct, before.direct);
  EXPECT_EQ(after.parent, before.parent);

  // Each propagated node's tag is the one all its consumers carry (these
  // scope-free nodes all feed the root's own ops or the If/Loop).
  absl::flat_hash_map<std::string, std::vector<std::string>> consumer_tags;
  for (const NodeTag& node : propagated->nodes) {
    if (node.graph_path != "main") continue;
    for (const onnx::NodeProto& proto : model->graph().node()) {
      if (proto.name() != node.node_name) continue;
      for (const std::string& input : proto.input()) {
        consumer_tags[input].push_back(node.tag);
      }
    }
  }
  int checked = 0;
  for (size_t i = 0; i < propagated->nodes.size(); ++i) {
    const NodeTag& node = propagated->nodes[i];
    if (node.match != MatchKind::kPropagated) {
      EXPECT_EQ(node.tag, plain->nodes[i].tag) << node.node_name;
      continue;
    }
    EXPECT_EQ(plain->nodes[i].match, MatchKind::kRoot) << node.node_name;
    if (node.graph_path != "main") continue;
    for (const onnx::NodeProto& proto : model->graph().node()) {
      if (proto.name() != node.node_name) continue;
      for (const std::string& output : proto.output()) {
        for (const std::string& tag : consumer_tags[output]) {
          EXPECT_EQ(tag, node.tag) << node.node_name << " -> " << output;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

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
    EXPECT_EQ(node.module_path,
              expected["nodes"][i]["module_path"].get<std::string>())
        << node.node_name;
    if (node.node_name == "/encoder/layer.1/attention/self/query/MatMul") {
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
                                           "control_flow", "containers",
                                           "recalls", "dynamo_style",
                                           "unscoped"));

}  // namespace
}  // namespace hp
