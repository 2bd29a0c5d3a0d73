// `converter profile` in-process, on real onnxruntime profiles of tiny_bert
// (testdata/profiles): the text, JSON, flame graph and folded stacks agree
// with the profile's node events to the microsecond, with and without
// --optimized; and the inputs it refuses, with nothing written.
#include "hp/commands/profile.h"

#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/commands/tag.h"
#include "nlohmann/json.hpp"
#include "tests/support/run_command.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using test_files::kModels;
using test_files::ListFolder;
using test_files::ReadBytes;
using test_files::TestFolder;
using test_files::WriteBytes;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Ran;
using testing::RunCommand;

constexpr char kProfiles[] = "testdata/profiles";

std::string ProfilePath(absl::string_view name) {
  return absl::StrCat(kProfiles, "/", name);
}

std::string TaggedBert(const std::string& folder) {
  TagArgs tag;
  tag.model = absl::StrCat(kModels, "/tiny_bert.onnx");
  tag.output.output = folder + "/tiny_bert.tagged.onnx";
  tag.durability = Durability::kNoFsync;
  const Ran tagged = RunCommand(RunTag, tag);
  EXPECT_TRUE(tagged.status.ok()) << tagged.status;
  return tag.output.output;
}

// The sum of "dur" over the node kernel events of a profile, counted here
// with a full JSON parse, independently of the command.
int64_t NodeMicros(const std::string& path) {
  const nlohmann::json events = nlohmann::json::parse(ReadBytes(path));
  int64_t sum = 0;
  for (const nlohmann::json& event : events) {
    const std::string name = event.value("name", "");
    if (event.value("cat", "") == "Node" &&
        absl::EndsWith(name, "_kernel_time")) {
      sum += event["dur"].get<int64_t>();
    }
  }
  return sum;
}

ProfileArgs Args(const std::string& model, const std::string& profile) {
  ProfileArgs args;
  args.model = model;
  args.profiles = {profile};
  return args;
}

// Checks the JSON's module times: self times sum to the node time, each
// total is its self time plus its children's totals.
void ExpectConsistent(const nlohmann::json& json, int64_t node_micros) {
  EXPECT_EQ(json["totals"]["node_micros"], node_micros);
  EXPECT_EQ(json["totals"]["unknown_node_events"], 0);
  EXPECT_EQ(json["totals"]["module_micros"], node_micros);
  int64_t self_sum = 0;
  std::map<std::string, int64_t> children_total;
  for (const nlohmann::json& module : json["modules"]) {
    self_sum += module["self_micros"].get<int64_t>();
    if (!module["parent"].is_null()) {
      children_total[module["parent"]] += module["total_micros"].get<int64_t>();
    }
  }
  EXPECT_EQ(self_sum, node_micros);
  for (const nlohmann::json& module : json["modules"]) {
    EXPECT_EQ(module["total_micros"].get<int64_t>(),
              module["self_micros"].get<int64_t>() +
                  children_total[module["tag"].get<std::string>()])
        << module["tag"];
  }
}

TEST(ProfileCommandTest, AttributesEveryEventOfAnUnoptimizedSession) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.disabled.json"));
  args.json = true;
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  EXPECT_EQ(json["format"], "hp-profile");
  EXPECT_EQ(json["totals"]["runs"], 3);
  EXPECT_EQ(json["totals"]["fused_micros"], 0);
  ExpectConsistent(json, NodeMicros(args.profiles[0]));
  EXPECT_EQ(json["modules"][0]["tag"], "/TinyBertModel");
}

TEST(ProfileCommandTest, AttributesAnOptimizedSessionThroughTransfer) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.all.json"));
  args.optimized = ProfilePath("tiny_bert.all.onnx");
  args.json = true;
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  ExpectConsistent(json, NodeMicros(args.profiles[0]));
  // SkipLayerNormalization and friends replace original nodes.
  EXPECT_GT(json["totals"]["fused_micros"].get<int64_t>(), 0);
}

TEST(ProfileCommandTest, PrintsTheModuleTreeCostliestFirst) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.all.json"));
  args.optimized = ProfilePath("tiny_bert.all.onnx");
  args.runs_skip = 1;
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_THAT(ran.out, HasSubstr(" over 2 runs ("));
  EXPECT_THAT(
      ran.out,
      HasSubstr("left out (--runs_skip): 1 of 3 runs, 76 kernel calls"));
  EXPECT_THAT(ran.out, HasSubstr("on fused nodes (transfer: replacing"));
  EXPECT_THAT(ran.out, HasSubstr("every node event names a node of the model"));
  EXPECT_THAT(ran.out, HasSubstr("  100.0%"));
  EXPECT_THAT(ran.out, HasSubstr("  TinyBertModel  "));
  EXPECT_THAT(ran.out, HasSubstr("    BertEncoder  "));
  EXPECT_THAT(ran.err, IsEmpty());
}

TEST(ProfileCommandTest, TopListsModulesBySelfTimeFlat) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.disabled.json"));
  args.top = 3;
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_THAT(ran.out, HasSubstr("the 3 modules of most self time:"));
  const std::vector<std::string> lines = absl::StrSplit(ran.out, '\n');
  int rows = 0;
  for (const std::string& line : lines) {
    if (line.find("  /TinyBertModel") != std::string::npos) ++rows;
  }
  EXPECT_EQ(rows, 3);
}

TEST(ProfileCommandTest, WritesTheFlameGraphAndFoldedStacks) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.disabled.json"));
  args.svg = folder + "/bert.svg";
  args.folded = folder + "/bert.folded";
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_THAT(ran.out, HasSubstr(absl::StrCat("wrote ", args.svg)));
  const std::string svg = ReadBytes(args.svg);
  EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("<title>/TinyBertModel\ntotal "));
  int64_t folded_sum = 0;
  for (absl::string_view line :
       absl::StrSplit(ReadBytes(args.folded), '\n', absl::SkipEmpty())) {
    int64_t micros = 0;
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &micros))
        << line;
    EXPECT_TRUE(absl::StartsWith(line, "TinyBertModel")) << line;
    folded_sum += micros;
  }
  EXPECT_EQ(folded_sum, NodeMicros(args.profiles[0]));
}

TEST(ProfileCommandTest, ComparesWithABaselineBiggestChangeFirst) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.disabled.json"));
  args.baseline = {ProfilePath("tiny_bert.disabled.json")};
  args.json = true;
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  EXPECT_EQ(json["baseline"]["compared"], "per run");
  ASSERT_FALSE(json["baseline"]["modules"].empty());
  for (const nlohmann::json& row : json["baseline"]["modules"]) {
    EXPECT_EQ(row["micros"], row["baseline_micros"]);
    EXPECT_DOUBLE_EQ(row["ratio"].get<double>(), 1.0);
  }
}

TEST(ProfileCommandTest, ComparesAnOptimizedSessionWithAnUnoptimizedOne) {
  const std::string folder = TestFolder();
  ProfileArgs args =
      Args(TaggedBert(folder), ProfilePath("tiny_bert.all.json"));
  args.optimized = ProfilePath("tiny_bert.all.onnx");
  args.baseline = {ProfilePath("tiny_bert.disabled.json")};
  args.baseline_optimized = "";  // the baseline ran the tagged model
  args.json = true;
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  EXPECT_EQ(json["baseline"]["totals"]["unknown_node_events"], 0);
  EXPECT_EQ(json["baseline"]["totals"]["node_micros"],
            NodeMicros(args.baseline[0]));
  // Matched by tag: the root's times are the two profiles' totals.
  bool root = false;
  for (const nlohmann::json& row : json["baseline"]["modules"]) {
    if (row["tag"] != "/TinyBertModel") continue;
    root = true;
    EXPECT_EQ(row["micros"], NodeMicros(args.profiles[0]));
    EXPECT_EQ(row["baseline_micros"], NodeMicros(args.baseline[0]));
  }
  EXPECT_TRUE(root);
  // Attributed to the optimized graph instead, the baseline is refused.
  args.baseline_optimized = args.optimized;
  EXPECT_THAT(RunCommand(RunProfile, args).status.message(),
              HasSubstr("node events name nodes the model does not have"));
}

TEST(ProfileCommandTest, CountsEventsOfNodesTheModelLacks) {
  const std::string folder = TestFolder();
  // The profile with two events of a node the model does not have.
  std::string text = ReadBytes(ProfilePath("tiny_bert.disabled.json"));
  const std::string extra =
      R"({"cat":"Node","ph":"X","name":"/gone/MatMul_kernel_time","dur":7,"args":{}},)";
  text.insert(text.find('{'), extra + extra);
  const std::string profile = folder + "/extra.json";
  WriteBytes(profile, text);
  ProfileArgs args = Args(TaggedBert(folder), profile);
  const Ran ran = RunCommand(RunProfile, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_THAT(ran.out, HasSubstr("nodes not in the model: 2 events, 14 us"));
  EXPECT_THAT(ran.out, HasSubstr("'/gone/MatMul' (2, 14 us)"));
}

// Runs a refused profile: the error names the file, nothing is written.
void ExpectRefused(ProfileArgs args, const std::string& folder,
                   const std::string& message) {
  args.svg = folder + "/out.svg";
  args.folded = folder + "/out.folded";
  const std::vector<std::string> before = ListFolder(folder);
  const Ran ran = RunCommand(RunProfile, args);
  EXPECT_FALSE(ran.status.ok());
  EXPECT_THAT(ran.status.message(), HasSubstr(message));
  EXPECT_THAT(ran.out, IsEmpty());
  EXPECT_EQ(ListFolder(folder), before);
}

TEST(ProfileCommandTest, RefusesAProfileOfAnotherModel) {
  const std::string folder = TestFolder();
  const std::string other = ProfilePath("tiny_resnet.disabled.json");
  ExpectRefused(Args(TaggedBert(folder), other), folder,
                absl::StrCat(other, ": "));
  ExpectRefused(Args(TaggedBert(folder), other), folder,
                "node events name nodes the model does not have");
}

TEST(ProfileCommandTest, RefusesAnOptimizedSessionWithoutOptimized) {
  const std::string folder = TestFolder();
  ExpectRefused(Args(TaggedBert(folder), ProfilePath("tiny_bert.all.json")),
                folder, "--optimized");
}

TEST(ProfileCommandTest, RefusesATruncatedProfile) {
  const std::string folder = TestFolder();
  const std::string text = ReadBytes(ProfilePath("tiny_bert.disabled.json"));
  const std::string truncated = folder + "/truncated.json";
  WriteBytes(truncated, text.substr(0, text.size() / 2));
  ExpectRefused(
      Args(TaggedBert(folder), truncated), folder,
      absl::StrCat(truncated, ": the JSON ends early at byte offset"));
}

TEST(ProfileCommandTest, RefusesAProfileWithoutNodeEvents) {
  const std::string folder = TestFolder();
  const std::string empty = folder + "/session_only.json";
  WriteBytes(empty,
             R"([{"cat":"Session","name":"model_loading_uri","dur":3}])");
  ExpectRefused(Args(TaggedBert(folder), empty), folder,
                absl::StrCat(empty, ": no node events"));
}

TEST(ProfileCommandTest, RefusesATraceOfAnotherTool) {
  const std::string folder = TestFolder();
  const std::string chrome = folder + "/chrome.json";
  WriteBytes(chrome, R"({"traceEvents":[{"name":"aten::mm","ph":"X"}]})");
  ExpectRefused(Args(TaggedBert(folder), chrome), folder,
                absl::StrCat(chrome, ": not an onnxruntime profile"));
}

TEST(ProfileCommandTest, RefusesAnUntaggedModel) {
  const std::string folder = TestFolder();
  ExpectRefused(Args(absl::StrCat(kModels, "/tiny_bert.onnx"),
                     ProfilePath("tiny_bert.disabled.json")),
                folder, "carries no hp tags");
}

}  // namespace
}  // namespace hp
