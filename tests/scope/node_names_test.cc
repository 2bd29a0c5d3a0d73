// What node names say about scopes: hp/scope/node_names.h.
#include "hp/scope/node_names.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ParseNodeNameTest, SplitsScopeComponentsAndDropsTheOp) {
  NodeNameScope scope =
      ParseNodeName("/encoder/layer.0/attention/self/query/MatMul");
  EXPECT_TRUE(scope.has_scope);
  EXPECT_THAT(scope.components,
              ElementsAre("encoder", "layer.0", "attention", "self", "query"));
}

TEST(ParseNodeNameTest, AnOpOfTheRootsForwardHasAnEmptyScope) {
  NodeNameScope scope = ParseNodeName("/Cast");
  EXPECT_TRUE(scope.has_scope);
  EXPECT_THAT(scope.components, IsEmpty());
}

TEST(ParseNodeNameTest, NamesWithoutALeadingSlashHaveNoScope) {
  for (const char* name : {"Constant_50", "MatMul_12", "node_Add_3", ""}) {
    SCOPED_TRACE(name);
    NodeNameScope scope = ParseNodeName(name);
    EXPECT_FALSE(scope.has_scope);
    EXPECT_THAT(scope.components, IsEmpty());
  }
}

TEST(ParseNodeNameTest, KeepsSequentialRepeatsAndDedupSuffixesVerbatim) {
  EXPECT_THAT(ParseNodeName("/layer1/layer1.0/relu_1/Relu").components,
              ElementsAre("layer1", "layer1.0", "relu_1"));
}

TEST(ParseNodeNameTest, SkipsEmptyComponents) {
  EXPECT_THAT(ParseNodeName("//a//b/Op").components, ElementsAre("a", "b"));
}

TEST(IsListIndexTest, OnlyNonEmptyDigitStrings) {
  EXPECT_TRUE(IsListIndex("0"));
  EXPECT_TRUE(IsListIndex("12"));
  EXPECT_FALSE(IsListIndex(""));
  EXPECT_FALSE(IsListIndex("a1"));
  EXPECT_FALSE(IsListIndex("-1"));
  EXPECT_FALSE(IsListIndex("1a"));
}

TEST(LastAtomTest, IsTheTextAfterTheLastDot) {
  EXPECT_EQ(LastAtom("encoder.layer.0"), "0");
  EXPECT_EQ(LastAtom("encoder"), "encoder");
  EXPECT_EQ(LastAtom(""), "");
}

TEST(ScopeComponentTest, IsTheLastNameWithItsNumericTail) {
  EXPECT_EQ(ScopeComponent("encoder.layer.0"), "layer.0");
  EXPECT_EQ(ScopeComponent("a.b"), "b");
  EXPECT_EQ(ScopeComponent("encoder"), "encoder");
  EXPECT_EQ(ScopeComponent("layer1.0"), "layer1.0");
  EXPECT_EQ(ScopeComponent("layer1.0.downsample.0"), "downsample.0");
  // Nested lists keep every index.
  EXPECT_EQ(ScopeComponent("blocks.0.1"), "blocks.0.1");
  // A top-level nn.Sequential element has only its index.
  EXPECT_EQ(ScopeComponent("0"), "0");
  EXPECT_EQ(ScopeComponent(""), "");
}

TEST(JoinPathTest, JoinsWithADotUnlessOneSideIsTheRoot) {
  EXPECT_EQ(JoinPath("", "encoder"), "encoder");
  EXPECT_EQ(JoinPath("encoder", ""), "encoder");
  EXPECT_EQ(JoinPath("encoder", "layer.0"), "encoder.layer.0");
  EXPECT_EQ(JoinPath("", ""), "");
}

TEST(ParentPathTest, DropsTheLastAtom) {
  EXPECT_EQ(ParentPath("a.b.c"), "a.b");
  EXPECT_EQ(ParentPath("a"), "");
  EXPECT_EQ(ParentPath(""), "");
}

TEST(WithoutDedupSuffixTest, StripsANumericSuffixAfterTheLastUnderscore) {
  EXPECT_EQ(WithoutDedupSuffix("relu_1"), "relu");
  EXPECT_EQ(WithoutDedupSuffix("rotary_12"), "rotary");
  EXPECT_EQ(WithoutDedupSuffix("layer_norm_2"), "layer_norm");
}

TEST(WithoutDedupSuffixTest, IsEmptyWithoutSuchASuffix) {
  EXPECT_EQ(WithoutDedupSuffix("relu"), "");
  EXPECT_EQ(WithoutDedupSuffix("layer_norm"), "");
  EXPECT_EQ(WithoutDedupSuffix("relu_"), "");
  EXPECT_EQ(WithoutDedupSuffix("_1"), "");
  EXPECT_EQ(WithoutDedupSuffix("layer.0"), "");
  EXPECT_EQ(WithoutDedupSuffix(""), "");
}

}  // namespace
}  // namespace hp
