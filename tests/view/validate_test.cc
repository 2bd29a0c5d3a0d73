// validate: a model as hp tagged it passes; every kind of damage is named.
#include "hp/view/validate.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ValidateTest : public testing::TaggedTwelveLayers {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TaggedTwelveLayers::SetUp());
    absl::StatusOr<ComputedTags> computed =
        ComputeNodeTags(CollectNodes(model_), &*trace_, TagOptions());
    ASSERT_TRUE(computed.ok()) << computed.status();
    computed_ = *computed;
  }

  StoredTags Stored() {
    absl::StatusOr<StoredTags> stored = ReadStoredTags(model_, "m.onnx");
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.value_or(StoredTags());
  }

  std::vector<std::string> Validate() {
    return ValidateStoredTags(CollectNodes(model_), Stored(), computed_);
  }

  // Sets a metadata entry of a main-graph node.
  void Set(int node, const std::string& key, const std::string& value) {
    for (auto& entry : *model_.mutable_graph()
                            ->mutable_node(node)
                            ->mutable_metadata_props()) {
      if (entry.key() == key) entry.set_value(value);
    }
  }

  // Gives a node another tag, with the namespace to match.
  void Retag(int node, const std::string& tag) {
    Set(node, kTagKey, tag);
    Set(node, kNamespaceKey, tag.substr(1));
  }

  std::vector<std::string> ValidateAlone() {
    return ValidateStoredFacts(CollectNodes(model_), Stored());
  }

  // Takes an entry off every main-graph node.
  void RemoveEverywhere(const std::string& key) {
    for (auto& node : *model_.mutable_graph()->mutable_node()) {
      auto* entries = node.mutable_metadata_props();
      for (int i = entries->size() - 1; i >= 0; --i) {
        if ((*entries)[i].key() == key) entries->DeleteSubrange(i, 1);
      }
    }
  }

  ComputedTags computed_;
};

TEST_F(ValidateTest, AModelAsHpTaggedItPasses) {
  EXPECT_THAT(Validate(), IsEmpty());
}

TEST_F(ValidateTest, ATagOfNoModuleIsNamed) {
  Retag(3, "/TinyBert/Nowhere");
  EXPECT_THAT(Validate(),
              ElementsAre("node '/encoder/layer.0/Add' (Add) in main: tag "
                          "'/TinyBert/Nowhere' is not the tag of any module "
                          "(from trace); hp tags it "
                          "'/TinyBert/BertEncoder/BertLayer.0'"));
}

TEST_F(ValidateTest, LayerTensOpsTaggedAsLayerOneAreNamed) {
  // A tag that exists, but not for this node's module: the mistake of
  // prefix matching.
  Retag(23, testing::LayerTag(1));
  EXPECT_THAT(Validate(),
              ElementsAre(HasSubstr("node '/encoder/layer.10/Add' (Add) in "
                                    "main: tag "
                                    "'/TinyBert/BertEncoder/BertLayer.1' "
                                    "disagrees with its module path "
                                    "'encoder.layer.10'")));
}

TEST_F(ValidateTest, AModulePathOtherThanHpsIsNamed) {
  Set(3, kModulePathKey, "encoder.layer.1");
  EXPECT_THAT(Validate(), ElementsAre(HasSubstr(
                              "node '/encoder/layer.0/Add' (Add) in main: "
                              "module path 'encoder.layer.1', but hp finds "
                              "'encoder.layer.0'")));
  Set(3, kModulePathKey, "encoder.nothing");
  EXPECT_THAT(Validate(), ElementsAre(HasSubstr("module path 'encoder.nothing' "
                                                "is not a module")));
}

TEST_F(ValidateTest, NodesWithoutScopeMayCarryAnyModulesTag) {
  // What --propagate does to Constant_1 (no scope).
  Retag(1, testing::LayerTag(0));
  EXPECT_THAT(Validate(), IsEmpty());
}

TEST_F(ValidateTest, MalformedEntriesAreReported) {
  Set(2, kTagKey, "");
  EXPECT_THAT(Validate(),
              Contains("node '/encoder/layer.0/dense/MatMul' (MatMul) in main: "
                       "empty tag"));
}

TEST_F(ValidateTest, TwoKeptModulesWithOneTagAreReported) {
  ComputedTags computed = computed_;
  for (ModuleInfo& module : computed.summary.modules) {
    if (module.path == "encoder.layer.10") module.tag = testing::LayerTag(1);
  }
  EXPECT_THAT(ValidateStoredTags(CollectNodes(model_), Stored(), computed),
              Contains("tag '/TinyBert/BertEncoder/BertLayer.1' is shared by "
                       "module instances 'encoder.layer.1' and "
                       "'encoder.layer.10'"));
}

TEST_F(ValidateTest, ASidecarOfThisModelAgrees) {
  Sidecar sidecar;
  sidecar.output_model_sha256 = "abc";
  sidecar.nodes = result_.nodes;
  EXPECT_THAT(CompareWithSidecar(sidecar, "s.json", CollectNodes(model_),
                                 Stored(), "abc"),
              IsEmpty());
}

TEST_F(ValidateTest, ASidecarOfAnotherModelIsNamed) {
  Sidecar sidecar;
  sidecar.output_model_sha256 = "def";
  sidecar.nodes = result_.nodes;
  sidecar.nodes[5].tag = "/Other";
  sidecar.nodes.pop_back();
  EXPECT_THAT(
      CompareWithSidecar(sidecar, "s.json", CollectNodes(model_), Stored(),
                         "abc"),
      ElementsAre(HasSubstr("s.json describes a model of sha256 def, this one "
                            "has sha256 abc"),
                  "s.json lists 25 nodes, the model has 26",
                  HasSubstr("node '/encoder/layer.1/Add' (Add) in main: tagged "
                            "'/TinyBert/BertEncoder/BertLayer.1', s.json says "
                            "'/Other'")));
}

// The stored match kinds are those tag computed, node by node.
TEST_F(ValidateTest, StoredMatchKindsAreTheComputedOnes) {
  const StoredTags stored = Stored();
  EXPECT_TRUE(stored.matches_recorded);
  ASSERT_EQ(stored.matches.size(), computed_.size());
  for (size_t i = 0; i < computed_.size(); ++i) {
    EXPECT_EQ(stored.matches[i], computed_.MatchKindOf(i)) << i;
  }
  Set(3, kMatchKey, "parent");
  EXPECT_THAT(Validate(), ElementsAre(HasSubstr(
                              "node '/encoder/layer.0/Add' (Add) in main: "
                              "stored match kind 'parent', but hp finds "
                              "'direct'")));
}

TEST_F(ValidateTest, StoredFactsAloneOfAModelAsHpTaggedItPass) {
  EXPECT_THAT(ValidateAlone(), IsEmpty());
}

TEST_F(ValidateTest, StoredFactsAloneNameWhatDisagrees) {
  // The direct node of layer 0 tagged as layer 1: one tag for two modules.
  Retag(3, testing::LayerTag(1));
  EXPECT_THAT(ValidateAlone(),
              ElementsAre("tag '/TinyBert/BertEncoder/BertLayer.1' is shared "
                          "by module instances 'encoder.layer.0' and "
                          "'encoder.layer.1'"));
}

TEST_F(ValidateTest, StoredFactsAloneCheckTheStatistics) {
  Set(3, kMatchKey, "parent");
  EXPECT_THAT(ValidateAlone(),
              ElementsAre(HasSubstr("pkg.hp.statistics counts 13 direct nodes, "
                                    "the nodes record 12"),
                          HasSubstr("pkg.hp.statistics counts 12 parent "
                                    "nodes, the nodes record 13")));
}

TEST_F(ValidateTest, UnknownAndMissingMatchKindsAreNamed) {
  Set(3, kMatchKey, "guessed");
  EXPECT_THAT(ValidateAlone(),
              Contains("node '/encoder/layer.0/Add' (Add) in main: match kind "
                       "'guessed' is not direct, parent, root or propagated"));
  RemoveEverywhere(kMatchKey);
  EXPECT_THAT(ValidateAlone(),
              ElementsAre(HasSubstr("no node records its match kind")));
}

TEST_F(ValidateTest, ARootNodeCarriesTheRootTag) {
  int root_node = -1;
  for (size_t i = 0; i < computed_.size(); ++i) {
    if (computed_.MatchKindOf(i) == MatchKind::kRoot) root_node = i;
  }
  ASSERT_GE(root_node, 0);
  Retag(root_node, testing::LayerTag(0));
  EXPECT_THAT(ValidateAlone(),
              Contains(HasSubstr("matched 'root' but tagged "
                                 "'/TinyBert/BertEncoder/BertLayer.0', not "
                                 "the root tag '/TinyBert'")));
}

}  // namespace
}  // namespace hp
