// Tagging one file: the model's digest, hashed while the model is written,
// decides the trace check before anything is committed (the structure
// digest for traces that have one, the file's for older traces); a refused
// model leaves nothing behind; writing without fsync writes the same bytes.
#include "hp/pipeline/tag_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/atomic_file.h"
#include "hp/io/model_io.h"
#include "hp/io/structure_digest.h"
#include "hp/util/sha256.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::kModels;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
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

}  // namespace
}  // namespace hp
