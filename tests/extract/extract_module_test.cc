// The cut of a module out of a graph (inputs, outputs, initializers, outer
// tensors of subgraph bodies) and the types inferred at its border, on
// graphs built in code.
#include "hp/extract/extract_module.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/extract/boundary_types.h"
#include "hp/model/graph_walk.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Marks the main-graph nodes named in `names`.
std::vector<bool> Inside(const NodeList& nodes,
                         const std::vector<std::string>& names) {
  std::vector<bool> inside(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& name : names) {
      if (nodes[i].owner < 0 && nodes[i].name == name) inside[i] = true;
    }
  }
  return inside;
}

// The messages CollectNodes' nodes hold, for InferTensorTypes.
NodeMessage MessagesOf(const NodeList& nodes) {
  return [&nodes](size_t i) -> absl::StatusOr<const onnx::NodeProto*> {
    return nodes[i].node;
  };
}

// A model's types inferred over the whole graph, and again with only
// `wanted` asked for (the walk for a cut's border).
struct WholeAndCut {
  absl::StatusOr<InferredTypes> whole;
  absl::StatusOr<InferredTypes> cut;
};
WholeAndCut InferWholeAndCut(const onnx::ModelProto& model,
                             const absl::flat_hash_set<std::string>& wanted) {
  const NodeList nodes = CollectNodes(model);
  const NodeMessage message = MessagesOf(nodes);
  return {InferTensorTypes(model.graph(), nodes, message, model.functions(),
                           "m.onnx"),
          InferTensorTypes(model.graph(), nodes, message, model.functions(),
                           "m.onnx", &wanted)};
}

onnx::ModelProto Layered() {
  return testing::ModelBuilder()
      .Input("x")
      .Initializer("w", {2, 2}, {1, 2, 3, 4})
      .Initializer("b", {2}, {1, 2})
      .Node("/a/MatMul", "MatMul", {"x", "w"}, {"h"})
      .Node("/b/Add", "Add", {"h", "b"}, {"y"})
      .Node("/b/Relu", "Relu", {"y"}, {"r"})
      .Node("/c/Mul", "Mul", {"r", "h"}, {"z"})
      .Output("z")
      .Build();
}

TEST(CutModuleTest, InputsAreReadInsideAndProducedOutside) {
  const onnx::ModelProto model = Layered();
  const NodeList nodes = CollectNodes(model);
  const ModuleCut cut =
      CutModule(model.graph(), nodes, Inside(nodes, {"/b/Add", "/b/Relu"}));
  EXPECT_THAT(cut.positions, ElementsAre(1, 2));
  EXPECT_THAT(cut.inputs, ElementsAre("h"));
  EXPECT_THAT(cut.outputs, ElementsAre("r"));
  EXPECT_THAT(cut.initializers, ElementsAre(1));  // b, not w
  EXPECT_THAT(cut.internal, ElementsAre("y"));
}

TEST(CutModuleTest, ModelInputsAndOutputsComeFirstInTheModelsOrder) {
  const onnx::ModelProto model = Layered();
  const NodeList nodes = CollectNodes(model);
  const ModuleCut cut =
      CutModule(model.graph(), nodes,
                Inside(nodes, {"/a/MatMul", "/b/Add", "/b/Relu", "/c/Mul"}));
  EXPECT_THAT(cut.inputs, ElementsAre("x"));
  EXPECT_THAT(cut.outputs, ElementsAre("z"));
  EXPECT_THAT(cut.initializers, ElementsAre(0, 1));
}

TEST(CutModuleTest, AnOuterTensorASubgraphReadsIsAnInput) {
  const onnx::ModelProto model =
      testing::ModelBuilder()
          .Input("x")
          .Input("c", onnx::TensorProto::BOOL)
          .Node("/a/Relu", "Relu", {"x"}, {"h"})
          .Node("/b/If", "If", {"c"}, {"y"})
          .Subgraph("then_branch", testing::GraphBuilder("then")
                                       .Node("/b/Neg", "Neg", {"h"}, {"t"})
                                       .Output("t"))
          .Subgraph("else_branch", testing::GraphBuilder("else")
                                       .Node("/b/Abs", "Abs", {"x"}, {"e"})
                                       .Output("e"))
          .Output("y")
          .Build();
  const NodeList nodes = CollectNodes(model);
  const ModuleCut cut =
      CutModule(model.graph(), nodes, Inside(nodes, {"/b/If"}));
  EXPECT_THAT(cut.inputs, ElementsAre("x", "c", "h"));
  EXPECT_THAT(cut.outputs, ElementsAre("y"));
  EXPECT_EQ(cut.ops.size(), 3u);  // the If and both bodies' nodes
}

// Cut together, each module's cut is the one it gets alone: a tensor one
// cut makes and another reads is an output of the first and an input of
// the second.
TEST(CutModuleTest, CutsMadeTogetherAreTheCutsMadeAlone) {
  const onnx::ModelProto model = Layered();
  const NodeList nodes = CollectNodes(model);
  const std::vector<std::vector<std::string>> groups = {{"/a/MatMul"},
                                                        {"/b/Add", "/b/Relu"}};
  std::vector<int> cut_of(nodes.size(), -1);
  for (size_t c = 0; c < groups.size(); ++c) {
    const std::vector<bool> inside = Inside(nodes, groups[c]);
    for (size_t i = 0; i < inside.size(); ++i) {
      if (inside[i]) cut_of[i] = static_cast<int>(c);
    }
  }
  const std::vector<ModuleCut> cuts =
      CutModules(model.graph(), nodes, cut_of, groups.size());
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_THAT(cuts[0].outputs, ElementsAre("h"));
  EXPECT_THAT(cuts[1].inputs, ElementsAre("h"));
  for (size_t c = 0; c < groups.size(); ++c) {
    const ModuleCut alone =
        CutModule(model.graph(), nodes, Inside(nodes, groups[c]));
    EXPECT_EQ(cuts[c].positions, alone.positions) << c;
    EXPECT_EQ(cuts[c].inputs, alone.inputs) << c;
    EXPECT_EQ(cuts[c].outputs, alone.outputs) << c;
    EXPECT_EQ(cuts[c].initializers, alone.initializers) << c;
    EXPECT_EQ(cuts[c].internal, alone.internal) << c;
    EXPECT_EQ(cuts[c].ops, alone.ops) << c;
  }
}

TEST(BoundaryTypesTest, ElementTypesAndRanksFollowTheOpSchemas) {
  onnx::ModelProto model =
      testing::ModelBuilder()
          .Input("x")
          .Initializer("w", {4, 3})
          .Node("/MatMul", "MatMul", {"x", "w"}, {"h"})
          .Node("/Shape", "Shape", {"h"}, {"s"})
          .Node("/Equal", "Equal", {"h", "h"}, {"e"})
          .Node("/Cast", "Cast", {"e"}, {"c"})
          .Attribute("to", int64_t{onnx::TensorProto::INT32})
          .Output("c", onnx::TensorProto::INT32)
          .Build();
  auto* shape = model.mutable_graph()
                    ->mutable_input(0)
                    ->mutable_type()
                    ->mutable_tensor_type()
                    ->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_value(4);
  const NodeList nodes = CollectNodes(model);
  const absl::StatusOr<InferredTypes> types = InferTensorTypes(
      model.graph(), nodes, MessagesOf(nodes), model.functions(), "m.onnx");
  ASSERT_TRUE(types.ok()) << types.status();
  const auto elem = [&](const std::string& name) {
    return types->TypeOf(name)->tensor_type().elem_type();
  };
  const auto rank = [&](const std::string& name) {
    return types->TypeOf(name)->tensor_type().shape().dim_size();
  };
  EXPECT_EQ(elem("h"), onnx::TensorProto::FLOAT);
  EXPECT_EQ(rank("h"), 2);
  EXPECT_EQ(elem("s"), onnx::TensorProto::INT64);
  EXPECT_EQ(types->TypeOf("s")->tensor_type().shape().dim(0).dim_value(), 2);
  EXPECT_EQ(elem("e"), onnx::TensorProto::BOOL);
  EXPECT_EQ(rank("e"), 2);
  EXPECT_EQ(elem("c"), onnx::TensorProto::INT32);
  EXPECT_THAT(types->unknown, IsEmpty());
}

TEST(BoundaryTypesTest, AnOpWithoutARuleIsNamedWhenItsOutputIsNeeded) {
  const onnx::ModelProto model = testing::ModelBuilder()
                                     .Input("x")
                                     .Node("/a/Custom", "FancyOp", {"x"}, {"h"})
                                     .Node("/b/Relu", "Relu", {"h"}, {"y"})
                                     .Output("y")
                                     .Build();
  const NodeList nodes = CollectNodes(model);
  const absl::StatusOr<InferredTypes> types = InferTensorTypes(
      model.graph(), nodes, MessagesOf(nodes), model.functions(), "m.onnx");
  ASSERT_TRUE(types.ok()) << types.status();
  const absl::StatusOr<onnx::TypeProto> h = types->TypeOf("h");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(),
              HasSubstr("m.onnx: node 0 ('/a/Custom', FancyOp)"));
  // A tensor computed from it carries the same cause.
  EXPECT_EQ(types->TypeOf("y").ok(), true);  // declared as graph output
}

// Only the cut's tensors are asked for: the walk ends at the last node
// that makes one, and a tensor a body returns as is (which no node input
// lists) keeps its type until that body's owner is read.
TEST(BoundaryTypesTest, WantedTensorsAreTypedWithoutTheNodesAfterThem) {
  const onnx::ModelProto model =
      testing::ModelBuilder()
          .Input("x")
          .Input("c", onnx::TensorProto::BOOL)
          .Node("/a/Relu", "Relu", {"x"}, {"h"})
          .Node("/b/Neg", "Neg", {"h"}, {"n"})
          .Node("/c/If", "If", {"c"}, {"y"})
          .Subgraph("then_branch", testing::GraphBuilder("then").Output("h"))
          .Subgraph("else_branch", testing::GraphBuilder("else").Output("h"))
          .Node("/d/Custom", "FancyOp", {"y"}, {"f"})
          .Node("/e/Relu", "Relu", {"f"}, {"z"})
          .Output("z")
          .Build();
  const absl::flat_hash_set<std::string> wanted = {"y", "n"};
  const WholeAndCut inferred = InferWholeAndCut(model, wanted);
  const absl::StatusOr<InferredTypes>& all = inferred.whole;
  ASSERT_TRUE(all.ok()) << all.status();
  // Read to the end, the op without a rule leaves its output unknown.
  EXPECT_EQ(all->unknown.count("f"), 1u);
  const absl::StatusOr<InferredTypes>& cut = inferred.cut;
  ASSERT_TRUE(cut.ok()) << cut.status();
  for (const std::string& name : wanted) {
    ASSERT_TRUE(cut->TypeOf(name).ok()) << cut->TypeOf(name).status();
    EXPECT_EQ(cut->TypeOf(name)->SerializeAsString(),
              all->TypeOf(name)->SerializeAsString())
        << name;
  }
  EXPECT_EQ(cut->TypeOf("y")->tensor_type().elem_type(),
            onnx::TensorProto::FLOAT);
  // Nothing after the If was read, and what no later node reads is gone.
  EXPECT_THAT(cut->unknown, IsEmpty());
  EXPECT_EQ(cut->types.count("h"), 0u);
}

TEST(BoundaryTypesTest, TypesAreForgottenAfterTheirLastReader) {
  const onnx::ModelProto model = testing::ModelBuilder()
                                     .Input("x")
                                     .Node("/a/Relu", "Relu", {"x"}, {"a"})
                                     .Node("/b/Neg", "Neg", {"a"}, {"b"})
                                     .Node("/c/Add", "Add", {"a", "b"}, {"c"})
                                     .Node("/d/Relu", "Relu", {"c"}, {"d"})
                                     .Node("/e/Neg", "Neg", {"d"}, {"z"})
                                     .Output("z")
                                     .Build();
  const WholeAndCut inferred = InferWholeAndCut(model, {"c"});
  const absl::StatusOr<InferredTypes>& all = inferred.whole;
  ASSERT_TRUE(all.ok()) << all.status();
  const absl::StatusOr<InferredTypes>& cut = inferred.cut;
  ASSERT_TRUE(cut.ok()) << cut.status();
  ASSERT_TRUE(cut->TypeOf("c").ok()) << cut->TypeOf("c").status();
  EXPECT_EQ(cut->TypeOf("c")->SerializeAsString(),
            all->TypeOf("c")->SerializeAsString());
  // "a" outlives "b", which is made after it, until the Add reads both;
  // nothing after the Add is read; the graph's output keeps its declared
  // type.
  std::vector<std::string> left;
  for (const auto& [name, type] : cut->types) left.push_back(name);
  EXPECT_THAT(left, UnorderedElementsAre("c", "z"));
  EXPECT_THAT(cut->unknown, IsEmpty());
}

}  // namespace
}  // namespace hp
