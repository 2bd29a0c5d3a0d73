// hp::ComputeTags and hp::TagModel on graphs big enough to be filled and
// written in slices on several threads: every node gets its own tag, in
// graph order, and errors name the first failing node.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/testing/model_builder.h"

namespace hp {
namespace {

using ::hp::testing::ModelBuilder;
using ::hp::testing::TraceBuilder;
using ::testing::HasSubstr;

constexpr int kNodes = 50000;
constexpr int kBlocks = 300;

// Node i runs in blocks.(i % kBlocks).fc, a torch.nn Linear that tags leave
// out: its tag is the block's. Scopes recur, but never back to back.
std::string NodeName(int i) {
  return absl::StrCat("/blocks.", i % kBlocks, "/fc/MatMul_", i);
}

onnx::ModelProto BigModel() {
  std::vector<std::string> names;
  for (int i = 0; i < kNodes; ++i) names.push_back(NodeName(i));
  return ModelBuilder().Chain(names).Build();
}

ScopeTrace BigTrace() {
  TraceBuilder trace("Net");
  trace.TorchNn("blocks", "ModuleList");
  for (int block = 0; block < kBlocks; ++block) {
    trace.Module(absl::StrCat("blocks.", block), "Block");
    trace.TorchNn(absl::StrCat("blocks.", block, ".fc"), "Linear");
  }
  absl::StatusOr<ScopeTrace> built = trace.Build();
  EXPECT_TRUE(built.ok()) << built.status();
  return *built;
}

const std::string* Metadata(const onnx::NodeProto& node, const char* key) {
  for (const onnx::StringStringEntryProto& entry : node.metadata_props()) {
    if (entry.key() == key) return &entry.value();
  }
  return nullptr;
}

TEST(BigGraphTest, EveryNodeGetsItsOwnTagInGraphOrder) {
  onnx::ModelProto model = BigModel();
  const ScopeTrace trace = BigTrace();
  absl::StatusOr<TagResult> result = TagModel(&model, &trace, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->nodes.size(), size_t{kNodes});
  EXPECT_EQ(result->statistics.parent, kNodes);
  EXPECT_EQ(result->statistics.tags, kBlocks);
  for (int i = 0; i < kNodes; ++i) {
    SCOPED_TRACE(i);
    const std::string block = absl::StrCat("blocks.", i % kBlocks);
    const std::string tag = absl::StrCat("/Net/Block.", i % kBlocks);
    const NodeTag& node = result->nodes[i];
    ASSERT_EQ(node.node_name, NodeName(i));
    ASSERT_EQ(node.graph_path, "main");
    ASSERT_EQ(node.op_type, "MatMul");
    ASSERT_EQ(node.module_path, block + ".fc");
    ASSERT_EQ(node.tag, tag);
    ASSERT_EQ(node.match, MatchKind::kParent);
    const onnx::NodeProto& written = model.graph().node(i);
    ASSERT_NE(Metadata(written, "pkg.hp.tag"), nullptr);
    ASSERT_EQ(*Metadata(written, "pkg.hp.tag"), tag);
    ASSERT_EQ(*Metadata(written, "pkg.hp.module_path"), block + ".fc");
  }
}

TEST(BigGraphTest, TheFirstFailingNodeInGraphOrderIsReported) {
  onnx::ModelProto model = BigModel();
  for (int i : {kNodes - 10, kNodes / 4}) {
    onnx::StringStringEntryProto* entry =
        model.mutable_graph()->mutable_node(i)->add_metadata_props();
    entry->set_key("pkg.hp.tag");
    entry->set_value("not hp's");
  }
  const ScopeTrace trace = BigTrace();
  absl::StatusOr<TagResult> result = TagModel(&model, &trace, TagOptions());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr(absl::StrCat("'", NodeName(kNodes / 4), "'")));
}

}  // namespace
}  // namespace hp
