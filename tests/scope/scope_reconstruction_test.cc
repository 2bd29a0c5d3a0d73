// Which module ran each node: hp/scope/scope_reconstruction.h, on models and
// traces built in code.
#include "hp/scope/scope_reconstruction.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/node_list.h"
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

// The same places, warnings and failure from both lists.
void ExpectSameReconstruction(const absl::StatusOr<ScopeReconstruction>& got,
                              const absl::StatusOr<ScopeReconstruction>& want) {
  ASSERT_EQ(got.status(), want.status());
  if (!want.ok()) return;
  ASSERT_EQ(got->nodes.size(), want->nodes.size());
  for (size_t i = 0; i < want->nodes.size(); ++i) {
    EXPECT_EQ(got->nodes[i].module, want->nodes[i].module) << "node " << i;
    EXPECT_EQ(got->nodes[i].origin, want->nodes[i].origin) << "node " << i;
  }
  EXPECT_EQ(got->warnings, want->warnings);
  EXPECT_EQ(got->any_scope, want->any_scope);
}

Placed Reconstruct(const onnx::ModelProto& model, ModuleTable* table,
                   const ScopeOptions& options = {}) {
  const NodeList nodes = CollectNodes(model);
  // A list that kept each node's name scope as an id, as tag reads one,
  // places every node as a list that did not. A trace's table is only
  // read, so both walk it; one that grows from node names (given holding
  // its root alone) is grown alike by each walk, the kept list's on a
  // table of its own from the same root.
  NodeListBuilder kept(/*keep_name_scopes=*/true);
  kept.AddGraph(model.graph(), "main", -1);
  const NodeList kept_nodes = kept.Finish();
  std::optional<ModuleTable> own;
  if (table->source() != HierarchySource::kTrace) {
    EXPECT_EQ(table->size(), 1);
    own.emplace(table->source(), table->at(0).class_name,
                table->at(0).qualified_class);
  }
  const absl::StatusOr<ScopeReconstruction> from_kept =
      ReconstructScopes(kept_nodes, own ? &*own : table, options);
  Placed placed;
  absl::StatusOr<ScopeReconstruction> reconstruction =
      ReconstructScopes(nodes, table, options);
  ExpectSameReconstruction(from_kept, reconstruction);
  if (own) {
    EXPECT_EQ(own->size(), table->size());
    for (int i = 0; i < std::min(own->size(), table->size()); ++i) {
      EXPECT_EQ(own->at(i).path, table->at(i).path) << "module " << i;
    }
  }
  EXPECT_TRUE(reconstruction.ok()) << reconstruction.status();
  if (!reconstruction.ok()) return placed;
  placed.reconstruction = *std::move(reconstruction);
  for (const NodeScope& scope : placed.reconstruction.nodes) {
    placed.modules.emplace_back(table->at(scope.module).path);
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
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/block/gone/Relu", "/block/Add", "/block/gone/Relu_1"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("block", "block", "block"));
  EXPECT_THAT(placed.origins,
              ElementsAre(ScopeOrigin::kNearestAncestor, ScopeOrigin::kNodeName,
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
  Placed placed =
      Reconstruct(ModelBuilder()
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
  EXPECT_THAT(placed.modules,
              ElementsAre("diag", "diag", "diag", "diag", "", ""));
  EXPECT_THAT(
      placed.origins,
      ElementsAre(ScopeOrigin::kNodeName, ScopeOrigin::kNodeName,
                  ScopeOrigin::kEnclosingNode, ScopeOrigin::kEnclosingNode,
                  ScopeOrigin::kNone, ScopeOrigin::kEnclosingNode));
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
  Placed placed =
      Reconstruct(ModelBuilder().Chain({"MatMul_0", "Add_1"}).Build(), &table);
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
  Placed placed =
      Reconstruct(ModelBuilder()
                      .Node("node_MatMul_0", "MatMul")
                      .NodeMetadata(kDynamoNameScopesKey,
                                    "['', 'enc', 'enc.missing', 'matmul']")
                      .Build(),
                  &table);
  EXPECT_THAT(placed.modules, ElementsAre("enc"));
  EXPECT_EQ(placed.origins[0], ScopeOrigin::kNearestAncestor);
  EXPECT_THAT(
      placed.reconstruction.warnings,
      ElementsAre(HasSubstr("module 'enc.missing' of "
                            "pkg.torch.onnx.name_scopes is not a module "
                            "of the trace")));
}

// --- modules reached through containers that never ran --------------------

TEST(ContainerResolutionTest, ModuleDictEntriesAreFoundThroughTheDict) {
  // self.heads["left"](x): torch names the scope "left", without "heads".
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .TorchNn("heads", "ModuleDict", 0)
                                  .Module("heads.left", "Head", 2)
                                  .TorchNn("heads.left.proj", "Linear", 2)
                                  .Module("heads.right", "Head")
                                  .TorchNn("heads.right.proj", "Linear"));
  Placed placed = Reconstruct(ModelBuilder()
                                  .Chain({"/left/proj/Gemm", "/right/proj/Gemm",
                                          "/left/proj_1/Gemm", "/left/Relu"})
                                  .Build(),
                              &table);
  EXPECT_THAT(placed.modules, ElementsAre("heads.left.proj", "heads.right.proj",
                                          "heads.left.proj", "heads.left"));
  EXPECT_THAT(placed.reconstruction.warnings, IsEmpty());
}

TEST(ContainerResolutionTest, IndexedListsAndListsInDictsAreFound) {
  // self.blocks[3](x) gives "blocks.3"; self.towers["x"][1](x) gives "x.1".
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .TorchNn("blocks", "ModuleList", 0)
                                  .Module("blocks.0", "Head", 0)
                                  .Module("blocks.3", "Head", 2)
                                  .TorchNn("towers", "ModuleDict", 0)
                                  .TorchNn("towers.x", "ModuleList", 0)
                                  .Module("towers.x.0", "Head", 0)
                                  .Module("towers.x.1", "Head", 2));
  Placed placed = Reconstruct(ModelBuilder()
                                  .Chain({"/blocks.3/Relu", "/blocks.3_1/Relu",
                                          "/x.1/Relu", "/x.1_1/Relu"})
                                  .Build(),
                              &table);
  EXPECT_THAT(placed.modules,
              ElementsAre("blocks.3", "blocks.3", "towers.x.1", "towers.x.1"));
}

TEST(ContainerResolutionTest, ANamespaceThatNeverRanYieldsToItsChild) {
  // self.block = nn.Module(); self.block.block = Inner(): the scope "block"
  // is block.block, since the namespace itself never ran.
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .TorchNn("block", "Module", 0)
                                  .Module("block.block", "Inner", 2));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/block/Tanh", "/block_1/Tanh"}).Build(), &table);
  EXPECT_THAT(placed.modules, ElementsAre("block.block", "block.block"));
  EXPECT_THAT(placed.origins,
              ElementsAre(ScopeOrigin::kNodeName, ScopeOrigin::kNodeName));
}

TraceBuilder TwoDictsWithTheSameKey() {
  return TraceBuilder("Net")
      .TorchNn("a", "ModuleDict", 0)
      .Module("a.x", "Head")
      .TorchNn("b", "ModuleDict", 0)
      .Module("b.x", "Head");
}

TEST(ContainerResolutionTest, ASegmentTheTraceCannotPlaceIsAnError) {
  ModuleTable table = TableOf(TwoDictsWithTheSameKey());
  const onnx::ModelProto model =
      ModelBuilder().Chain({"/x/Relu", "/x_1/Relu"}).Build();
  absl::StatusOr<ScopeReconstruction> reconstruction =
      ReconstructScopes(CollectNodes(model), &table, ScopeOptions());
  ASSERT_FALSE(reconstruction.ok());
  EXPECT_EQ(reconstruction.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reconstruction.status().message(),
              HasSubstr("node '/x/Relu' (Relu): scope segment 'x' under the "
                        "root could be any of the modules 'a.x', 'b.x'"));
}

TEST(ContainerResolutionTest, FirstCandidateTakesTheFirstWithAWarning) {
  ModuleTable table = TableOf(TwoDictsWithTheSameKey());
  ScopeOptions options;
  options.first_candidate = true;
  Placed placed =
      Reconstruct(ModelBuilder().Chain({"/x/Relu"}).Build(), &table, options);
  EXPECT_THAT(placed.modules, ElementsAre("a.x"));
  EXPECT_THAT(placed.reconstruction.warnings,
              ElementsAre(HasSubstr("took the first, 'a.x'")));
}

TEST(ContainerResolutionTest, TheCallSequenceTellsSameNamedEntriesApart) {
  // With calls, "/x" is a.x's call and "/x_1" b.x's: torch numbers the
  // second call named "/x".
  ModuleTable table = TableOf(TwoDictsWithTheSameKey().Call("a.x").Call("b.x"));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/x/Relu", "/x_1/Relu"}).Build(), &table);
  EXPECT_THAT(placed.modules, ElementsAre("a.x", "b.x"));
  EXPECT_THAT(placed.reconstruction.warnings, IsEmpty());
}

TEST(ContainerResolutionTest, WithoutATraceTheNamesGiveDistinctPaths) {
  // No trace: the containers are unknown, so paths lack them, but two heads
  // still get two modules.
  ModuleTable table(HierarchySource::kNodeNames, "Model", "");
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/left/proj/Gemm", "/right/proj/Gemm", "/left/proj_1/Gemm"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules,
              ElementsAre("left.proj", "right.proj", "left.proj"));
}

// --- graphs walked in ranges on every core -----------------------------------
// A trace without calls lets ranges of nodes be walked at once; these graphs
// are past two slices (hp/util/parallel.h), so a machine with two cores or
// more walks each half on its own.

// Blocks "layers.k" with a Linear "layers.k.fc", in a ModuleList that never
// ran: each block's scope is reached through the list.
ModuleTable LayeredTable(int layers) {
  TraceBuilder trace("Net");
  trace.TorchNn("layers", "ModuleList", 0);
  for (int k = 0; k < layers; ++k) {
    trace.Module(absl::StrCat("layers.", k), "Block");
    trace.TorchNn(absl::StrCat("layers.", k, ".fc"), "Linear");
  }
  return TableOf(trace);
}

TEST(RangeWalkTest, EveryNodeIsPlacedAsOneWalkInGraphOrderWould) {
  // 9,000 blocks of three nodes: 18,000 scopes, more than a walk keeps, so
  // the first block's scope is forgotten before it comes back at the end.
  constexpr int kLayers = 9000;
  ModuleTable table = LayeredTable(kLayers);
  std::vector<std::string> first_half, second_half;
  std::vector<std::string> expected;
  std::vector<std::string> unknown;  // nodes whose scope the trace lacks
  auto add_layer = [&](int k, std::vector<std::string>* names) {
    const std::string block = absl::StrCat("layers.", k);
    names->push_back(absl::StrCat("/", block, "/fc/MatMul"));
    expected.push_back(absl::StrCat(block, ".fc"));
    names->push_back(absl::StrCat("/", block, "/Add"));
    expected.push_back(block);
    if (k % 1000 == 7) {
      names->push_back(absl::StrCat("/", block, "/gone/Relu"));
      unknown.push_back(names->back());
      expected.push_back(block);
    } else {
      names->push_back(absl::StrCat("/", block, "/fc/MatMul_1"));
      expected.push_back(absl::StrCat(block, ".fc"));
    }
  };
  // Nodes 0..13,499, then an If with a scope at 13,500 whose two body nodes
  // have none: with two ranges the second starts at 27,004 / 2 = 13,502,
  // so the body's second node is placed from an owner in the other range.
  for (int k = 0; k < kLayers / 2; ++k) add_layer(k, &first_half);
  for (int k = kLayers / 2; k < kLayers; ++k) add_layer(k, &second_half);
  second_half.push_back("/layers.0/fc/MatMul_2");
  const onnx::ModelProto model =
      ModelBuilder()
          .Chain(first_half)
          .Node("/layers.4499/If", "If", {"c"}, {"y"})
          .Subgraph("then_branch", GraphBuilder("then")
                                       .Node("Identity_0", "Identity")
                                       .Node("Identity_1", "Identity"))
          .Chain(second_half)
          .Build();
  expected.insert(expected.begin() + 13500,
                  {"layers.4499", "layers.4499", "layers.4499"});
  expected.push_back("layers.0.fc");

  Placed placed = Reconstruct(model, &table);
  ASSERT_EQ(placed.modules.size(), 27004u);
  EXPECT_EQ(placed.modules, expected);
  EXPECT_EQ(placed.origins[13500], ScopeOrigin::kNodeName);
  EXPECT_EQ(placed.origins[13501], ScopeOrigin::kEnclosingNode);
  EXPECT_EQ(placed.origins[13502], ScopeOrigin::kEnclosingNode);
  // One warning a node whose scope the trace lacks, in node order.
  ASSERT_EQ(placed.reconstruction.warnings.size(), unknown.size());
  for (size_t i = 0; i < unknown.size(); ++i) {
    EXPECT_THAT(placed.reconstruction.warnings[i],
                HasSubstr(absl::StrCat("node '", unknown[i], "' (Relu)")));
  }
}

// 25,000 nodes of the root's own, with "/x/Early" at 100 and "/x/Late" at
// 20,000 where asked: "x" could be a.x or b.x.
onnx::ModelProto RootNodesWithAmbiguousOnes(bool early, bool late) {
  std::vector<std::string> names;
  for (int i = 0; i < 25000; ++i) {
    if (early && i == 100) {
      names.push_back("/x/Early");
    } else if (late && i == 20000) {
      names.push_back("/x/Late");
    } else {
      names.push_back(absl::StrCat("/Relu_", i));
    }
  }
  return ModelBuilder().Chain(names).Build();
}

TEST(RangeWalkTest, TheFirstAmbiguousNodeInGraphOrderIsTheError) {
  for (const bool early : {true, false}) {
    ModuleTable table = TableOf(TwoDictsWithTheSameKey());
    absl::StatusOr<ScopeReconstruction> reconstruction =
        ReconstructScopes(CollectNodes(RootNodesWithAmbiguousOnes(early, true)),
                          &table, ScopeOptions());
    ASSERT_FALSE(reconstruction.ok());
    EXPECT_THAT(
        reconstruction.status().message(),
        HasSubstr(early ? "node '/x/Early' (Early)" : "node '/x/Late' (Late)"));
  }
}

TEST(RangeWalkTest, TakingTheFirstCandidateWarnsForEachInGraphOrder) {
  ModuleTable table = TableOf(TwoDictsWithTheSameKey());
  ScopeOptions options;
  options.first_candidate = true;
  Placed placed =
      Reconstruct(RootNodesWithAmbiguousOnes(true, true), &table, options);
  ASSERT_EQ(placed.modules.size(), 25000u);
  EXPECT_EQ(placed.modules[100], "a.x");
  EXPECT_EQ(placed.modules[20000], "a.x");
  EXPECT_EQ(placed.modules[19999], "");
  EXPECT_THAT(
      placed.reconstruction.warnings,
      ElementsAre(HasSubstr("node '/x/Early'"), HasSubstr("node '/x/Late'")));
}

// --- the call sequence ------------------------------------------------------

TraceBuilder ReluAndRelu1() {
  return TraceBuilder("Net")
      .TorchNn("relu", "ReLU", 2)
      .TorchNn("relu_1", "ReLU", 1);
}

TEST(CallMatchingTest, ASecondCallNamedLikeARealModuleGoesToItsCall) {
  // relu, relu_1, relu: torch names the calls "relu", "relu_1", "relu_1".
  ModuleTable table =
      TableOf(ReluAndRelu1().Call("relu").Call("relu_1").Call("relu"));
  Placed placed =
      Reconstruct(ModelBuilder()
                      .Chain({"/relu/Relu", "/relu_1/Relu", "/relu_1/Relu_1"})
                      .Build(),
                  &table);
  EXPECT_THAT(placed.modules, ElementsAre("relu", "relu_1", "relu"));
}

TEST(CallMatchingTest, ACallOfManyNodesKeepsThemUpToItsClasssCount) {
  // act and act_1 are one class of four nodes each, one of them repeated
  // (Constant); act's second call is named "act_1" too.
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("act", "Gelu", 2)
                                  .Module("act_1", "Gelu", 1)
                                  .Call("act")
                                  .Call("act_1")
                                  .Call("act"));
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/act/Constant", "/act/Div", "/act/Constant_1", "/act/Mul",
                  "/act_1/Constant", "/act_1/Div", "/act_1/Constant_1",
                  "/act_1/Mul", "/act_1/Constant_2", "/act_1/Div_1",
                  "/act_1/Constant_3", "/act_1/Mul_1"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules,
              ElementsAre("act", "act", "act", "act", "act_1", "act_1", "act_1",
                          "act_1", "act", "act", "act", "act"));
}

TEST(CallMatchingTest, WithoutACallSequenceTheRealModuleWins) {
  // An old trace: the module-level rule, as before calls were recorded.
  ModuleTable table = TableOf(ReluAndRelu1());
  EXPECT_FALSE(table.has_calls());
  Placed placed =
      Reconstruct(ModelBuilder()
                      .Chain({"/relu/Relu", "/relu_1/Relu", "/relu_1/Relu_1"})
                      .Build(),
                  &table);
  EXPECT_THAT(placed.modules, ElementsAre("relu", "relu_1", "relu_1"));
}

TEST(CallMatchingTest, ACallThatLeftNoNodeTakesNoNumber) {
  // gate's first call leaves no node, so its second is named "gate" and its
  // third "gate_1"; fc runs in between.
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("gate", "Gate", 3)
                                  .TorchNn("fc", "Linear")
                                  .Call("gate")
                                  .Call("fc")
                                  .Call("gate")
                                  .Call("gate"));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/fc/Gemm", "/gate/Mul", "/gate_1/Mul"}).Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("fc", "gate", "gate"));
}

TEST(CallMatchingTest, AReCalledBlockKeepsItsSubmodulesCalls) {
  // block runs twice; its own Add follows its children's nodes each time.
  ModuleTable table = TableOf(TraceBuilder("Net")
                                  .Module("block", "Block", 2)
                                  .TorchNn("block.fc", "Linear", 2)
                                  .TorchNn("relu_1", "ReLU", 1)
                                  .Call("block")
                                  .Call("block.fc", 0)
                                  .Call("block")
                                  .Call("block.fc", 2)
                                  .Call("relu_1"));
  Placed placed = Reconstruct(
      ModelBuilder()
          .Chain({"/block/fc/Gemm", "/block/Add", "/block/fc_1/Gemm",
                  "/block_1/Add", "/relu_1/Relu", "/Add"})
          .Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("block.fc", "block", "block.fc",
                                          "block", "relu_1", ""));
  EXPECT_THAT(placed.reconstruction.warnings, IsEmpty());
}

TEST(CallMatchingTest, AScopeNoCallExplainsFallsBackToModules) {
  ModuleTable table =
      TableOf(TraceBuilder("Net").Module("block", "Block").Call("block"));
  Placed placed = Reconstruct(
      ModelBuilder().Chain({"/block/Relu", "/block/gone/Relu"}).Build(),
      &table);
  EXPECT_THAT(placed.modules, ElementsAre("block", "block"));
  EXPECT_EQ(placed.origins[1], ScopeOrigin::kNearestAncestor);
}

TEST(DynamoRootClassTest, TheFirstNodeInGraphOrderNamesTheRoot) {
  // Enough nodes to be looked for on every core: the first node that names
  // a root class wins wherever the slices begin, and one in a later slice
  // never does.
  constexpr size_t kNodes = 30000;
  for (const size_t first :
       {size_t{3}, size_t{14999}, size_t{15000}, size_t{29990}}) {
    ModelBuilder builder;
    for (size_t i = 0; i < kNodes; ++i) {
      builder.Node(absl::StrCat("/n", i, "/Relu"), "Relu");
      if (i == first) {
        builder.NodeMetadata(kDynamoClassHierarchyKey, "['m.First', 'm.A']");
      } else if (i > first && i % 1000 == 0) {
        builder.NodeMetadata(kDynamoClassHierarchyKey, "['m.Later']");
      } else if (i + 1 == first) {
        // A list that names no class is passed over.
        builder.NodeMetadata(kDynamoClassHierarchyKey, "[]");
      }
    }
    EXPECT_EQ(DynamoRootClass(CollectNodes(builder.Build())),
              std::optional<std::string>("m.First"))
        << "first at node " << first;
  }
  EXPECT_EQ(DynamoRootClass(CollectNodes(
                ModelBuilder().Chain({"/a/Relu", "/b/Relu"}).Build())),
            std::nullopt);
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
