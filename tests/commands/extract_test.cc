// `converter extract` in-process: a module of a tagged fixture by path and
// by tag, every module at a depth with the remainder, external data beside
// the output, and the inputs it refuses with nothing written.
#include "hp/commands/extract.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/commands/tag.h"
#include "hp/io/model_io.h"
#include "nlohmann/json.hpp"
#include "tests/support/run_command.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using test_files::kModels;
using test_files::ListFolder;
using test_files::ReadBytes;
using test_files::TestFolder;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::Ran;
using testing::RunCommand;

std::string Tagged(const std::string& model, const std::string& folder,
                   const std::string& name) {
  TagArgs tag;
  tag.model = model;
  tag.output.output = absl::StrCat(folder, "/", name, ".tagged.onnx");
  tag.durability = Durability::kNoFsync;
  const Ran tagged = RunCommand(RunTag, tag);
  EXPECT_TRUE(tagged.status.ok()) << tagged.status;
  return tag.output.output;
}

std::string TaggedBert(const std::string& folder) {
  return Tagged(absl::StrCat(kModels, "/tiny_bert.onnx"), folder, "tiny_bert");
}

ExtractArgs Extract(const std::string& model, const std::string& output) {
  ExtractArgs args;
  args.model = model;
  args.output = output;
  args.durability = Durability::kNoFsync;
  return args;
}

std::string Metadata(const onnx::ModelProto& model, const std::string& key) {
  for (const auto& entry : model.metadata_props()) {
    if (entry.key() == key) return entry.value();
  }
  return "";
}

TEST(ExtractCommandTest, ALayerByItsPathHoldsItsSubtreeAndRecordsItsSource) {
  const std::string folder = TestFolder();
  ExtractArgs args = Extract(TaggedBert(folder), folder + "/layer0.onnx");
  args.module_path = "encoder.layer.0";
  const Ran ran = RunCommand(RunExtract, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_EQ(ran.out,
            absl::StrCat("extracted /TinyBertModel/BertEncoder/BertLayer.0 -> ",
                         args.output,
                         ": 42 of 102 nodes, 16 initializers, 2 inputs, 1 "
                         "outputs\n"));
  const absl::StatusOr<onnx::ModelProto> model = LoadModel(args.output);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->graph().node_size(), 42);
  EXPECT_EQ(model->graph().initializer_size(), 16);
  EXPECT_EQ(Metadata(*model, "pkg.hp.extract.module_tag"),
            "/TinyBertModel/BertEncoder/BertLayer.0");
  EXPECT_EQ(Metadata(*model, "pkg.hp.extract.source_structure_sha256").size(),
            64u);
  EXPECT_THAT(Metadata(*model, "pkg.hp.statistics"), HasSubstr("\"nodes\":42"));
  for (const onnx::ValueInfoProto& input : model->graph().input()) {
    EXPECT_NE(input.type().tensor_type().elem_type(), 0) << input.name();
    EXPECT_TRUE(input.type().tensor_type().has_shape()) << input.name();
  }
}

TEST(ExtractCommandTest, ByTagAndByPathTheSameBytes) {
  const std::string folder = TestFolder();
  const std::string tagged = TaggedBert(folder);
  ExtractArgs by_path = Extract(tagged, folder + "/a.onnx");
  by_path.module_path = "encoder.layer.1";
  ExtractArgs by_tag = Extract(tagged, folder + "/b.onnx");
  by_tag.module = "/TinyBertModel/BertEncoder/BertLayer.1";
  ASSERT_TRUE(RunCommand(RunExtract, by_path).status.ok());
  ASSERT_TRUE(RunCommand(RunExtract, by_tag).status.ok());
  EXPECT_EQ(ReadBytes(by_path.output), ReadBytes(by_tag.output));
}

TEST(ExtractCommandTest, AnUnknownTagListsTheNearestAndWritesNothing) {
  const std::string folder = TestFolder();
  ExtractArgs args = Extract(TaggedBert(folder), folder + "/out.onnx");
  args.module = "/TinyBertModel/BertEncoder/BertLayer.7";
  const Ran ran = RunCommand(RunExtract, args);
  EXPECT_EQ(ran.status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ran.status.message(),
              HasSubstr("nearest: '/TinyBertModel/BertEncoder/BertLayer.0'"));
  EXPECT_THAT(ListFolder(folder),
              ::testing::ElementsAre("tiny_bert.tagged.onnx"));
}

// The attribute format stores tags alone: a module path cannot be found,
// and the message says to name the module by its tag.
TEST(ExtractCommandTest, WithoutModulePathsTheTagIsAskedFor) {
  const std::string folder = TestFolder();
  TagArgs tag;
  tag.model = absl::StrCat(kModels, "/tiny_bert.onnx");
  tag.output.output = folder + "/attribute.onnx";
  tag.durability = Durability::kNoFsync;
  tag.tag_options->format = TagFormat::kAttribute;
  ASSERT_TRUE(RunCommand(RunTag, tag).status.ok());
  ExtractArgs args = Extract(tag.output.output, folder + "/out.onnx");
  args.module_path = "encoder.layer.0";
  const Ran ran = RunCommand(RunExtract, args);
  EXPECT_EQ(ran.status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ran.status.message(),
              HasSubstr("no node records a module path (the attribute tag "
                        "format stores none): name the module by its tag "
                        "with --module"));
  EXPECT_THAT(ListFolder(folder), ::testing::ElementsAre("attribute.onnx"));

  args.module_path.clear();
  args.module = "/TinyBertModel/BertEncoder/BertLayer.0";
  const Ran by_tag = RunCommand(RunExtract, args);
  EXPECT_TRUE(by_tag.status.ok()) << by_tag.status;
}

TEST(ExtractCommandTest, AnUntaggedModelIsRefused) {
  const std::string folder = TestFolder();
  ExtractArgs args =
      Extract(absl::StrCat(kModels, "/tiny_bert.onnx"), folder + "/out.onnx");
  args.module = "/TinyBertModel";
  const Ran ran = RunCommand(RunExtract, args);
  EXPECT_EQ(ran.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ran.status.message(), HasSubstr("carries no hp tags"));
  EXPECT_THAT(ListFolder(folder), IsEmpty());
}

TEST(ExtractCommandTest, WritingOntoTheInputIsRefused) {
  const std::string folder = TestFolder();
  const std::string tagged = TaggedBert(folder);
  const std::string before = ReadBytes(tagged);
  ExtractArgs args = Extract(tagged, tagged);
  args.module = "/TinyBertModel/BertPooler";
  const Ran ran = RunCommand(RunExtract, args);
  EXPECT_FALSE(ran.status.ok());
  EXPECT_THAT(ran.status.message(),
              HasSubstr("refusing to overwrite the input"));
  // An extracted module never replaces its model: no in-place advice.
  EXPECT_THAT(ran.status.message(), Not(HasSubstr("in-place")));
  EXPECT_EQ(ReadBytes(tagged), before);
}

TEST(ExtractCommandTest, NeitherOrBothOfModuleAndPathIsRefused) {
  const std::string folder = TestFolder();
  ExtractArgs args = Extract(TaggedBert(folder), folder + "/out.onnx");
  EXPECT_THAT(RunCommand(RunExtract, args).status.message(),
              HasSubstr("--module TAG or --module_path PATH"));
  args.module = "/TinyBertModel";
  args.module_path = "pooler";
  EXPECT_THAT(RunCommand(RunExtract, args).status.message(),
              HasSubstr("--module TAG or --module_path PATH"));
}

TEST(ExtractCommandTest, EveryModuleAtADepthAndTheRemainderCoverEveryNode) {
  const std::string folder = TestFolder();
  ExtractArgs args = Extract(TaggedBert(folder), "");
  args.all = true;
  args.depth = 1;
  args.output_dir = folder + "/depth1";
  args.remainder = true;
  args.json = true;
  const Ran ran = RunCommand(RunExtract, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  int64_t nodes = 0;
  for (const nlohmann::json& model : json["models"]) {
    nodes += model["nodes"].get<int64_t>();
  }
  EXPECT_EQ(nodes, 102);
  EXPECT_EQ(json["remainder"].size(), 9u);  // the root's own nodes
  EXPECT_THAT(ListFolder(args.output_dir),
              ::testing::ElementsAre("TinyBertModel.BertEmbeddings.onnx",
                                     "TinyBertModel.BertEncoder.onnx",
                                     "TinyBertModel.BertPooler.onnx",
                                     "remainder.onnx"));
}

TEST(ExtractCommandTest, ExternalDataFilesGoBesideTheOutput) {
  const std::string folder = TestFolder();
  test_files::CopyExternalDataFixture(folder);
  const std::string tagged = Tagged(folder + "/mlp.onnx", folder, "mlp");
  ExtractArgs args = Extract(tagged, "");
  args.all = true;
  args.depth = 1;
  args.output_dir = folder + "/out";
  const Ran ran = RunCommand(RunExtract, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  // fc1's weights link the side file; fc2's find it there; act has none.
  EXPECT_THAT(ran.out, HasSubstr("1 side file hard-linked"));
  EXPECT_THAT(ran.out, HasSubstr("1 side file already there"));
  EXPECT_THAT(ListFolder(folder + "/out"),
              ::testing::Contains("mlp.onnx.data"));
}

}  // namespace
}  // namespace hp
