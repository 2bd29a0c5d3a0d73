// Every model of Debian's libonnx-testdata (1072 models, ONNX 1.12; many
// with initializers, some with sparse ones or subgraphs) tagged through the
// splice path equals the fully loaded model tagged and saved, byte for byte,
// also with node tags appended to the node records as read, and stripping
// the result gives the original file back.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/atomic_file.h"
#include "hp/io/model_io.h"
#include "hp/io/model_splice.h"
#include "hp/tag/appended_tags.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::FindModels;
using ::hp::test_files::kLibonnxTestdata;
using ::hp::test_files::TestFolder;

TEST(TestdataSpliceTest, SpliceTaggingEqualsFullLoadTaggingOnEveryModel) {
  ASSERT_TRUE(fs::is_directory(kLibonnxTestdata))
      << kLibonnxTestdata
      << " is missing: install Debian's libonnx-testdata "
         "(apt-get install libonnx-testdata); this test needs its models";
  const std::vector<std::string> paths = FindModels(kLibonnxTestdata);
  ASSERT_GE(paths.size(), 1000u) << "models found under " << kLibonnxTestdata;
  const std::string output = TestFolder() + "/spliced.onnx";

  int identical = 0;
  int with_initializers = 0;
  int appending = 0;  // models with node tags appended to records as read
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(TagModel(&*model, nullptr, TagOptions()).ok());
    absl::StatusOr<std::string> expected = SerializeModel(*model, path);
    ASSERT_TRUE(expected.ok());

    absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
    ASSERT_TRUE(splice.ok()) << splice.status();
    if (splice->initializer_count() > 0) ++with_initializers;
    ASSERT_TRUE(TagModel(&splice->skeleton(), nullptr, TagOptions()).ok());
    ASSERT_TRUE(splice->Save(output).ok());
    absl::StatusOr<std::string> spliced = ReadFile(output);
    ASSERT_TRUE(spliced.ok());
    if (*spliced != *expected) {
      ADD_FAILURE() << "splice output differs from the full load's";
      continue;
    }
    // Again with the main graph's tags appended to its node records as
    // read, as `converter tag` writes them, and the later half of every
    // run of node records read ahead on a second thread (RecordRunAhead),
    // taken where it started at a record boundary.
    SpliceOptions read_ahead;
    read_ahead.node_run_ahead_after = 0;
    absl::StatusOr<ModelSplice> copying = ModelSplice::Open(path, read_ahead);
    ASSERT_TRUE(copying.ok()) << copying.status();
    AppendedNodeTags appended;
    ASSERT_TRUE(
        TagModel(&copying->skeleton(), nullptr, TagOptions(), &appended).ok());
    if (!appended.sizes.empty()) ++appending;
    ASSERT_TRUE(
        copying->Save(output, {}, {&appended.sizes, appended.encode}).ok());
    absl::StatusOr<std::string> copied = ReadFile(output);
    ASSERT_TRUE(copied.ok());
    if (*copied != *expected) {
      ADD_FAILURE() << "splice output with copied node records differs";
      continue;
    }

    absl::StatusOr<onnx::ModelProto> tagged = ParseModel(*spliced, output);
    ASSERT_TRUE(tagged.ok());
    ASSERT_TRUE(StripTags(&*tagged).ok());
    absl::StatusOr<std::string> original = ReadFile(path);
    ASSERT_TRUE(original.ok());
    if (*SerializeModel(*tagged, output) != *original) {
      ADD_FAILURE() << "strip(splice-tag(x)) differs from x";
      continue;
    }
    ++identical;
  }
  std::printf(
      "splice: %zu models (%d with initializers, %d with appended node "
      "tags), %d identical\n",
      paths.size(), with_initializers, appending, identical);
  EXPECT_EQ(identical, static_cast<int>(paths.size()));
  // 52 of the 1072 carry initializers (ONNX 1.12 testdata).
  EXPECT_GE(with_initializers, 50);
  // All but the 14 whose every main-graph node holds a subgraph (If, Loop,
  // Scan, SequenceMap): a node whose body is tagged is serialized again.
  EXPECT_GE(appending, 1050);
}

}  // namespace
}  // namespace hp
