// Node events onto nodes and modules, on a graph and profiles built in
// code: exact sums, warm-up runs, unknown and duplicated names, fused
// nodes, the refusals; and the flame graph and folded stacks of the result.
#include "hp/profile/module_profile.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/profile/flame_graph.h"

namespace hp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// /M holds n0; /M/A holds a1 and a2 (a2 fused); /M/A/B holds b1; /M/C
// holds c1 and c1 again (a duplicated name); one node has no name.
std::unique_ptr<ProfiledGraph> Graph() {
  return ProfiledGraph::FromNodes({
      {"n0", "Shape", "/M", "", false},
      {"a1", "MatMul", "/M/A", "a", false},
      {"a2", "FusedMatMul", "/M/A", "a", true},
      {"b1", "Add", "/M/A/B", "a.b", false},
      {"c1", "Relu", "/M/C", "c", false},
      {"c1", "Relu", "/M/C", "c", false},
      {"", "Identity", "/M", "", false},
  });
}

std::string Event(absl::string_view node, int64_t dur) {
  return absl::StrCat(
      R"({"cat":"Node","ph":"X","name":")", node, R"(_kernel_time","dur":)",
      dur, R"(,"args":{"op_name":"X","provider":"CPUExecutionProvider"}})");
}

std::string ModelRun(int64_t wall) {
  return absl::StrCat(R"({"cat":"Session","name":"model_run","dur":)", wall,
                      "}");
}

std::string Profile(const std::vector<std::string>& events) {
  return absl::StrCat(
      R"([{"cat":"Session","name":"session_initialization","dur":5},)",
      absl::StrJoin(events, ","), "]");
}

int Module(const ProfiledGraph& graph, absl::string_view tag) {
  const int m = graph.tree().Find(tag);
  EXPECT_GE(m, 0) << tag;
  return m;
}

TEST(ModuleProfileTest, SumsSelfAndSubtreeTimeExactly) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(times
                  .AddBytes(Profile({Event("n0", 1), Event("a1", 10),
                                     Event("a2", 20), Event("b1", 300),
                                     Event("c1", 4000), ModelRun(9999)}),
                            "p.json")
                  .ok());
  ASSERT_TRUE(times.Check().ok());
  EXPECT_EQ(times.kernel().micros, 4331);
  EXPECT_EQ(times.kernel().calls, 5);
  EXPECT_EQ(times.runs(), 1);
  EXPECT_EQ(times.run_wall_micros(), 9999);
  EXPECT_EQ(times.session_events(), 2);
  const ModuleProfile profile = ProfileModules(*graph, times);
  const ModuleTime& root = profile.modules[Module(*graph, "/M")];
  const ModuleTime& a = profile.modules[Module(*graph, "/M/A")];
  const ModuleTime& b = profile.modules[Module(*graph, "/M/A/B")];
  const ModuleTime& c = profile.modules[Module(*graph, "/M/C")];
  EXPECT_EQ(root.self_micros, 1);
  EXPECT_EQ(root.total_micros, 4331);
  EXPECT_EQ(root.total_calls, 5);
  EXPECT_EQ(a.self_micros, 30);
  EXPECT_EQ(a.total_micros, 330);
  EXPECT_EQ(b.total_micros, 300);
  EXPECT_EQ(c.total_micros, 4000);
  EXPECT_EQ(profile.module_micros, 4331);
  // The fused node's time, in its module and every module above.
  EXPECT_EQ(a.fused_micros, 20);
  EXPECT_EQ(root.fused_micros, 20);
  EXPECT_EQ(profile.fused_micros, 20);
  EXPECT_EQ(b.fused_micros, 0);
  // Op types over the subtree, costliest first.
  ASSERT_EQ(a.ops.size(), 3u);
  EXPECT_EQ(a.ops[0].op_type, "Add");
  EXPECT_EQ(a.ops[1].op_type, "FusedMatMul");
  EXPECT_EQ(a.ops[2].op_type, "MatMul");
  EXPECT_EQ(root.ops[0].op_type, "Relu");
  // Costliest first, children after their parent.
  std::vector<std::string> order;
  for (int m : profile.tree_order) {
    order.push_back(graph->tree().modules()[m].tag);
  }
  EXPECT_THAT(order, ElementsAre("/M", "/M/C", "/M/A", "/M/A/B"));
}

TEST(ModuleProfileTest, ReportsUnnamedAndDuplicatedNodes) {
  const auto graph = Graph();
  EXPECT_EQ(graph->unnamed_nodes(), 1);
  EXPECT_THAT(graph->duplicate_names(), ElementsAre("c1"));
  EXPECT_EQ(graph->Find("c1"), 4);
  EXPECT_EQ(graph->Find(""), -1);
  EXPECT_EQ(graph->module_paths()[Module(*graph, "/M/A/B")], "a.b");
}

TEST(ModuleProfileTest, DuplicatedNamesAreListedInTheOrderTheyRepeat) {
  // "z" repeats first (at node 3), then "a" (node 5), then "m" (node 7);
  // each name's first node is the one found, also from a later one's
  // hint. Among a million names, nodes of one name still meet.
  std::vector<std::string> names = {"a", "m", "z", "z", "z",
                                    "a", "q", "m", "a"};
  for (int i = 0; i < 1000000; ++i) names.push_back(absl::StrCat("/n", i));
  names.push_back("/n12345");
  std::vector<ProfiledNode> nodes;
  for (const std::string& name : names) {
    nodes.push_back({name, "Add", "/M", "", false});
  }
  const auto graph = ProfiledGraph::FromNodes(std::move(nodes));
  EXPECT_THAT(graph->duplicate_names(), ElementsAre("z", "a", "m", "/n12345"));
  EXPECT_EQ(graph->Find("a"), 0);
  EXPECT_EQ(graph->Find("z", 4), 2);
  EXPECT_EQ(graph->Find("m", 7), 1);
  EXPECT_EQ(graph->Find("q", 6), 6);
  EXPECT_EQ(graph->Find("/n12345", 1000009), 12354);
  EXPECT_EQ(graph->Find("/n999999"), 1000008);
  EXPECT_EQ(graph->Find("/n1000000"), -1);
}

TEST(ModuleProfileTest, AHintedNodeIsFoundOnlyWhereTheIndexWouldFindIt) {
  const auto graph = Graph();
  EXPECT_EQ(graph->Find("b1", 3), 3);
  EXPECT_EQ(graph->Find("b1", 4), 3);  // the hint names another node
  EXPECT_EQ(graph->Find("c1", 5), 4);  // the second of a duplicated name
  EXPECT_EQ(graph->Find("", 6), -1);   // the unnamed node
  EXPECT_EQ(graph->Find("a1", 7), 1);  // past the last node
  EXPECT_EQ(graph->Find("a1", -1), 1);
  EXPECT_EQ(graph->Find("x", 0), -1);
  // Events of c1 after c1's first node: all counted on the first.
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(times
                  .AddBytes(Profile({Event("b1", 1), Event("c1", 2),
                                     Event("c1", 4), ModelRun(9)}),
                            "p.json")
                  .ok());
  EXPECT_EQ(times.per_node()[4].micros, 6);
  EXPECT_EQ(times.per_node()[5].micros, 0);
}

TEST(ModuleProfileTest, LeavesOutWarmUpRunsOfEachFile) {
  const auto graph = Graph();
  NodeTimes times(*graph, 1);
  const std::string profile =
      Profile({Event("a1", 7), ModelRun(100), Event("a1", 5), Event("b1", 1),
               ModelRun(50), Event("a1", 3), ModelRun(40)});
  ASSERT_TRUE(times.AddBytes(profile, "p1.json").ok());
  ASSERT_TRUE(times.AddBytes(profile, "p2.json").ok());
  ASSERT_TRUE(times.Check().ok());
  EXPECT_EQ(times.runs(), 4);
  EXPECT_EQ(times.runs_skipped(), 2);
  EXPECT_EQ(times.run_wall_micros(), 180);
  EXPECT_EQ(times.kernel().micros, 18);
  EXPECT_EQ(times.skipped().micros, 14);
  EXPECT_EQ(times.per_node()[1].micros, 16);
  EXPECT_EQ(times.per_node()[1].calls, 4);
  EXPECT_THAT(times.files(), ElementsAre("p1.json", "p2.json"));
}

TEST(ModuleProfileTest, CountsAndListsEventsOfUnknownNodes) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(
      times
          .AddBytes(Profile({Event("a1", 10), Event("gone", 2), Event("b1", 1),
                             Event("gone", 3), Event("", 4), Event("n0", 1),
                             Event("c1", 1)}),
                    "p.json")
          .ok());
  ASSERT_TRUE(times.Check().ok());
  EXPECT_EQ(times.unknown().calls, 3);
  EXPECT_EQ(times.unknown().micros, 9);
  ASSERT_EQ(times.unknown_nodes().size(), 2u);
  EXPECT_EQ(times.unknown_nodes()[0].first, "gone");
  EXPECT_EQ(times.unknown_nodes()[0].second.micros, 5);
  EXPECT_EQ(times.unknown_nodes()[1].first, "");
  // Attributed and unknown time make up all node time.
  const ModuleProfile profile = ProfileModules(*graph, times);
  EXPECT_EQ(profile.module_micros + times.unknown().micros,
            times.kernel().micros);
}

TEST(ModuleProfileTest, ListsAtMostSoManyUnknownNamesAndCountsTheRest) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  std::vector<std::string> events;
  const size_t names = NodeTimes::kMaxUnknownListed + 5;
  for (size_t i = 0; i < names; ++i) {
    events.push_back(Event(absl::StrCat("gone", i), 2));
    events.push_back(Event("a1", 1));
    events.push_back(Event("b1", 1));
  }
  // In two runs: names first seen in either are listed alike.
  events.insert(events.begin() + 30, ModelRun(1));
  ASSERT_TRUE(times.AddBytes(Profile(events), "p.json").ok());
  ASSERT_TRUE(times.Check().ok());
  EXPECT_EQ(times.unknown().calls, static_cast<int64_t>(names));
  EXPECT_EQ(times.unknown_nodes().size(), NodeTimes::kMaxUnknownListed);
  EXPECT_EQ(times.unknown_nodes().back().first,
            absl::StrCat("gone", NodeTimes::kMaxUnknownListed - 1));
  EXPECT_EQ(times.unlisted().calls, 5);
  EXPECT_EQ(times.unlisted().micros, 10);
}

TEST(ModuleProfileTest, MoreThanHalfUnknownIsAnotherModel) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(
      times
          .AddBytes(Profile({Event("a1", 10), Event("x", 2), Event("y", 3)}),
                    "other.json")
          .ok());
  const absl::Status status = times.Check();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("other.json: 2 of 3 node events name nodes the model "
                        "does not have (first: 'x')"));
  EXPECT_THAT(status.message(), HasSubstr("--optimized"));
}

TEST(ModuleProfileTest, AProfileWithoutNodeEventsIsRefused) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(times.AddBytes(Profile({ModelRun(5)}), "empty.json").ok());
  EXPECT_THAT(times.Check().message(), HasSubstr("empty.json: no node events"));
  NodeTimes skipped(*graph, 1);
  ASSERT_TRUE(
      skipped.AddBytes(Profile({Event("a1", 1), ModelRun(5)}), "s.json").ok());
  EXPECT_THAT(skipped.Check().message(),
              HasSubstr("every node event is in a skipped run"));
}

TEST(ModuleProfileTest, ANodeEventWithoutWholeDurationIsRefused) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  const absl::Status status = times.AddBytes(
      R"([{"cat":"Node","name":"a1_kernel_time","dur":1.5}])", "p.json");
  EXPECT_THAT(status.message(),
              HasSubstr("p.json: event 0 (byte offset 1, 'a1_kernel_time')"));
}

TEST(ModuleProfileTest, OtherEventsAreToldApartFromNodeEvents) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(
      times
          .AddBytes(
              Profile(
                  {Event("a1", 10),
                   R"({"cat":"Node","name":"a1_fence_before","dur":3})",
                   R"({"cat":"ThreadPool","name":"a1_kernel_time","dur":3})",
                   R"({"cat":"Session","name":"SequentialExecutor::Execute","dur":30})"}),
              "p.json")
          .ok());
  EXPECT_EQ(times.kernel().calls, 1);
  EXPECT_EQ(times.other_events(), 2);
  EXPECT_EQ(times.session_events(), 2);
}

TEST(FlameGraphTest, FoldedStacksSumToTheModuleTime) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(times
                  .AddBytes(Profile({Event("n0", 1), Event("a1", 10),
                                     Event("b1", 300), Event("c1", 4000)}),
                            "p.json")
                  .ok());
  const ModuleProfile profile = ProfileModules(*graph, times);
  EXPECT_EQ(FoldedStacks(*graph, profile),
            "M 1\n"
            "M;C 4000\n"
            "M;A 10\n"
            "M;A;B 300\n");
}

TEST(FlameGraphTest, BoxWidthsAreProportionalToTotals) {
  const auto graph = Graph();
  NodeTimes times(*graph, 0);
  ASSERT_TRUE(times
                  .AddBytes(Profile({Event("n0", 100), Event("a1", 300),
                                     Event("b1", 100), Event("c1", 500)}),
                            "p.json")
                  .ok());
  const ModuleProfile profile = ProfileModules(*graph, times);
  const std::string svg = FlameGraphSvg(*graph, profile, "t <&>");
  EXPECT_THAT(svg, HasSubstr("<title>/M/A\ntotal 400 us (40.0%), self 300 us"));
  EXPECT_THAT(svg, HasSubstr("t &lt;&amp;&gt;"));
  // The widths in tree order: /M, /M/C, /M/A, /M/A/B.
  std::vector<double> widths;
  for (absl::string_view part : absl::StrSplit(svg, " width=\"")) {
    double width;
    const absl::string_view number = part.substr(0, part.find('"'));
    if (absl::SimpleAtod(number, &width)) widths.push_back(width);
  }
  // The canvas and background first.
  ASSERT_EQ(widths.size(), 6u);
  EXPECT_DOUBLE_EQ(widths[2], kFlameGraphWidth);
  EXPECT_DOUBLE_EQ(widths[3], kFlameGraphWidth * 0.5);
  EXPECT_DOUBLE_EQ(widths[4], kFlameGraphWidth * 0.4);
  EXPECT_DOUBLE_EQ(widths[5], kFlameGraphWidth * 0.1);
}

}  // namespace
}  // namespace hp
