// The converter's commands called in-process, as main() calls them: their
// arguments in, their printed lines and files out.
#include <filesystem>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/commands/analyze.h"
#include "hp/commands/command_args.h"
#include "hp/commands/dot.h"
#include "hp/commands/graphml.h"
#include "hp/commands/strip.h"
#include "hp/commands/summary.h"
#include "hp/commands/tag.h"
#include "hp/commands/validate.h"
#include "hp/testing/model_builder.h"
#include "nlohmann/json.hpp"
#include "tests/support/run_command.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using test_files::CopyExternalDataFixture;
using test_files::Inode;
using test_files::kExternalData;
using test_files::kExternalDataFile;
using test_files::kExternalDataModel;
using test_files::kModels;
using test_files::ListFolder;
using test_files::ReadBytes;
using test_files::TestFolder;
using test_files::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::string Fixture(const std::string& name) {
  return absl::StrCat(kModels, "/", name);
}

using testing::Ran;
using testing::RunCommand;

TEST(CommandArgsTest, ParsesTraceDigestValues) {
  EXPECT_EQ(DigestPolicyFromFlag("error")->check, DigestCheck::kError);
  EXPECT_EQ(DigestPolicyFromFlag("warn")->check, DigestCheck::kWarn);
  EXPECT_EQ(DigestPolicyFromFlag("warn")->override_hint, "--trace_digest=warn");
  absl::StatusOr<DigestPolicy> bad = DigestPolicyFromFlag("ignore");
  EXPECT_EQ(std::string(bad.status().message()),
            "--trace_digest: expected \"error\" or \"warn\", got \"ignore\"");
}

TEST(CommandArgsTest, ParsesExternalDataValues) {
  EXPECT_EQ(ExternalDataPolicyFromFlag("link")->mode, ExternalDataMode::kLink);
  EXPECT_EQ(ExternalDataPolicyFromFlag("copy")->mode, ExternalDataMode::kCopy);
  EXPECT_EQ(ExternalDataPolicyFromFlag("error")->mode,
            ExternalDataMode::kError);
  EXPECT_THAT(ExternalDataPolicyFromFlag("error")->allow_hint,
              HasSubstr("--external_data=link or copy"));
  absl::StatusOr<ExternalDataPolicy> bad = ExternalDataPolicyFromFlag("move");
  EXPECT_EQ(std::string(bad.status().message()),
            "--external_data: expected \"link\", \"copy\", \"error\" or "
            "\"declared\", got \"move\"");

  absl::StatusOr<ExternalDataPolicy> declared =
      ExternalDataPolicyFromFlag("declared", {"w.bin", "sub/v.bin"});
  ASSERT_TRUE(declared.ok()) << declared.status();
  EXPECT_EQ(declared->mode, ExternalDataMode::kDeclared);
  EXPECT_THAT(declared->declared, ElementsAre("w.bin", "sub/v.bin"));
  EXPECT_THAT(declared->declare_hint,
              HasSubstr("--declared_external_data (hp_tagged_model: its "
                        "external_data attribute)"));
  absl::StatusOr<ExternalDataPolicy> stray =
      ExternalDataPolicyFromFlag("link", {"w.bin"});
  EXPECT_EQ(std::string(stray.status().message()),
            "--declared_external_data is only read with "
            "--external_data=declared, not \"link\"");
}

TEST(CommandArgsTest, TraceFlagNamesTheTraceToRead) {
  const std::string model = Fixture("tiny_bert.onnx");
  EXPECT_EQ(TracePathFor("", model), Fixture("tiny_bert.trace.json"));
  EXPECT_EQ(TracePathFor("none", model), "");
  EXPECT_EQ(TracePathFor("other.json", model), "other.json");
}

TEST(TagCommandTest, TagsStripsAnalyzesAndValidatesAFixture) {
  const std::string folder = TestFolder();
  TagArgs tag;
  tag.model = Fixture("tiny_bert.onnx");
  tag.output.output = folder + "/tagged.onnx";
  tag.durability = Durability::kNoFsync;
  const Ran tagged = RunCommand(RunTag, tag);
  ASSERT_TRUE(tagged.status.ok()) << tagged.status;
  EXPECT_EQ(tagged.out,
            absl::StrCat("tagged ", tag.model, " -> ", tag.output.output,
                         ": 102 nodes (53 direct, 49 parent, 0 root, 0 "
                         "propagated), coverage 100.0%, 41 modules, 11 tags, "
                         "from trace\n"));
  EXPECT_THAT(tagged.err, IsEmpty());

  const Ran summary = RunCommand(RunSummary, SummaryArgs{tag.output.output});
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_THAT(summary.out, HasSubstr("102 nodes"));
  EXPECT_THAT(summary.out, HasSubstr("tagged by hp"));

  // The tagged model needs nothing beside it: its trace is the one it
  // records, checked by the export digest it records.
  AnalyzeArgs analyze;
  analyze.inspect.model = tag.output.output;
  analyze.inspect.trace = Fixture("tiny_bert.trace.json");
  analyze.json = true;
  const Ran analyzed = RunCommand(RunAnalyze, analyze);
  ASSERT_TRUE(analyzed.status.ok()) << analyzed.status;
  const nlohmann::json report = nlohmann::json::parse(analyzed.out);
  EXPECT_EQ(report["tags_from"], "model");
  EXPECT_EQ(report["statistics"]["matches"]["direct"], 53);
  EXPECT_EQ(report["statistics"]["matches"]["unknown"], 0);

  ValidateArgs validate;
  validate.inspect = analyze.inspect;
  const Ran validated = RunCommand(RunValidate, validate);
  ASSERT_TRUE(validated.status.ok()) << validated.status;
  EXPECT_THAT(validated.out, HasSubstr(": valid: 102 nodes"));

  StripArgs strip;
  strip.model = tag.output.output;
  strip.output.output = folder + "/stripped.onnx";
  const Ran stripped = RunCommand(RunStrip, strip);
  ASSERT_TRUE(stripped.status.ok()) << stripped.status;
  EXPECT_THAT(stripped.out, StartsWith("stripped "));
  EXPECT_TRUE(ReadBytes(strip.output.output) == ReadBytes(tag.model));

  // --nofsync leaves the flush to the OS; the bytes are the same.
  strip.output.output = folder + "/stripped_nofsync.onnx";
  strip.durability = Durability::kNoFsync;
  const Ran stripped_nofsync = RunCommand(RunStrip, strip);
  ASSERT_TRUE(stripped_nofsync.status.ok()) << stripped_nofsync.status;
  EXPECT_TRUE(ReadBytes(strip.output.output) == ReadBytes(tag.model));
}

TEST(TagCommandTest, ATaggedModelWithAnotherModelsTraceIsRefused) {
  const std::string folder = TestFolder();
  TagArgs tag;
  tag.model = Fixture("tiny_bert.onnx");
  tag.output.output = folder + "/tagged.onnx";
  ASSERT_TRUE(RunCommand(RunTag, tag).status.ok());
  ValidateArgs validate;
  validate.inspect.model = tag.output.output;
  validate.inspect.trace = Fixture("tiny_t5.trace.json");
  validate.inspect.digest_policy = DigestPolicyFromFlag("error");
  const Ran refused = RunCommand(RunValidate, validate);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status.message()),
              HasSubstr("does not match " + validate.inspect.trace));
  EXPECT_THAT(std::string(refused.status.message()),
              HasSubstr("or pass --trace_digest=warn to convert anyway"));

  validate.inspect.digest_policy = DigestPolicyFromFlag("warn");
  const Ran warned = RunCommand(RunValidate, validate);
  EXPECT_THAT(warned.err, StartsWith("warning: "));
  EXPECT_THAT(warned.err, HasSubstr("(--trace_digest=warn)"));
}

// Two nn.ModuleDicts with the key "x", both called: torch names both scopes
// "x", and a trace without a call sequence cannot tell which is which.
TEST(TagCommandTest, AnAmbiguousScopeFailsUnlessFirstCandidateIsGiven) {
  const std::string folder = TestFolder();
  TagArgs tag;
  tag.model = folder + "/dicts.onnx";
  tag.trace = folder + "/dicts.trace.json";
  tag.output.output = folder + "/tagged.onnx";
  tag.digest_policy = DigestPolicyFromFlag("warn");  // a trace made in code
  WriteBytes(tag.model, testing::ModelBuilder()
                            .Chain({"/x/Relu", "/x_1/Relu"})
                            .Build()
                            .SerializeAsString());
  WriteBytes(tag.trace, testing::TraceBuilder("Net")
                            .TorchNn("a", "ModuleDict", 0)
                            .Module("a.x", "Head")
                            .TorchNn("b", "ModuleDict", 0)
                            .Module("b.x", "Head")
                            .Json());
  const Ran refused = RunCommand(RunTag, tag);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status.message()),
              HasSubstr("node '/x/Relu' (Relu): scope segment 'x' under the "
                        "root could be any of the modules 'a.x', 'b.x'"));
  EXPECT_FALSE(std::filesystem::exists(tag.output.output));

  TagOptions first;
  first.first_candidate = true;
  tag.tag_options = first;
  const Ran taken = RunCommand(RunTag, tag);
  ASSERT_TRUE(taken.status.ok()) << taken.status;
  EXPECT_THAT(taken.err, HasSubstr("took the first, 'a.x'"));
  EXPECT_TRUE(std::filesystem::exists(tag.output.output));
}

TEST(TagCommandTest, BadArgumentsWriteNothing) {
  const std::string folder = TestFolder();
  TagArgs missing;
  missing.output.output = folder + "/out.onnx";
  EXPECT_EQ(RunCommand(RunTag, missing).status.message(),
            "--model is required");

  TagArgs both;
  both.model = Fixture("tiny_bert.onnx");
  both.output = {folder + "/out.onnx", true};
  EXPECT_EQ(RunCommand(RunTag, both).status.message(),
            "--in_place and --output exclude each other");

  TagArgs bad_options;
  bad_options.model = Fixture("tiny_bert.onnx");
  bad_options.output.output = folder + "/out.onnx";
  bad_options.tag_options = absl::InvalidArgumentError("unknown tag format");
  EXPECT_EQ(RunCommand(RunTag, bad_options).status.message(),
            "unknown tag format");
  EXPECT_THAT(ListFolder(folder), IsEmpty());
}

// The external-data fixture copied into in/; outputs go to other folders.
class ExternalDataCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TestFolder();
    CopyExternalDataFixture(root_ + "/in");
  }
  std::string In(const std::string& name) const {
    return root_ + "/in/" + name;
  }
  // root/<folder>/<name>, the folder made.
  std::string Out(const std::string& folder, const std::string& name) const {
    std::filesystem::create_directories(root_ + "/" + folder);
    return root_ + "/" + folder + "/" + name;
  }
  std::string Folder(const std::string& folder) const {
    return root_ + "/" + folder;
  }
  void ExpectInputUnchanged() const {
    EXPECT_THAT(ListFolder(root_ + "/in"),
                ElementsAre(kExternalDataModel, kExternalDataFile));
    EXPECT_TRUE(ReadBytes(In(kExternalDataFile)) ==
                ReadBytes(absl::StrCat(kExternalData, "/", kExternalDataFile)));
  }

  std::string root_;
};

TEST_F(ExternalDataCommandTest, TagAndStripPlaceTheSideFileBesideTheirOutput) {
  TagArgs tag;
  tag.model = In(kExternalDataModel);
  tag.output.output = Out("tagged", kExternalDataModel);
  const Ran tagged = RunCommand(RunTag, tag);
  ASSERT_TRUE(tagged.status.ok()) << tagged.status;
  EXPECT_THAT(tagged.out,
              HasSubstr(absl::StrCat("\nexternal data for ", tag.output.output,
                                     ": 1 side file hard-linked\n")));
  EXPECT_EQ(Inode(Out("tagged", kExternalDataFile)),
            Inode(In(kExternalDataFile)));

  // Stripped into a third folder, the side file follows again.
  StripArgs strip;
  strip.model = tag.output.output;
  strip.output.output = Out("stripped", kExternalDataModel);
  const Ran stripped = RunCommand(RunStrip, strip);
  ASSERT_TRUE(stripped.status.ok()) << stripped.status;
  EXPECT_EQ(stripped.out,
            absl::StrCat("stripped ", strip.model, " -> ", strip.output.output,
                         "\nexternal data for ", strip.output.output,
                         ": 1 side file hard-linked\n"));
  EXPECT_TRUE(ReadBytes(strip.output.output) ==
              ReadBytes(In(kExternalDataModel)));
  EXPECT_EQ(Inode(Out("stripped", kExternalDataFile)),
            Inode(In(kExternalDataFile)));

  strip.output.output = Out("copied", kExternalDataModel);
  strip.output.external_data = ExternalDataPolicyFromFlag("copy");
  const Ran copied = RunCommand(RunStrip, strip);
  ASSERT_TRUE(copied.status.ok()) << copied.status;
  EXPECT_THAT(copied.out, HasSubstr(": 1 side file copied\n"));
  EXPECT_NE(Inode(Out("copied", kExternalDataFile)),
            Inode(In(kExternalDataFile)));
  EXPECT_TRUE(ReadBytes(Out("copied", kExternalDataFile)) ==
              ReadBytes(In(kExternalDataFile)));
  ExpectInputUnchanged();
}

// What hp_tagged_model runs: the side files must be those the rule
// declared as outputs, and are copied.
TEST_F(ExternalDataCommandTest, DeclaredModeCopiesOrNamesAMissingFile) {
  TagArgs tag;
  tag.model = In(kExternalDataModel);
  tag.output.output = Out("tagged", kExternalDataModel);
  tag.output.external_data =
      ExternalDataPolicyFromFlag("declared", {kExternalDataFile});
  const Ran tagged = RunCommand(RunTag, tag);
  ASSERT_TRUE(tagged.status.ok()) << tagged.status;
  EXPECT_THAT(tagged.out, HasSubstr(": 1 side file copied\n"));
  EXPECT_NE(Inode(Out("tagged", kExternalDataFile)),
            Inode(In(kExternalDataFile)));
  EXPECT_TRUE(ReadBytes(Out("tagged", kExternalDataFile)) ==
              ReadBytes(In(kExternalDataFile)));

  tag.output.output = Out("undeclared", kExternalDataModel);
  tag.output.external_data = ExternalDataPolicyFromFlag("declared", {});
  const Ran undeclared = RunCommand(RunTag, tag);
  EXPECT_EQ(undeclared.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(undeclared.status.message()),
            absl::StrCat(tag.model,
                         ": keeps tensors in the side file 'mlp.onnx.data' "
                         "(external data), which is not declared: the output "
                         "would be written without it; list it in "
                         "--declared_external_data (hp_tagged_model: its "
                         "external_data attribute)"));
  EXPECT_THAT(ListFolder(Folder("undeclared")), IsEmpty());

  StripArgs strip;
  strip.model = In(kExternalDataModel);
  strip.output.output = Out("stripped", kExternalDataModel);
  strip.output.external_data =
      ExternalDataPolicyFromFlag("declared", {kExternalDataFile, "other.bin"});
  const Ran stripped = RunCommand(RunStrip, strip);
  EXPECT_EQ(stripped.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(stripped.status.message()),
              HasSubstr(": the side file 'other.bin' is declared but no "
                        "tensor of the model is stored in it (it uses "
                        "mlp.onnx.data)"));
  EXPECT_THAT(ListFolder(Folder("stripped")), IsEmpty());
  ExpectInputUnchanged();
}

TEST_F(ExternalDataCommandTest, ErrorModeRefusesAndWritesNothing) {
  TagArgs tag;
  tag.model = In(kExternalDataModel);
  tag.output.output = Out("tagged", kExternalDataModel);
  tag.output.external_data = ExternalDataPolicyFromFlag("error");
  const Ran refused_tag = RunCommand(RunTag, tag);
  EXPECT_EQ(refused_tag.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused_tag.status.message()),
              HasSubstr("use --external_data=link or copy to place them "
                        "there"));
  EXPECT_THAT(ListFolder(Folder("tagged")), IsEmpty());

  StripArgs strip;
  strip.model = In(kExternalDataModel);
  strip.output = tag.output;
  const Ran refused_strip = RunCommand(RunStrip, strip);
  EXPECT_EQ(refused_strip.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ListFolder(Folder("tagged")), IsEmpty());

  strip.output.external_data = absl::InvalidArgumentError("bad flag");
  EXPECT_EQ(RunCommand(RunStrip, strip).status.message(), "bad flag");
  ExpectInputUnchanged();
}

TEST_F(ExternalDataCommandTest, StripRefusesToReplaceADifferentSideFile) {
  const std::string clash = Out("out", kExternalDataFile);
  WriteBytes(clash, "not these weights");
  StripArgs strip;
  strip.model = In(kExternalDataModel);
  strip.output.output = Out("out", kExternalDataModel);
  const Ran refused = RunCommand(RunStrip, strip);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(refused.status.message()), HasSubstr(clash));
  EXPECT_THAT(std::string(refused.status.message()),
              HasSubstr(In(kExternalDataFile)));
  EXPECT_THAT(ListFolder(Folder("out")), ElementsAre(kExternalDataFile));
  EXPECT_EQ(ReadBytes(clash), "not these weights");
  ExpectInputUnchanged();
}

TEST(DrawingCommandTest, WritesTheDrawingAndRefusesTheInput) {
  const std::string folder = TestFolder();
  GraphmlArgs graphml;
  graphml.inspect.model = Fixture("tiny_resnet.onnx");
  graphml.output = folder + "/m.graphml";
  const Ran drawn = RunCommand(RunGraphml, graphml);
  ASSERT_TRUE(drawn.status.ok()) << drawn.status;
  EXPECT_THAT(drawn.out, StartsWith("wrote " + graphml.output + ": "));
  EXPECT_THAT(ReadBytes(graphml.output), HasSubstr("<graphml"));

  DotArgs dot;
  dot.inspect.model = Fixture("tiny_resnet.onnx");
  dot.output = dot.inspect.model;
  const Ran refused = RunCommand(RunDot, dot);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status.message()),
              HasSubstr("refusing to overwrite the input model"));
}

TEST(DrawingCommandTest, RefusesTheInputBeforeReadingIt) {
  // Not a model at all: a refusal that came after the reading would be a
  // parse error instead.
  const std::string notes = TestFolder() + "/notes.txt";
  WriteBytes(notes, "not a model\n");
  GraphmlArgs graphml;
  graphml.inspect.model = notes;
  graphml.output = notes;
  const Ran refused = RunCommand(RunGraphml, graphml);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status.message()),
              HasSubstr(notes + ": refusing to overwrite the input model"));
  EXPECT_EQ(ReadBytes(notes), "not a model\n");
}

}  // namespace
}  // namespace hp
