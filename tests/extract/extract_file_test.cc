// ExtractFile on small tagged models built in code: what a module holds
// only inside a subgraph body cannot be cut out of the main graph, and a
// border tensor whose type hp cannot infer names the node computing it;
// neither leaves a file behind.
#include "hp/extract/extract_file.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/model_io.h"
#include "hp/testing/model_builder.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::ListFolder;
using ::hp::test_files::TestFolder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A node tagged as `tag` writes it, with the match kind hp records.
testing::ModelBuilder& Tagged(testing::ModelBuilder& builder,
                              const std::string& tag) {
  return builder.NodeMetadata("pkg.hp.tag", tag)
      .NodeMetadata("pkg.hp.match", "direct");
}

TEST(ExtractFileTest, AModuleOnlyInASubgraphBodyHasNothingToCut) {
  const std::string folder = TestFolder();
  testing::ModelBuilder builder;
  builder.Input("x").Input("c", onnx::TensorProto::BOOL);
  Tagged(builder.Node("/If", "If", {"c"}, {"y"}), "/M")
      .Subgraph("then_branch", testing::GraphBuilder("then")
                                   .Node("/inner/Neg", "Neg", {"x"}, {"t"})
                                   .NodeMetadata("pkg.hp.tag", "/M/Inner")
                                   .Output("t"))
      .Subgraph("else_branch", testing::GraphBuilder("else")
                                   .Node("/Abs", "Abs", {"x"}, {"e"})
                                   .NodeMetadata("pkg.hp.tag", "/M")
                                   .Output("e"));
  const onnx::ModelProto model =
      builder.Output("y")
          .ModelMetadata("pkg.hp.tag_format", "metadata")
          .Build();
  ASSERT_TRUE(SaveModel(model, folder + "/m.onnx").ok());
  ExtractFileRequest request;
  request.model_path = folder + "/m.onnx";
  request.module_tag = "/M/Inner";
  request.output_path = folder + "/inner.onnx";
  const absl::StatusOr<ExtractFileResult> result = ExtractFile(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(),
              HasSubstr("module '/M/Inner' holds no node of the main graph"));
  EXPECT_THAT(ListFolder(folder), ElementsAre("m.onnx"));
}

TEST(ExtractFileTest, ABorderTensorOfUnknownTypeNamesItsNode) {
  const std::string folder = TestFolder();
  testing::ModelBuilder builder;
  builder.Input("x");
  Tagged(builder.Node("/a/Custom", "Custom", {"x"}, {"h"}), "/M/A");
  Tagged(builder.Node("/b/Relu", "Relu", {"h"}, {"y"}), "/M/B");
  const onnx::ModelProto model =
      builder.Output("y")
          .ModelMetadata("pkg.hp.tag_format", "metadata")
          .Build();
  ASSERT_TRUE(SaveModel(model, folder + "/m.onnx").ok());
  ExtractFileRequest request;
  request.model_path = folder + "/m.onnx";
  request.module_tag = "/M/B";
  request.output_path = folder + "/b.onnx";
  const absl::StatusOr<ExtractFileResult> result = ExtractFile(request);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              HasSubstr("node 0 ('/a/Custom', Custom): hp has no type rule "
                        "for op Custom; the type of 'h' is needed as an "
                        "input of module '/M/B'"));
  EXPECT_THAT(ListFolder(folder), ElementsAre("m.onnx"));
}

}  // namespace
}  // namespace hp
