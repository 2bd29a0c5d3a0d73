// Tagging one file: the model's digest, hashed while the model is written,
// decides the trace check before anything is committed (the structure
// digest for traces that have one, the file's for older traces); a refused
// model leaves nothing behind; writing without fsync writes the same bytes;
// an output in another folder gets the side files of external data.
#include "hp/pipeline/tag_file.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/synthetic_models.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/atomic_file.h"
#include "hp/io/model_io.h"
#include "hp/io/structure_digest.h"
#include "hp/util/sha256.h"
#include "tests/support/external_data_models.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::CopyExternalDataFixture;
using ::hp::test_files::Inode;
using ::hp::test_files::kExternalData;
using ::hp::test_files::kExternalDataFile;
using ::hp::test_files::kExternalDataModel;
using ::hp::test_files::kModels;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ListTree;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::testing_external_data::EverywhereFiles;
using ::hp::testing_external_data::ModelWithExternalDataEverywhere;
using ::hp::testing_external_data::WriteEverywhereFiles;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Fixture(const std::string& name) {
  return std::string(kModels) + "/" + name;
}

// The digests a tagged file records for the export it came from.
ModelDigests RecordedDigests(const std::string& path) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  return {RecordedModelSha256(*model).value_or(""),
          RecordedModelStructureSha256(*model).value_or("")};
}

std::string StructureDigest(const std::string& path) {
  absl::StatusOr<std::string> digest = StructureSha256FileHex(path);
  EXPECT_TRUE(digest.ok()) << digest.status();
  return digest.value_or("");
}

TEST(TagFileTest, MatchingTraceRecordsTheModelsStructureDigest) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = Fixture("tiny_bert.onnx");
  request.trace_path = Fixture("tiny_bert.trace.json");
  request.output_path = folder + "/out.onnx";
  absl::StatusOr<TagFileResult> result = TagFile(request, TagFileOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->warnings, IsEmpty());
  const std::string digest = StructureDigest(request.model_path);
  // The file is not hashed whole: no file digest is recorded.
  const ModelDigests recorded = RecordedDigests(request.output_path);
  EXPECT_EQ(recorded.structure_sha256, digest);
  EXPECT_EQ(recorded.sha256, "");
  EXPECT_EQ(result->options.model_structure_sha256, digest);
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.onnx"));

  // Tagged again with the same trace: the check finds the recorded digest.
  request.model_path = request.output_path;
  request.output_path = folder + "/again.onnx";
  absl::StatusOr<TagFileResult> again = TagFile(request, TagFileOptions());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RecordedDigests(request.output_path).structure_sha256, digest);
  EXPECT_TRUE(ReadBytes(request.output_path) == ReadBytes(request.model_path));
}

TEST(TagFileTest, OnlyACallerKeepingTheModelGetsTheTrace) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = Fixture("tiny_bert.onnx");
  request.trace_path = Fixture("tiny_bert.trace.json");
  request.output_path = folder + "/out.onnx";
  absl::StatusOr<TagFileResult> written = TagFile(request, TagFileOptions());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_FALSE(written->trace.has_value());

  request.output_path = folder + "/kept.onnx";
  request.keep_model = true;
  absl::StatusOr<TagFileResult> kept = TagFile(request, TagFileOptions());
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(kept->trace.has_value());
  absl::StatusOr<ScopeTrace> loaded = LoadScopeTrace(request.trace_path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(kept->trace->modules().size(), loaded->modules().size());
  EXPECT_EQ(kept->trace->text_sha256(), loaded->text_sha256());
  // Whether the trace is kept changes nothing written.
  EXPECT_TRUE(ReadBytes(folder + "/out.onnx") ==
              ReadBytes(folder + "/kept.onnx"));
}

TEST(TagFileTest, TraceWithoutStructureDigestIsCheckedByTheFilesDigest) {
  const std::string folder = TestFolder();
  // A trace as recorded before the structure digest existed.
  std::string text = ReadBytes(Fixture("tiny_bert.trace.json"));
  const std::string key = "\"onnx_structure_sha256\": \"";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  text.erase(at, key.size() + 64 + 4);  // the digest, `",` and a newline
  const std::string trace = folder + "/old.trace.json";
  test_files::WriteBytes(trace, text);
  ASSERT_TRUE(LoadScopeTrace(trace).ok());
  ASSERT_EQ(LoadScopeTrace(trace)->onnx_structure_sha256(), "");

  TagFileRequest request;
  request.model_path = Fixture("tiny_bert.onnx");
  request.trace_path = trace;
  request.output_path = folder + "/out.onnx";
  absl::StatusOr<TagFileResult> result = TagFile(request, TagFileOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  absl::StatusOr<std::string> digest = Sha256FileHex(request.model_path);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(RecordedDigests(request.output_path).sha256, *digest);
  EXPECT_EQ(result->options.model_sha256, *digest);

  request.model_path = Fixture("tiny_t5.onnx");
  EXPECT_EQ(TagFile(request, TagFileOptions()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TagFileTest, TraceOfAnotherModelIsRefusedAndNothingIsLeft) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = Fixture("tiny_t5.onnx");
  request.trace_path = Fixture("tiny_bert.trace.json");
  request.output_path = folder + "/out.onnx";
  absl::StatusOr<TagFileResult> result = TagFile(request, TagFileOptions());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("does not match"));
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("tiny_bert.trace.json"));
  // Neither the output nor its temporary file.
  EXPECT_THAT(ListFolder(folder), IsEmpty());
}

// No check starts without the trace's origin: the trace's own error is
// the one reported.
TEST(TagFileTest, ATraceThatDoesNotParseSaysSoAndNothingIsLeft) {
  const std::string folder = TestFolder();
  const std::string trace = folder + "/broken.trace.json";
  WriteBytes(trace, "{\"format\": \"hp-scope-trace\", ");
  TagFileRequest request;
  request.model_path = Fixture("tiny_bert.onnx");
  request.trace_path = trace;
  request.output_path = folder + "/out.onnx";
  absl::StatusOr<TagFileResult> result = TagFile(request, TagFileOptions());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(trace));
  // Neither the output nor its temporary file.
  EXPECT_THAT(ListFolder(folder), ElementsAre("broken.trace.json"));
}

TEST(TagFileTest, RefusedInPlaceLeavesTheModelAsItWas) {
  const std::string folder = TestFolder();
  const std::string model = folder + "/t5.onnx";
  test_files::WriteBytes(model, ReadBytes(Fixture("tiny_t5.onnx")));
  TagFileRequest request;
  request.model_path = model;
  request.trace_path = Fixture("tiny_bert.trace.json");
  request.output_path = model;
  request.overwrite_input = true;
  EXPECT_FALSE(TagFile(request, TagFileOptions()).ok());
  EXPECT_TRUE(ReadBytes(model) == ReadBytes(Fixture("tiny_t5.onnx")));
  EXPECT_THAT(ListFolder(folder), ElementsAre("t5.onnx"));
}

TEST(TagFileTest, TaggedAnywayTheOutputRecordsTheFilesOwnDigest) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = Fixture("tiny_t5.onnx");
  request.trace_path = Fixture("tiny_bert.trace.json");
  request.output_path = folder + "/out.onnx";
  TagFileOptions options;
  options.digest_policy.check = DigestCheck::kWarn;
  absl::StatusOr<TagFileResult> result = TagFile(request, options);
  ASSERT_TRUE(result.ok()) << result.status();
  // The digest warning first, then the tagger's.
  ASSERT_THAT(result->warnings, Not(IsEmpty()));
  EXPECT_THAT(result->warnings[0], HasSubstr("does not match"));
  const std::string digest = StructureDigest(request.model_path);
  EXPECT_EQ(RecordedDigests(request.output_path).structure_sha256, digest);
  EXPECT_EQ(result->options.model_structure_sha256, digest);
  // The first write, which recorded the trace's digest, is gone.
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.onnx"));
}

TEST(TagFileTest, WithoutFsyncTheSameBytesAreRenamedIntoPlace) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = Fixture("tiny_gpt.onnx");
  request.trace_path = Fixture("tiny_gpt.trace.json");
  TagFileOptions options;
  request.output_path = folder + "/synced.onnx";
  ASSERT_TRUE(TagFile(request, options).ok());
  options.durability = Durability::kNoFsync;
  request.output_path = folder + "/unsynced.onnx";
  ASSERT_TRUE(TagFile(request, options).ok());
  EXPECT_TRUE(ReadBytes(folder + "/synced.onnx") ==
              ReadBytes(folder + "/unsynced.onnx"));
  EXPECT_THAT(ListFolder(folder), ElementsAre("synced.onnx", "unsynced.onnx"));
}

// An output of 16 MiB or more written with fsync goes past the page cache
// in aligned blocks (AtomicFileWriter): the same bytes as without fsync.
TEST(TagFileTest, ALargeDurableOutputHasTheSameBytesAsWithoutFsync) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = folder + "/nodes.onnx";
  ASSERT_TRUE(bench::WriteManyNodesModel(request.model_path, 150000).ok());
  request.trace_path = folder + "/nodes.trace.json";
  TagFileOptions options;
  request.output_path = folder + "/synced.onnx";
  absl::StatusOr<TagFileResult> synced = TagFile(request, options);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_GE(synced->output_bytes, uint64_t{16} << 20);
  options.durability = Durability::kNoFsync;
  request.output_path = folder + "/unsynced.onnx";
  ASSERT_TRUE(TagFile(request, options).ok());
  EXPECT_TRUE(ReadBytes(folder + "/synced.onnx") ==
              ReadBytes(folder + "/unsynced.onnx"));
}

// --- External data: side files beside an output in another folder. ---

// in/ holds the external-data fixture (mlp.onnx, mlp.onnx.data), out/ is
// empty; the request tags in/mlp.onnx into out/.
struct ExternalDataRun {
  std::string in;
  std::string out;
  TagFileRequest request;
};

ExternalDataRun MakeExternalDataRun() {
  ExternalDataRun run;
  const std::string root = TestFolder();
  run.in = root + "/in";
  run.out = root + "/out";
  CopyExternalDataFixture(run.in);
  std::filesystem::create_directories(run.out);
  run.request.model_path = run.in + "/" + kExternalDataModel;
  run.request.output_path = run.out + "/" + kExternalDataModel;
  return run;
}

TagFileOptions WithExternalData(ExternalDataMode mode) {
  TagFileOptions options;
  options.external_data.mode = mode;
  return options;
}

// The input folder holds what the fixture holds, byte for byte.
void ExpectInputUnchanged(const std::string& in) {
  EXPECT_THAT(ListFolder(in),
              ElementsAre(kExternalDataModel, kExternalDataFile));
  for (const char* name : {kExternalDataModel, kExternalDataFile}) {
    EXPECT_TRUE(ReadBytes(in + "/" + name) ==
                ReadBytes(std::string(kExternalData) + "/" + name))
        << name;
  }
}

TEST(TagFileExternalDataTest, TheSideFileIsHardLinkedBesideTheOutput) {
  const ExternalDataRun run = MakeExternalDataRun();
  absl::StatusOr<TagFileResult> result = TagFile(run.request, TagFileOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->external_data.linked, 1);
  EXPECT_EQ(result->external_data.total(), 1);
  EXPECT_THAT(ListFolder(run.out),
              ElementsAre(kExternalDataModel, kExternalDataFile));
  EXPECT_EQ(Inode(run.out + "/" + kExternalDataFile),
            Inode(run.in + "/" + kExternalDataFile));
  // The output names the file beside it, as the input did.
  absl::StatusOr<onnx::ModelProto> tagged = LoadModel(run.request.output_path);
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_THAT(ExternalDataFiles(*tagged), ElementsAre(kExternalDataFile));
  ExpectInputUnchanged(run.in);
}

TEST(TagFileExternalDataTest, CopyModeGivesTheOutputAFileOfItsOwn) {
  const ExternalDataRun run = MakeExternalDataRun();
  absl::StatusOr<TagFileResult> result =
      TagFile(run.request, WithExternalData(ExternalDataMode::kCopy));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->external_data.copied, 1);
  const std::string copy = run.out + "/" + kExternalDataFile;
  EXPECT_NE(Inode(copy), Inode(run.in + "/" + kExternalDataFile));
  EXPECT_TRUE(ReadBytes(copy) == ReadBytes(run.in + "/" + kExternalDataFile));
  EXPECT_THAT(ListFolder(run.out),
              ElementsAre(kExternalDataModel, kExternalDataFile));
  ExpectInputUnchanged(run.in);
}

TEST(TagFileExternalDataTest,
     ADifferentFileOfThatNameIsRefusedAndNothingWritten) {
  for (ExternalDataMode mode :
       {ExternalDataMode::kLink, ExternalDataMode::kCopy}) {
    const ExternalDataRun run = MakeExternalDataRun();
    const std::string clash = run.out + "/" + kExternalDataFile;
    WriteBytes(clash, "another model's weights");
    absl::StatusOr<TagFileResult> result =
        TagFile(run.request, WithExternalData(mode));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_THAT(result.status().message(), HasSubstr(clash));
    EXPECT_THAT(result.status().message(),
                HasSubstr(run.in + "/" + kExternalDataFile));
    EXPECT_THAT(ListFolder(run.out), ElementsAre(kExternalDataFile));
    EXPECT_EQ(ReadBytes(clash), "another model's weights");
    ExpectInputUnchanged(run.in);
  }
}

TEST(TagFileExternalDataTest, ErrorModeRefusesAnotherFolderOnly) {
  const ExternalDataRun run = MakeExternalDataRun();
  absl::StatusOr<TagFileResult> result =
      TagFile(run.request, WithExternalData(ExternalDataMode::kError));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr(kExternalDataFile));
  EXPECT_THAT(ListFolder(run.out), IsEmpty());
  ExpectInputUnchanged(run.in);

  // Beside the model, the side file is there already.
  TagFileRequest beside = run.request;
  beside.output_path = run.in + "/tagged.onnx";
  result = TagFile(beside, WithExternalData(ExternalDataMode::kError));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->external_data.total(), 0);
}

TEST(TagFileExternalDataTest, ARefusedTraceLeavesNoSideFile) {
  ExternalDataRun run = MakeExternalDataRun();
  run.request.trace_path = Fixture("tiny_bert.trace.json");
  absl::StatusOr<TagFileResult> result = TagFile(run.request, TagFileOptions());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("does not match"));
  EXPECT_THAT(ListFolder(run.out), IsEmpty());
}

// The splice path keeps main-graph initializers out of its skeleton; the
// side files of those, of sparse initializers, subgraphs, attributes and
// functions are all placed.
TEST(TagFileExternalDataTest, SideFilesOfEveryKindOfTensorArePlaced) {
  const std::string root = TestFolder();
  WriteEverywhereFiles(root + "/in");
  ASSERT_TRUE(
      SaveModel(ModelWithExternalDataEverywhere(), root + "/in/model.onnx")
          .ok());
  std::filesystem::create_directories(root + "/out");
  TagFileRequest request;
  request.model_path = root + "/in/model.onnx";
  request.output_path = root + "/out/model.onnx";
  absl::StatusOr<TagFileResult> result = TagFile(request, TagFileOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->external_data.linked, 5);
  std::vector<std::string> expected = EverywhereFiles();
  expected.push_back("model.onnx");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ListTree(root + "/out"), expected);
  for (const std::string& file : EverywhereFiles()) {
    EXPECT_EQ(Inode(root + "/out/" + file), Inode(root + "/in/" + file))
        << file;
  }
}

}  // namespace
}  // namespace hp
