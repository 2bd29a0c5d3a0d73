// A BERT-like model of twelve layers built in code, with its scope trace.
// Its tags /TinyBert/BertEncoder/BertLayer.1 and .../BertLayer.10 share a
// string prefix: the views must never put layer 10's ops inside layer 1.
#ifndef HP_TESTS_SUPPORT_TWELVE_LAYERS_H_
#define HP_TESTS_SUPPORT_TWELVE_LAYERS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {
namespace testing {

inline constexpr int kLayers = 12;
// Nodes: /Cast and Constant_1 (no scope), then per layer a MatMul in the
// torch.nn Linear `dense` (parent match) and the layer's own Add (direct).
inline constexpr int kTwelveLayerNodes = 2 + 2 * kLayers;

// "/TinyBert/BertEncoder/BertLayer.<layer>".
std::string LayerTag(int layer);

// Graph input "x" and output "y" are declared FLOAT [2,4]; so is layer 0's
// MatMul output (value_info).
onnx::ModelProto TwelveLayerModel();
absl::StatusOr<ScopeTrace> TwelveLayerTrace();

// A test fixture: the model tagged by TagModel with its trace and default
// options. A subclass's SetUp calls this one first.
class TaggedTwelveLayers : public ::testing::Test {
 protected:
  void SetUp() override;

  onnx::ModelProto model_ = TwelveLayerModel();
  std::optional<ScopeTrace> trace_;
  TagResult result_;
};

}  // namespace testing
}  // namespace hp

#endif  // HP_TESTS_SUPPORT_TWELVE_LAYERS_H_
