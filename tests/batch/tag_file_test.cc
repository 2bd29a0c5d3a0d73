// Tagging one file: the model's digest, hashed while the model is written,
// decides the trace check before anything is committed; a refused model
// leaves nothing behind; writing without fsync writes the same bytes.
#include "hp/batch/tag_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/model_io.h"
#include "hp/util/sha256.h"
#include "tests/util/test_files.h"

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

// The digest a tagged file records for the export it came from.
std::string RecordedDigest(const std::string& path) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return "";
  return RecordedModelSha256(*model).value_or("");
}

TEST(TagFileTest, MatchingTraceRecordsTheModelsDigest) {
  const std::string folder = TestFolder();
  TagFileRequest request;
  request.model_path = Fixture("tiny_bert.onnx");
  request.trace_path = Fixture("tiny_bert.trace.json");
  request.output_path = folder + "/out.onnx";
  absl::StatusOr<TagFileResult> result = TagFile(request, TagFileOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->warnings, IsEmpty());
  absl::StatusOr<std::string> digest = Sha256FileHex(request.model_path);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(RecordedDigest(request.output_path), *digest);
  EXPECT_EQ(result->options.model_sha256, *digest);
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.onnx"));
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
  options.digest_check = DigestCheck::kWarn;
  absl::StatusOr<TagFileResult> result = TagFile(request, options);
  ASSERT_TRUE(result.ok()) << result.status();
  // The digest warning first, then the tagger's.
  ASSERT_THAT(result->warnings, Not(IsEmpty()));
  EXPECT_THAT(result->warnings[0], HasSubstr("does not match"));
  absl::StatusOr<std::string> digest = Sha256FileHex(request.model_path);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(RecordedDigest(request.output_path), *digest);
  EXPECT_EQ(result->options.model_sha256, *digest);
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
