// A user's test of a model hp tagged during the build.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/testing/matchers.h"

namespace {

using ::hp::testing::EveryNodeIsTagged;
using ::hp::testing::NodeHasTag;

TEST(TinyBertTaggedTest, CarriesTheModuleHierarchy) {
  // The rule's output, in this workspace's runfiles root.
  absl::StatusOr<onnx::ModelProto> model =
      hp::LoadModel("tiny_bert_tagged.onnx");
  ASSERT_TRUE(model.ok()) << model.status();

  EXPECT_THAT(*model, EveryNodeIsTagged());
  // Tags from hp's testdata/models/tiny_bert.expected.json.
  EXPECT_THAT(*model,
              NodeHasTag("/encoder/layer.1/attention/self/query/MatMul",
                         "/TinyBertModel/BertEncoder/BertLayer.1/BertAttention/"
                         "BertSelfAttention"));
  EXPECT_THAT(*model, NodeHasTag("/encoder/layer.0/output/Add",
                                 "/TinyBertModel/BertEncoder/BertLayer.0/"
                                 "BertOutput"));
  EXPECT_THAT(*model, NodeHasTag("/Cast", "/TinyBertModel"));
}

}  // namespace
