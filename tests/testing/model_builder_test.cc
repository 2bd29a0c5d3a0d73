// The builders make what their comments promise.
#include "hp/testing/model_builder.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/model/graph_walk.h"
#include "hp/trace/scope_trace.h"

namespace hp {
namespace {

using ::hp::testing::GraphBuilder;
using ::hp::testing::ModelBuilder;
using ::hp::testing::TraceBuilder;
using ::testing::ElementsAre;

TEST(ModelBuilderTest, BuildsGraphsWithSubgraphsInWalkOrder) {
  onnx::ModelProto model =
      ModelBuilder()
          .Opset(13)
          .Input("x")
          .Initializer("w", {2}, {1.0f, 2.0f})
          .Chain({"/a/Relu", "/a/Relu_1"})
          .Node("/Loop", "Loop", {"v2"}, {"y"})
          .Attribute("note", "kept")
          .Subgraph("body", GraphBuilder("loop_body").Node("Add_4", "Add"))
          .NodeMetadata("k", "v")
          .DocString("doc")
          .Output("y")
          .ModelMetadata("m", "n")
          .Build();
  EXPECT_EQ(model.ir_version(), 10);
  EXPECT_EQ(model.opset_import(0).version(), 13);
  EXPECT_EQ(model.metadata_props(0).key(), "m");
  const onnx::GraphProto& graph = model.graph();
  EXPECT_EQ(graph.input(0).name(), "x");
  EXPECT_EQ(graph.output(0).name(), "y");
  EXPECT_EQ(graph.initializer(0).float_data_size(), 2);
  // Chain: op types from names, each node consuming the previous output.
  EXPECT_EQ(graph.node(0).op_type(), "Relu");
  EXPECT_EQ(graph.node(1).op_type(), "Relu");
  EXPECT_THAT(graph.node(1).input(), ElementsAre(graph.node(0).output(0)));
  const onnx::NodeProto& loop = graph.node(2);
  EXPECT_EQ(loop.attribute(0).s(), "kept");
  EXPECT_EQ(loop.attribute(1).g().name(), "loop_body");
  EXPECT_EQ(loop.metadata_props(0).value(), "v");
  EXPECT_EQ(loop.doc_string(), "doc");

  std::vector<std::string> walked;
  for (const NodeRef& ref : CollectNodes(model)) {
    walked.push_back(absl::StrCat(ref.graph_path, ":", ref.name));
  }
  EXPECT_THAT(walked, ElementsAre("main:/a/Relu", "main:/a/Relu_1",
                                  "main:/Loop", "main//Loop/body:Add_4"));
}

TEST(ModelBuilderTest, AModifierWithoutANodeAborts) {
  EXPECT_DEATH(ModelBuilder().DocString("x"),
               "DocString\\(\\) modifies the node added last");
}

TEST(TraceBuilderTest, BuildsAValidTrace) {
  absl::StatusOr<ScopeTrace> trace = TraceBuilder("Net")
                                         .Module("encoder", "Encoder")
                                         .TorchNn("encoder.relu", "ReLU", 2)
                                         .TorchNn("unused", "Dropout", 0)
                                         .Build();
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->root_class(), "Net");
  ASSERT_EQ(trace->modules().size(), 4u);
  const TracedModule* relu = trace->Find("encoder.relu");
  ASSERT_NE(relu, nullptr);
  EXPECT_TRUE(relu->is_torch_nn);
  EXPECT_EQ(relu->call_count, 2);
  EXPECT_EQ(relu->parent, trace->IndexOf("encoder"));
  EXPECT_FALSE(trace->Find("unused")->executed);
}

TEST(TraceBuilderTest, AMissingParentIsTheParsersError) {
  absl::StatusOr<ScopeTrace> trace =
      TraceBuilder("Net").Module("encoder.layer.0", "Layer").Build();
  EXPECT_FALSE(trace.ok());
}

}  // namespace
}  // namespace hp
