#include "hp/model/module_table.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/testing/model_builder.h"
#include "hp/trace/scope_trace.h"

namespace hp {
namespace {

using ::hp::testing::TraceBuilder;
using ::testing::IsEmpty;

ScopeTrace Parsed(const TraceBuilder& builder) {
  absl::StatusOr<ScopeTrace> trace = builder.Build();
  EXPECT_TRUE(trace.ok()) << trace.status();
  return *std::move(trace);
}

// Both tables hold the same modules, index and calls.
void ExpectSameTable(const ModuleTable& taken, const ModuleTable& copied) {
  ASSERT_EQ(taken.size(), copied.size());
  EXPECT_EQ(taken.source(), copied.source());
  for (int i = 0; i < copied.size(); ++i) {
    SCOPED_TRACE(i);
    const Module& got = taken.at(i);
    const Module& want = copied.at(i);
    EXPECT_EQ(got.path, want.path);
    EXPECT_EQ(got.class_name, want.class_name);
    EXPECT_EQ(got.qualified_class, want.qualified_class);
    EXPECT_EQ(got.is_torch_nn, want.is_torch_nn);
    EXPECT_EQ(got.call_count, want.call_count);
    EXPECT_EQ(got.parent, want.parent);
    EXPECT_EQ(taken.Find(want.path), i);
  }
  EXPECT_EQ(taken.Find("no.such.module"), -1);
  ASSERT_EQ(taken.has_calls(), copied.has_calls());
  ASSERT_EQ(taken.calls().size(), copied.calls().size());
  for (size_t i = 0; i < copied.calls().size(); ++i) {
    EXPECT_EQ(taken.calls()[i].module, copied.calls()[i].module);
    EXPECT_EQ(taken.calls()[i].parent, copied.calls()[i].parent);
  }
}

// The trace keeps its root alone, as after ForgetModulesButRoot.
void ExpectRootAlone(const ScopeTrace& trace, const std::string& root_class) {
  ASSERT_EQ(trace.modules().size(), 1u);
  EXPECT_EQ(trace.root().path, "");
  EXPECT_EQ(trace.root().class_name, root_class);
  EXPECT_EQ(trace.Find(""), &trace.root());
  EXPECT_THAT(trace.children(0), IsEmpty());
  EXPECT_FALSE(trace.has_calls());
  EXPECT_THAT(trace.calls(), IsEmpty());
}

TraceBuilder Net() {
  TraceBuilder builder("Net");
  builder.Module("encoder", "Encoder", 1)
      .TorchNn("encoder.layers", "ModuleList", 0)
      .Module("encoder.layers.0", "Block", 2)
      .TorchNn("encoder.layers.0.fc", "Linear", 2)
      .Module("encoder.layers.1", "Block", 1)
      .TorchNn("encoder.layers.1.fc", "Linear", 1)
      .Module("head", "Head", 1)
      .Call("encoder")
      .Call("encoder.layers.0", 0)
      .Call("encoder.layers.0.fc", 1)
      .Call("encoder.layers.1", 0)
      .Call("encoder.layers.1.fc", 3)
      .Call("encoder.layers.0", 0)
      .Call("encoder.layers.0.fc", 5)
      .Call("head");
  return builder;
}

TEST(ModuleTableTest, TakingTheTracesModulesGivesTheTableACopyGives) {
  ScopeTrace trace = Parsed(Net());
  const ModuleTable copied = ModuleTableFromTrace(trace);
  ASSERT_TRUE(copied.has_calls());
  const char* const encoder_path = trace.modules()[1].path.data();
  const ModuleTable taken = ModuleTableFromTrace(&trace);
  ExpectSameTable(taken, copied);
  // The path the trace stored, not a copy.
  EXPECT_EQ(taken.at(1).path.data(), encoder_path);
  ExpectRootAlone(trace, "Net");
}

TEST(ModuleTableTest, TakenStringsOutliveTheTrace) {
  ModuleTable taken = [] {
    ScopeTrace trace = Parsed(Net());
    return ModuleTableFromTrace(&trace);
  }();
  const ScopeTrace again = Parsed(Net());
  ExpectSameTable(taken, ModuleTableFromTrace(again));
  // Modules added later go into the taken strings.
  Module added;
  added.path = "head.proj";
  added.class_name = "Linear";
  const int index = taken.Add(added);
  EXPECT_EQ(taken.at(index).parent, taken.Find("head"));
  EXPECT_EQ(taken.Find("head.proj"), index);
}

TEST(ModuleTableTest, ChildrenListedBeforeParentsAreCopied) {
  // The reader takes any order; the table then places each module under
  // the nearest ancestor already in it, as the copy does.
  TraceBuilder builder("Net");
  builder.Module("a.b", "Inner", 1)
      .Module("a", "Outer", 1)
      .Call("a")
      .Call("a.b", 0);
  ScopeTrace trace = Parsed(builder);
  const ModuleTable copied = ModuleTableFromTrace(trace);
  const ModuleTable taken = ModuleTableFromTrace(&trace);
  ExpectSameTable(taken, copied);
  ExpectRootAlone(trace, "Net");
}

}  // namespace
}  // namespace hp
