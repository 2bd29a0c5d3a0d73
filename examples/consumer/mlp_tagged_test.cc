// A user's test of a model with external data that hp tagged during the
// build: the side file is beside the tagged model, where its tensors'
// locations lead, and holds the input's bytes.
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/testing/matchers.h"

namespace {

using ::hp::testing::EveryNodeIsTagged;
using ::hp::testing::NodeHasTag;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string ExternalEntry(const onnx::TensorProto& tensor,
                          const std::string& key) {
  for (const auto& entry : tensor.external_data()) {
    if (entry.key() == key) return entry.value();
  }
  return "";
}

TEST(MlpTaggedTest, CarriesTheModuleHierarchy) {
  absl::StatusOr<onnx::ModelProto> model = hp::LoadModel("mlp_tagged.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_THAT(*model, EveryNodeIsTagged());
  // No trace: tags from torch.onnx's node names under the root class.
  EXPECT_THAT(*model, NodeHasTag("/fc1/MatMul", "/Model/fc1"));
  EXPECT_THAT(*model, NodeHasTag("/fc2/Add", "/Model/fc2"));
}

TEST(MlpTaggedTest, EveryTensorFindsItsBytesBesideTheTaggedModel) {
  absl::StatusOr<onnx::ModelProto> model = hp::LoadModel("mlp_tagged.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  // The side file beside the output: the input's bytes, as a loader reads
  // them (the location relative to the tagged model's folder).
  const std::string side = ReadFile("mlp.onnx.data");
  EXPECT_EQ(side, ReadFile("../hp/testdata/external_data/mlp.onnx.data"));
  ASSERT_FALSE(side.empty());
  ASSERT_EQ(model->graph().initializer_size(), 4);
  for (const onnx::TensorProto& tensor : model->graph().initializer()) {
    ASSERT_EQ(tensor.data_location(), onnx::TensorProto::EXTERNAL)
        << tensor.name();
    EXPECT_EQ(ExternalEntry(tensor, "location"), "mlp.onnx.data");
    const size_t offset = std::stoul(ExternalEntry(tensor, "offset"));
    const size_t length = std::stoul(ExternalEntry(tensor, "length"));
    EXPECT_LE(offset + length, side.size()) << tensor.name();
  }
}

}  // namespace
