// Which module ran each node: hp/scope/scope_reconstruction.h, on models and
// traces built in code.
#include "hp/scope/scope_reconstruction.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/model/graph_walk.h"
#include "hp/model/module_table.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace {

using ::hp::testing::GraphBuilder;
using ::hp::testing::ModelBuilder;
using ::hp::testing::TraceBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Placed {
  std::vector<std::string> modules;  // per node, the module's path
  std::vector<ScopeOrigin> origins;
  ScopeReconstruction reconstruction;
};

Placed Reconstruct(const onnx::ModelProto& model, ModuleTable* table) {
  const NodeList nodes = CollectNodes(model);
  Placed placed;
  placed.reconstruction = ReconstructScopes(nodes, table);
  for (const NodeScope& scope : placed.reconstruction.nodes) {
    placed.modules.push_back(table->at(scope.module).path);
    placed.origins.push_back(scope.origin);
  }
  return placed;
}

ModuleTable TableOf(const TraceBuilder& builder) {
  absl::StatusOr<ScopeTrace> trace = builder.Build();
  EXPECT_TRUE(trace.ok()) << trace.status();
  return ModuleTableFromTrace(*trace);
}

TEST(ScopeStackTest, StartsWithTheRootAndNeverPopsIt) {
  ScopeStack stack(0);
  EXPECT_THAT(stack.frames(), ElementsAre(0));
  stack.Align({0, 1, 2});
  EXPECT_THAT(stack.frames(), ElementsAre(0, 1, 2));
  stack.Align({0, 1, 3});
  EXPECT_THAT(stack.frames(), ElementsAre(0, 1, 3));
  stack.Align({0, 4});
  EXPECT_THAT(stack.frames(), ElementsAre(0, 4));
  stack.Align({0});
  EXPECT_THAT(stack.frames(), ElementsAre(0));
  EXPECT_EQ(stack.top(), 0);
}

TEST(ScopeReconstructionTest, NodesWithoutScopeLandOnTheRootNotTheLastModule) {
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("encoder", "Encoder")
                                  .TorchNn("encoder.fc", "Linear"));
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/encoder/fc/MatMul", "Constant_5", "/Cast", "/encoder/Add"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("encoder.fc", "", "", "encoder"));
  EXPECT_THAT(placed.origins,
              ElementsAre(ScopeOrigin::kNodeName, ScopeOrigin::kNone,
                          ScopeOrigin::kNodeName, ScopeOrigin::kNodeName));
  EXPECT_TRUE(placed.reconstruction.any_scope);
  EXPECT_THAT(placed.reconstruction.warnings, IsEmpty());
}

TEST(ScopeReconstructionTest, ASecondCallsDedupSuffixNamesTheSameModule) {
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("block", "Block")
                                  .TorchNn("block.relu", "ReLU", 2));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/block/relu/Relu", "/block/relu_1/Relu"}).Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("block.relu", "block.relu"));
}

TEST(ScopeReconstructionTest, AModuleReallyNamedRelu1IsThatModule) {
  // relu ran twice, and a sibling module is really called relu_1: the real
  // module wins.
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("block", "Block")
                                  .TorchNn("block.relu", "ReLU", 2)
                                  .TorchNn("block.relu_1", "GELU"));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/block/relu/Relu", "/block/relu_1/Gelu"}).Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("block.relu", "block.relu_1"));
  EXPECT_THAT(placed.origins,
              ElementsAre(ScopeOrigin::kNodeName, ScopeOrigin::kNodeName));
}

TEST(ScopeReconstructionTest, ADedupNameOfAModuleCalledOnceIsNotThatModule) {
  // The trace says relu ran once, so "relu_1" is no call of it: the node
  // falls back to the nearest traced ancestor, with a warning.
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("block", "Block")
                                  .TorchNn("block.relu", "ReLU", 1));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/block/relu/Relu", "/block/relu_1/Relu"}).Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("block.relu", "block"));
  EXPECT_EQ(placed.origins[1], ScopeOrigin::kNearestAncestor);
  ASSERT_EQ(placed.reconstruction.warnings.size(), 1u);
  EXPECT_THAT(placed.reconstruction.warnings[0],
              HasSubstr("'/block/relu_1/Relu' (Relu): scope 'relu_1' under "
                        "'block'"));
}

TEST(ScopeReconstructionTest, ARepeatedScopeWarnsForEveryNode) {
  // Scopes are resolved once each; every node still gets its own warning.
  ModuleTable table = TableOf(TraceBuilder("Net").Module("block", "Block"));
  Placed placed = Reconstruct(ModelBuilder()
                                  .Chain({"/block/gone/Relu", "/block/Add",
                                          "/block/gone/Relu_1"})
                                  .Build(),
                              &table);
  EXPECT_THAT(placed.modules, ElementsAre("block", "block", "block"));
  EXPECT_THAT(placed.origins, ElementsAre(ScopeOrigin::kNearestAncestor,
                                          ScopeOrigin::kNodeName,
                                          ScopeOrigin::kNearestAncestor));
  ASSERT_EQ(placed.reconstruction.warnings.size(), 2u);
  EXPECT_THAT(placed.reconstruction.warnings[0],
              HasSubstr("'/block/gone/Relu' (Relu): scope 'gone' under "
                        "'block'"));
  EXPECT_THAT(placed.reconstruction.warnings[1],
              HasSubstr("'/block/gone/Relu_1' (Relu): scope 'gone' under "
                        "'block'"));
}

TEST(ScopeReconstructionTest, AScopeSeenBeforeIsResolvedAgainOnceTheTableGrew) {
  // Without a trace, "relu_1" is relu's second call until dynamo metadata
  // adds a module really named relu_1: from then on the scope names it.
  ModuleTable table(HierarchySource::kDynamoMetadata, "Net", "m.Net");
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/a/relu/Relu", "/a/relu_1/Relu"})
          .Node("gelu", "Gelu")
          .NodeMetadata("pkg.torch.onnx.name_scopes",
                        "['', 'a', 'a.relu_1', 'gelu']")
          .NodeMetadata("pkg.torch.onnx.class_hierarchy",
                        "['m.Net', 'm.A', 'torch.nn.GELU', 'aten.gelu']")
          .Chain({"/a/relu_1/Relu_1"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules,
              ElementsAre("a.relu", "a.relu", "a.relu_1", "a.relu_1"));
}

TEST(ScopeReconstructionTest, SequentialChildrenRepeatTheirParentsComponent) {
  ModuleTable table = TableOf(TraceBuilder("ResNet")
                                  .TorchNn("layer1", "Sequential")
                                  .Module("layer1.0", "BasicBlock")
                                  .TorchNn("layer1.0.conv1", "Conv2d")
                                  .TorchNn("layer1.0.downsample", "Sequential")
                                  .TorchNn("layer1.0.downsample.0", "Conv2d"));
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/layer1/layer1.0/conv1/Conv",
                  "/layer1/layer1.0/downsample/downsample.0/Conv",
                  "/layer1/layer1.0/Add"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("layer1.0.conv1",
                                          "layer1.0.downsample.0", "layer1.0"));
  EXPECT_THAT(placed.reconstruction.warnings, IsEmpty());
}

TEST(ScopeReconstructionTest, SubgraphNodesWithoutScopeTakeTheirOwnersModule) {
  ModuleTable table = TableOf(TraceBuilder("Net").Module("diag", "Gate"));
  Placed placed = Reconstruct(
      ModelBuilder()
          .Node("/diag/If", "If", {"c"}, {"y"})
          .Subgraph("then_branch", GraphBuilder("then")
                                       .Node("/diag/Add_1", "Add")
                                       .Node("Identity_3", "Identity"))
          .Subgraph("else_branch", GraphBuilder("else").Node("Neg_4", "Neg"))
          .Node("If_5", "If", {"c"}, {"z"})
          .Subgraph("then_branch", GraphBuilder("then").Node("Mul_6", "Mul"))
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("diag", "diag", "diag", "diag", "", ""));
  EXPECT_THAT(placed.origins,
              ElementsAre(ScopeOrigin::kNodeName, ScopeOrigin::kNodeName,
                          ScopeOrigin::kEnclosingNode,
                          ScopeOrigin::kEnclosingNode, ScopeOrigin::kNone,
                          ScopeOrigin::kEnclosingNode));
}

TEST(ScopeReconstructionTest, WithoutATraceModulesComeFromNodeNames) {
  ModuleTable table(HierarchySource::kNodeNames, "Model", "");
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/encoder/layer.0/relu/Relu", "/encoder/layer.0/relu_1/Relu",
                  "/layer1/layer1.0/Conv"})
          .Build(),
      &table);
  // relu already ran, so relu_1 is its second call.
  EXPECT_THAT(placed.modules, ElementsAre("encoder.layer.0.relu",
                                          "encoder.layer.0.relu", "layer1.0"));
  EXPECT_GE(table.Find("encoder.layer.0"), 0);
}

TEST(ScopeReconstructionTest, WithoutAnyScopeEverythingIsTheRoot) {
  ModuleTable table(HierarchySource::kNodeNames, "Model", "");
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"MatMul_0", "Add_1"}).Build(), &table);
  EXPECT_THAT(placed.modules, ElementsAre("", ""));
  EXPECT_FALSE(placed.reconstruction.any_scope);
}

TEST(ScopeReconstructionTest, DynamoNameScopesNameTheModules) {
  ModuleTable table(HierarchySource::kDynamoMetadata, "Net", "m.Net");
  Placed placed = Reconstruct(
      ModelBuilder()
          .Node("node_MatMul_0", "MatMul")
          .NodeMetadata(kDynamoNameScopesKey, "['', 'fc1', 'matmul']")
          .NodeMetadata(kDynamoClassHierarchyKey,
                        "['m.Net', 'torch.nn.modules.linear.Linear', "
                        "'aten.mm']")
          .Node("node_Constant_1", "Constant")
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("fc1", ""));
  EXPECT_EQ(placed.origins[0], ScopeOrigin::kDynamoMetadata);
  EXPECT_EQ(table.at(table.Find("fc1")).class_name, "Linear");
  EXPECT_TRUE(table.at(table.Find("fc1")).is_torch_nn);
}

TEST(ScopeReconstructionTest, ADynamoScopeTheTraceLacksFallsBackWithAWarning) {
  ModuleTable table = TableOf(TraceBuilder("Net").Module("enc", "Enc"));
  Placed placed = Reconstruct(
      ModelBuilder()
          .Node("node_MatMul_0", "MatMul")
          .NodeMetadata(kDynamoNameScopesKey,
                        "['', 'enc', 'enc.missing', 'matmul']")
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("enc"));
  EXPECT_EQ(placed.origins[0], ScopeOrigin::kNearestAncestor);
  EXPECT_THAT(placed.reconstruction.warnings,
              ElementsAre(HasSubstr("module 'enc.missing' of "
                                    "pkg.torch.onnx.name_scopes is not a module "
                                    "of the trace")));
}

TEST(ParsePythonStringListTest, ReadsReprOfAListOfStrings) {
  EXPECT_THAT(ParsePythonStringList("['', 'blocks.0']").value(),
              ElementsAre("", "blocks.0"));
  EXPECT_THAT(ParsePythonStringList("[]").value(), IsEmpty());
  EXPECT_THAT(ParsePythonStringList("[\"a\\'b\"]").value(), ElementsAre("a'b"));
  EXPECT_FALSE(ParsePythonStringList("['a'").has_value());
  EXPECT_FALSE(ParsePythonStringList("a, b").has_value());
}

}  // namespace
}  // namespace hp
