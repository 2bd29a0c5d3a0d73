// The tag of every module instance (docs/tag-rules.md): hp/tag/module_tags.h,
// on module tables made from traces built in code.
#include "hp/tag/module_tags.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/model/module_table.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace {

using ::hp::testing::TraceBuilder;

// Module path -> tag, and path -> kept, for readable expectations.
struct Tags {
  absl::flat_hash_map<std::string, std::string> tag;
  absl::flat_hash_map<std::string, bool> kept;
  absl::flat_hash_map<std::string, std::string> owner;
};

Tags Resolve(const ModuleTable& table, const TagRules& rules = TagRules()) {
  ModuleTags resolved = ResolveModuleTags(table, rules);
  Tags tags;
  for (int i = 0; i < table.size(); ++i) {
    tags.tag[table.at(i).path] = resolved.tag[i];
    tags.kept[table.at(i).path] = resolved.kept[i];
    tags.owner[table.at(i).path] =
        std::string(table.at(resolved.owner[i]).path);
  }
  return tags;
}

ModuleTable TableOf(const TraceBuilder& builder) {
  absl::StatusOr<ScopeTrace> trace = builder.Build();
  EXPECT_TRUE(trace.ok()) << trace.status();
  return ModuleTableFromTrace(*trace);
}

TEST(ModuleTagsTest, ClassChainsWithListIndices) {
  Tags tags =
      Resolve(TableOf(TraceBuilder("BertModel")
                          .Module("encoder", "BertEncoder")
                          .TorchNn("encoder.layer", "ModuleList", 0)
                          .Module("encoder.layer.0", "BertLayer")
                          .Module("encoder.layer.0.attention", "BertAttention")
                          .Module("encoder.layer.1", "BertLayer")));
  EXPECT_EQ(tags.tag[""], "/BertModel");
  EXPECT_EQ(tags.tag["encoder"], "/BertModel/BertEncoder");
  EXPECT_EQ(tags.tag["encoder.layer.0"], "/BertModel/BertEncoder/BertLayer.0");
  EXPECT_EQ(tags.tag["encoder.layer.1"], "/BertModel/BertEncoder/BertLayer.1");
  EXPECT_EQ(tags.tag["encoder.layer.0.attention"],
            "/BertModel/BertEncoder/BertLayer.0/BertAttention");
  // The ModuleList adds nothing and owns nothing.
  EXPECT_FALSE(tags.kept["encoder.layer"]);
  EXPECT_EQ(tags.owner["encoder.layer"], "encoder");
  EXPECT_EQ(tags.tag["encoder.layer"], "/BertModel/BertEncoder");
}

TEST(ModuleTagsTest, TorchNnModulesTakeTheirNearestKeptAncestorsTag) {
  Tags tags = Resolve(TableOf(TraceBuilder("Net")
                                  .Module("block", "Block")
                                  .TorchNn("block.seq", "Sequential")
                                  .TorchNn("block.seq.0", "Linear")));
  EXPECT_TRUE(tags.kept["block"]);
  EXPECT_FALSE(tags.kept["block.seq.0"]);
  EXPECT_EQ(tags.owner["block.seq.0"], "block");
  EXPECT_EQ(tags.tag["block.seq.0"], "/Net/Block");
}

TEST(ModuleTagsTest, Rule5SiblingsOfOneClassAreToldApartByPath) {
  Tags tags = Resolve(TableOf(TraceBuilder("T5Model")
                                  .Module("encoder", "T5Stack")
                                  .TorchNn("encoder.block", "ModuleList", 0)
                                  .Module("encoder.block.0", "T5Block")
                                  .Module("decoder", "T5Stack")
                                  .TorchNn("decoder.block", "ModuleList", 0)
                                  .Module("decoder.block.0", "T5Block")
                                  .TorchNn("lm_head", "Linear")));
  EXPECT_EQ(tags.tag["encoder"], "/T5Model/T5Stack[encoder]");
  EXPECT_EQ(tags.tag["decoder"], "/T5Model/T5Stack[decoder]");
  // Under different kept parents, T5Block.0 twice is no collision.
  EXPECT_EQ(tags.tag["encoder.block.0"], "/T5Model/T5Stack[encoder]/T5Block.0");
  EXPECT_EQ(tags.tag["decoder.block.0"], "/T5Model/T5Stack[decoder]/T5Block.0");
  EXPECT_EQ(tags.tag["lm_head"], "/T5Model");
}

TEST(ModuleTagsTest, Rule5ListElementsUnderLeftOutSequentials) {
  Tags tags = Resolve(TableOf(TraceBuilder("ResNet")
                                  .TorchNn("layer1", "Sequential")
                                  .Module("layer1.0", "BasicBlock")
                                  .Module("layer1.1", "BasicBlock")
                                  .TorchNn("layer2", "Sequential")
                                  .Module("layer2.0", "BasicBlock")));
  EXPECT_EQ(tags.tag["layer1.0"], "/ResNet/BasicBlock[layer1.0]");
  EXPECT_EQ(tags.tag["layer2.0"], "/ResNet/BasicBlock[layer2.0]");
  // Only colliding components take the bracket form.
  EXPECT_EQ(tags.tag["layer1.1"], "/ResNet/BasicBlock.1");
}

TEST(ModuleTagsTest, Rule5PathsAreRelativeToTheKeptParent) {
  Tags tags = Resolve(TableOf(TraceBuilder("Net")
                                  .Module("encoder", "Encoder")
                                  .TorchNn("encoder.first", "Sequential")
                                  .Module("encoder.first.0", "Block")
                                  .TorchNn("encoder.second", "Sequential")
                                  .Module("encoder.second.0", "Block")));
  EXPECT_EQ(tags.tag["encoder.first.0"], "/Net/Encoder/Block[first.0]");
  EXPECT_EQ(tags.tag["encoder.second.0"], "/Net/Encoder/Block[second.0]");
}

TraceBuilder ResNetWithNorms() {
  return TraceBuilder("ResNet")
      .TorchNn("layer1", "Sequential")
      .Module("layer1.0", "BasicBlock")
      .TorchNn("layer1.0.bn1", "BatchNorm2d")
      .TorchNn("layer1.0.conv1", "Conv2d")
      .TorchNn("layer2", "Sequential")
      .Module("layer2.0", "BasicBlock");
}

TEST(ModuleTagsTest, KeepListKeepsTheNamedTorchNnClassesOnly) {
  TagRules rules;
  rules.keep_torch_nn_classes = {"BatchNorm2d"};
  Tags tags = Resolve(TableOf(ResNetWithNorms()), rules);
  EXPECT_TRUE(tags.kept["layer1.0.bn1"]);
  EXPECT_EQ(tags.tag["layer1.0.bn1"],
            "/ResNet/BasicBlock[layer1.0]/BatchNorm2d");
  EXPECT_FALSE(tags.kept["layer1.0.conv1"]);
  EXPECT_EQ(tags.tag["layer1.0.conv1"], "/ResNet/BasicBlock[layer1.0]");
  EXPECT_FALSE(tags.kept["layer1"]);
}

TEST(ModuleTagsTest, KeepAllKeepsContainersToo) {
  TagRules rules;
  rules.keep_all_torch_nn = true;
  Tags tags = Resolve(TableOf(ResNetWithNorms()), rules);
  // Both Sequentials collide under the root; their blocks then do not.
  EXPECT_EQ(tags.tag["layer1"], "/ResNet/Sequential[layer1]");
  EXPECT_EQ(tags.tag["layer1.0"], "/ResNet/Sequential[layer1]/BasicBlock.0");
  EXPECT_EQ(tags.tag["layer2.0"], "/ResNet/Sequential[layer2]/BasicBlock.0");
  EXPECT_EQ(tags.tag["layer1.0.conv1"],
            "/ResNet/Sequential[layer1]/BasicBlock.0/Conv2d");
}

TEST(ModuleTagsTest, WithoutClassesComponentsComeFromNodeNames) {
  ModuleTable table(HierarchySource::kNodeNames, "Model", "");
  table.Add({"encoder"});
  table.Add({"encoder.layer.0"});
  table.Add({"encoder.layer.0.relu"});
  Tags tags = Resolve(table);
  EXPECT_EQ(tags.tag["encoder.layer.0"], "/Model/encoder/layer.0");
  EXPECT_EQ(tags.tag["encoder.layer.0.relu"], "/Model/encoder/layer.0/relu");
}

TEST(ModuleTagsTest, AContainerOfUnknownClassIsLeftOut) {
  ModuleTable table(HierarchySource::kDynamoMetadata, "Net", "m.Net");
  table.Add({"blocks"});  // dynamo's metadata never names it
  Module block;
  block.path = "blocks.0";
  block.class_name = "Block";
  block.qualified_class = "m.Block";
  table.Add(std::move(block));
  Tags tags = Resolve(table);
  EXPECT_FALSE(tags.kept["blocks"]);
  EXPECT_EQ(tags.tag["blocks.0"], "/Net/Block.0");
}

}  // namespace
}  // namespace hp
