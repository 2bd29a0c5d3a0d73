// `converter transfer` in-process: tags of a tagged fixture onto the
// fixture as onnxruntime optimized it (testdata/transformed), its printed
// line and JSON, and the inputs it refuses with nothing written.
#include "hp/commands/transfer.h"

#include <sys/stat.h>

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/commands/analyze.h"
#include "hp/commands/strip.h"
#include "hp/commands/tag.h"
#include "hp/commands/validate.h"
#include "hp/hp.h"
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

constexpr char kTransformed[] = "testdata/transformed";

using testing::Ran;
using testing::RunCommand;

// The fixture tagged into `folder`.
std::string Tagged(const std::string& name, const std::string& folder) {
  TagArgs tag;
  tag.model = absl::StrCat(kModels, "/", name, ".onnx");
  tag.output.output = absl::StrCat(folder, "/", name, ".tagged.onnx");
  tag.durability = Durability::kNoFsync;
  const Ran tagged = RunCommand(RunTag, tag);
  EXPECT_TRUE(tagged.status.ok()) << tagged.status;
  return tag.output.output;
}

TransferArgs Transfer(const std::string& from, const std::string& model,
                      const std::string& output) {
  TransferArgs args;
  args.from = from;
  args.model = model;
  args.output.output = output;
  args.durability = Durability::kNoFsync;
  return args;
}

TEST(TransferCommandTest, PrintsTheCountsOfEachKind) {
  const std::string folder = TestFolder();
  const TransferArgs args = Transfer(
      Tagged("tiny_bert", folder),
      absl::StrCat(kTransformed, "/tiny_bert.all.onnx"), folder + "/out.onnx");
  const Ran ran = RunCommand(RunTransfer, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_EQ(ran.out, absl::StrCat("transferred ", args.from, " onto ",
                                  args.model, " -> ", args.output.output,
                                  ": 76 nodes (25 kept, 39 replacing, 12 "
                                  "inserted, 0 unplaced)\n"));
}

TEST(TransferCommandTest, JsonListsEveryNodeWithWhatItWasMatchedWith) {
  const std::string folder = TestFolder();
  TransferArgs args = Transfer(
      Tagged("tiny_bert", folder),
      absl::StrCat(kTransformed, "/tiny_bert.all.onnx"), folder + "/out.onnx");
  args.json = true;
  const Ran ran = RunCommand(RunTransfer, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  EXPECT_EQ(json["counts"]["nodes"], 76);
  EXPECT_EQ(json["root_tag"], "/TinyBertModel");
  ASSERT_EQ(json["nodes"].size(), 76u);
  int fused = 0;
  for (const nlohmann::json& node : json["nodes"]) {
    if (node["op_type"] != "FusedMatMul") continue;
    // Attention scores: MatMul and Div of one self-attention, fused.
    EXPECT_EQ(node["match"], "replacing");
    EXPECT_EQ(node["tag"],
              absl::StrCat("/TinyBertModel/BertEncoder/BertLayer.", fused,
                           "/BertAttention/BertSelfAttention"));
    EXPECT_EQ(node["from"].size(), 2u);
    ++fused;
  }
  EXPECT_EQ(fused, 2);
}

// A tagged model read from messages (the attribute and doc_string
// formats) gives every node the tag the metadata format gives it (the
// attribute format records no module paths).
TEST(TransferCommandTest, EveryTagFormatOfTheTaggedModelIsRead) {
  const std::string folder = TestFolder();
  const std::string transformed =
      absl::StrCat(kTransformed, "/tiny_bert.all.onnx");
  TransferArgs from_metadata =
      Transfer(Tagged("tiny_bert", folder), transformed, folder + "/m.onnx");
  from_metadata.json = true;
  const Ran expected = RunCommand(RunTransfer, from_metadata);
  ASSERT_TRUE(expected.status.ok()) << expected.status;
  const nlohmann::json expected_nodes =
      nlohmann::json::parse(expected.out)["nodes"];
  ASSERT_EQ(expected_nodes.size(), 76u);
  for (TagFormat format : {TagFormat::kAttribute, TagFormat::kDocString}) {
    const std::string name(TagFormatName(format));
    SCOPED_TRACE(name);
    TagArgs tag;
    tag.model = absl::StrCat(kModels, "/tiny_bert.onnx");
    tag.output.output = absl::StrCat(folder, "/", name, ".tagged.onnx");
    tag.durability = Durability::kNoFsync;
    tag.tag_options->format = format;
    const Ran tagged = RunCommand(RunTag, tag);
    ASSERT_TRUE(tagged.status.ok()) << tagged.status;
    TransferArgs args = Transfer(tag.output.output, transformed,
                                 absl::StrCat(folder, "/", name, ".onnx"));
    args.json = true;
    const Ran ran = RunCommand(RunTransfer, args);
    ASSERT_TRUE(ran.status.ok()) << ran.status;
    nlohmann::json expected_here = expected_nodes;
    if (format == TagFormat::kAttribute) {
      for (nlohmann::json& node : expected_here) node["module_path"] = "";
    }
    EXPECT_EQ(nlohmann::json::parse(ran.out)["nodes"], expected_here);
  }
}

// Each node records how it was matched, so the output alone tells analyze
// and validate what transfer counted: no trace, no --from.
TEST(TransferCommandTest, EachNodeStoresItsKindForTheViews) {
  const std::string folder = TestFolder();
  for (const char* level : {"basic", "all"}) {
    SCOPED_TRACE(level);
    TransferArgs args =
        Transfer(Tagged("tiny_bert", folder),
                 absl::StrCat(kTransformed, "/tiny_bert.", level, ".onnx"),
                 absl::StrCat(folder, "/out.", level, ".onnx"));
    args.json = true;
    const Ran transferred = RunCommand(RunTransfer, args);
    ASSERT_TRUE(transferred.status.ok()) << transferred.status;
    const nlohmann::json counts =
        nlohmann::json::parse(transferred.out)["counts"];

    AnalyzeArgs analyze;
    analyze.inspect.model = args.output.output;
    analyze.json = true;
    const Ran analyzed = RunCommand(RunAnalyze, analyze);
    ASSERT_TRUE(analyzed.status.ok()) << analyzed.status;
    const nlohmann::json report = nlohmann::json::parse(analyzed.out);
    EXPECT_EQ(report["hierarchy_source"], "transfer");
    EXPECT_EQ(report["statistics"]["matches"],
              nlohmann::json({{"kept", counts["kept"]},
                              {"replacing", counts["replacing"]},
                              {"inserted", counts["inserted"]},
                              {"unplaced", counts["unplaced"]},
                              {"unknown", 0}}));

    ValidateArgs validate;
    validate.inspect.model = args.output.output;
    const Ran validated = RunCommand(RunValidate, validate);
    EXPECT_TRUE(validated.status.ok()) << validated.status << validated.out;
  }
}

TEST(TransferCommandTest, NchwcLayoutNodesLandInTheirBlocks) {
  const std::string folder = TestFolder();
  TransferArgs args =
      Transfer(Tagged("tiny_resnet", folder),
               absl::StrCat(kTransformed, "/tiny_resnet.all.onnx"),
               folder + "/out.onnx");
  args.json = true;
  const Ran ran = RunCommand(RunTransfer, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  const nlohmann::json json = nlohmann::json::parse(ran.out);
  EXPECT_EQ(json["counts"]["unplaced"], 0);
  for (const nlohmann::json& node : json["nodes"]) {
    const std::string name = node["name"];
    if (name.rfind("/layer2/layer2.1/", 0) == 0) {
      EXPECT_EQ(node["tag"], "/TinyResNet/BasicBlock[layer2.1]") << name;
    }
  }
}

TEST(TransferCommandTest, TheVersionConvertersOutputIsKeptWhole) {
  const std::string folder = TestFolder();
  const TransferArgs args =
      Transfer(Tagged("tiny_resnet", folder),
               absl::StrCat(kTransformed, "/tiny_resnet.opset14.onnx"),
               folder + "/out.onnx");
  const Ran ran = RunCommand(RunTransfer, args);
  ASSERT_TRUE(ran.status.ok()) << ran.status;
  EXPECT_THAT(ran.out, HasSubstr(": 26 nodes (26 kept, 0 replacing"));
}

TEST(TransferCommandTest, StripGivesBackTheTransformedBytes) {
  const std::string folder = TestFolder();
  const std::string model = absl::StrCat(kTransformed, "/tiny_bert.basic.onnx");
  ASSERT_TRUE(RunCommand(RunTransfer, Transfer(Tagged("tiny_bert", folder),
                                               model, folder + "/out.onnx"))
                  .status.ok());
  StripArgs strip;
  strip.model = folder + "/out.onnx";
  strip.output.output = folder + "/stripped.onnx";
  ASSERT_TRUE(RunCommand(RunStrip, strip).status.ok());
  EXPECT_TRUE(ReadBytes(strip.output.output) == ReadBytes(model));
}

// Each refusal names the file, and writes nothing.
void ExpectRefused(const TransferArgs& args, const std::string& folder,
                   const std::string& message) {
  const Ran ran = RunCommand(RunTransfer, args);
  EXPECT_FALSE(ran.status.ok());
  EXPECT_THAT(std::string(ran.status.message()), HasSubstr(message));
  EXPECT_THAT(ListFolder(folder), IsEmpty());
}

TEST(TransferCommandTest, RefusesBadInputsWritingNothing) {
  const std::string tagged_folder = TestFolder();
  const std::string tagged = Tagged("tiny_bert", tagged_folder);
  const std::string folder = tagged_folder + "/out";
  ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);
  const std::string output = folder + "/out.onnx";
  const std::string bert = absl::StrCat(kModels, "/tiny_bert.onnx");
  const std::string optimized =
      absl::StrCat(kTransformed, "/tiny_bert.all.onnx");
  ExpectRefused(Transfer("", optimized, output), folder, "--from is required");
  ExpectRefused(Transfer(tagged, "", output), folder, "--model is required");
  ExpectRefused(Transfer(bert, optimized, output), folder,
                absl::StrCat(bert, " carries no hp tags"));
  ExpectRefused(Transfer(tagged, "missing.onnx", output), folder,
                "missing.onnx");
  // Another fixture: its graph input is not the tagged model's.
  const std::string resnet =
      absl::StrCat(kTransformed, "/tiny_resnet.all.onnx");
  ExpectRefused(
      Transfer(tagged, resnet, output), folder,
      absl::StrCat(resnet, ": graph input 'image' is not an input of ",
                   tagged));
  ExpectRefused(Transfer(tagged, optimized, optimized), folder, optimized);
}

}  // namespace
}  // namespace hp
