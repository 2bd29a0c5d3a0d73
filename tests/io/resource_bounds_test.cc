// hp's documented limits (docs/reliability.md, "Resource bounds"): each
// exceeded one is refused with an error that names the file and the limit.
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/model_io.h"
#include "hp/io/model_splice.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::kModels;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::HasSubstr;
using ::testing::Not;

// A model whose main graph holds an If whose then_branch holds an If ...
// `depth` levels of subgraphs, an Identity at the bottom. Written at the
// wire level: protobuf's own serializer recurses once per message, which
// thousands of levels deep overflows the stack under ASan.
std::string NestedIfModel(int depth) {
  using ::hp::wire_format::BytesField;
  using ::hp::wire_format::VarintField;
  std::string graph =
      BytesField(1, BytesField(3, "leaf") + BytesField(4, "Identity")) +
      BytesField(2, "level_" + std::to_string(depth));
  for (int level = depth - 1; level >= 0; --level) {
    const std::string branch = BytesField(1, "then_branch") +
                               VarintField(20, onnx::AttributeProto::GRAPH) +
                               BytesField(6, graph);
    const std::string node = BytesField(3, "if_" + std::to_string(level)) +
                             BytesField(4, "If") + BytesField(5, branch);
    graph =
        BytesField(1, node) + BytesField(2, "level_" + std::to_string(level));
  }
  return VarintField(1, 8) + BytesField(8, VarintField(2, 17)) +
         BytesField(7, graph);
}

TEST(ResourceBoundsTest, DeeplyNestedIfIsRefusedAsRecursionDepth) {
  const std::string path = TestFolder() + "/deep_if.onnx";
  const std::string bytes = NestedIfModel(3000);
  WriteBytes(path, bytes);
  const absl::Status parsed = ParseModel(bytes, path).status();
  EXPECT_THAT(parsed.message(), HasSubstr("recursion depth"));
  EXPECT_THAT(parsed.message(), HasSubstr(path + ": node 'if_32' (If)"));
  EXPECT_THAT(parsed.message(), Not(HasSubstr("truncated")));
  for (bool records : {false, true}) {
    SpliceOptions options;
    options.read_node_records = records;
    const absl::Status opened = ModelSplice::Open(path, options).status();
    EXPECT_TRUE(absl::IsInvalidArgument(opened)) << opened;
    EXPECT_THAT(opened.message(), HasSubstr("recursion depth"));
    EXPECT_THAT(opened.message(), HasSubstr(path));
    EXPECT_THAT(opened.message(), Not(HasSubstr("truncated")));
  }
}

TEST(ResourceBoundsTest, NestingUpToTheLimitIsRead) {
  const std::string path = TestFolder() + "/nested_if.onnx";
  WriteBytes(path, NestedIfModel(kMaxSubgraphDepth));
  EXPECT_TRUE(CheckSubgraphDepth(NestedIfModel(kMaxSubgraphDepth), path).ok());
  EXPECT_TRUE(LoadModel(path).ok()) << LoadModel(path).status();
  SpliceOptions options;
  options.read_node_records = true;
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path, options);
  EXPECT_TRUE(splice.ok()) << splice.status();
}

TEST(ResourceBoundsTest, OneLevelPastTheLimitIsRefused) {
  const absl::Status status =
      CheckSubgraphDepth(NestedIfModel(kMaxSubgraphDepth + 1), "m.onnx");
  EXPECT_THAT(status.message(), HasSubstr("recursion depth"));
  EXPECT_THAT(status.message(),
              HasSubstr("m.onnx: node 'if_32' (If) at subgraph level 32"));
}

// Node names and node counts have no limit of their own. Read as records,
// each node record must fit one protobuf message (2 GB; tests lower the
// limit through SpliceOptions) and so must the model without its nodes and
// initializers, but the nodes together may be past it. Parsed into the
// skeleton, the model without its initializers must fit.
TEST(ResourceBoundsTest, NamesAndNodeCountsAreBoundedPerRecord) {
  const std::string folder = TestFolder();
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  onnx::NodeProto* long_name = model.mutable_graph()->add_node();
  long_name->set_op_type("Identity");
  long_name->set_name(std::string(1 << 20, 'n'));
  for (int i = 0; i < 20000; ++i) {
    onnx::NodeProto* node = model.mutable_graph()->add_node();
    node->set_op_type("Identity");
    node->set_name("node_" + std::to_string(i));
  }
  const std::string path = folder + "/many_nodes.onnx";
  WriteBytes(path, model.SerializeAsString());
  SpliceOptions options;
  options.read_node_records = true;
  absl::StatusOr<ModelSplice> read = ModelSplice::Open(path, options);
  ASSERT_TRUE(read.ok()) << read.status();
  options.max_skeleton_bytes = 1 << 20;
  const absl::Status refused = ModelSplice::Open(path, options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr(path + ": node record 0 is"));
  EXPECT_THAT(refused.message(), HasSubstr("over protobuf's 1048576-byte"));

  // Without the long name: 20,000 small records, 300 KB together, past a
  // 64 KiB limit as a whole but each far under it.
  model.mutable_graph()->mutable_node()->DeleteSubrange(0, 1);
  WriteBytes(path, model.SerializeAsString());
  options.max_skeleton_bytes = 1 << 16;
  read = ModelSplice::Open(path, options);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->nodes().size(), 20000u);
  options.read_node_records = false;
  const absl::Status parsed = ModelSplice::Open(path, options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(parsed)) << parsed;
  EXPECT_THAT(
      parsed.message(),
      HasSubstr(path + ": the model without its graph initializers is"));
}

TEST(ResourceBoundsTest, TraceOverTheLimitIsRefusedBeforeReading) {
  const std::string folder = TestFolder();
  const std::string trace = std::string(kModels) + "/tiny_gpt.trace.json";
  const absl::Status small = LoadScopeTrace(trace, 16).status();
  EXPECT_THAT(small.message(), HasSubstr(trace + ": the trace is"));
  EXPECT_THAT(small.message(), HasSubstr("over hp's limit of 16 bytes"));
  // A sparse file just over the default limit: refused by its size alone.
  const std::string huge = folder + "/huge.trace.json";
  WriteBytes(huge, "");
  fs::resize_file(huge, kMaxTraceBytes + 1);
  const absl::Status status = LoadScopeTrace(huge).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("over hp's limit"));
  EXPECT_TRUE(LoadScopeTrace(trace).ok());
}

}  // namespace
}  // namespace hp
