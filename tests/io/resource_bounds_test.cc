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

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::kModels;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::HasSubstr;
using ::testing::Not;

// A model whose main graph holds an If whose then_branch holds an If ...
// `depth` levels of subgraphs, an Identity at the bottom.
std::string NestedIfModel(int depth) {
  onnx::GraphProto graph;
  graph.set_name("level_" + std::to_string(depth));
  onnx::NodeProto* leaf = graph.add_node();
  leaf->set_op_type("Identity");
  leaf->set_name("leaf");
  for (int level = depth - 1; level >= 0; --level) {
    onnx::GraphProto outer;
    outer.set_name("level_" + std::to_string(level));
    onnx::NodeProto* node = outer.add_node();
    node->set_op_type("If");
    node->set_name("if_" + std::to_string(level));
    onnx::AttributeProto* branch = node->add_attribute();
    branch->set_name("then_branch");
    branch->set_type(onnx::AttributeProto::GRAPH);
    branch->mutable_g()->Swap(&graph);
    graph.Swap(&outer);
  }
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  model.mutable_graph()->Swap(&graph);
  return model.SerializeAsString();
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
