// The structure digest: the file's SHA-256 without the main graph's
// initializer records, computed from hand-written wire bytes (so the test
// controls exactly which bytes are left out), and matching what hp_record
// wrote into every fixture's trace.
#include "hp/io/structure_digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/model_splice.h"
#include "hp/trace/scope_trace.h"
#include "hp/util/sha256.h"
#include "tests/support/test_files.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

using ::hp::test_files::kModels;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::wire_format::BytesField;
using ::hp::wire_format::VarintField;
using ::testing::HasSubstr;

// A small model's parts: ModelProto ir_version (1), graph (7) with a node
// (1), an initializer (5), a sparse initializer (15) and an input (11),
// then opset_import (8) after the graph.
struct Parts {
  std::string node =
      BytesField(1, BytesField(3, "/fc/MatMul") + BytesField(4, "MatMul"));
  std::string initializer = BytesField(
      5, BytesField(8, "fc.weight") + BytesField(9, std::string(64, '\x01')));
  std::string sparse = BytesField(
      15, BytesField(1, BytesField(8, "s") + BytesField(9, "\x02\x02")));
  std::string input = BytesField(11, BytesField(1, "x"));
  std::string opset = BytesField(8, VarintField(2, 17));

  std::string Graph() const { return node + initializer + sparse + input; }
  std::string File() const {
    return VarintField(1, 8) + BytesField(7, Graph()) + opset;
  }
  // The graph record's tag and length, as in the file.
  std::string GraphHeader() const {
    const std::string record = BytesField(7, Graph());
    return record.substr(0, record.size() - Graph().size());
  }
};

std::string DigestOf(const std::string& bytes) {
  std::optional<std::string> digest = StructureSha256Hex(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_TRUE(digest.has_value());
  return digest.value_or("");
}

TEST(StructureDigestTest, LeavesOutExactlyTheInitializerRecords) {
  const Parts parts;
  const std::string kept = VarintField(1, 8) + parts.GraphHeader() +
                           parts.node + parts.input + parts.opset;
  EXPECT_EQ(DigestOf(parts.File()), Sha256Hex(kept));
  EXPECT_NE(DigestOf(parts.File()), Sha256Hex(parts.File()));
  // The splice path hashes around the records it found when opening.
  const std::string path = TestFolder() + "/model.onnx";
  WriteBytes(path, parts.File());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok()) << splice.status();
  EXPECT_EQ(splice->initializer_count(), 2);
  absl::StatusOr<std::string> from_splice = splice->StructureSha256Hex();
  ASSERT_TRUE(from_splice.ok()) << from_splice.status();
  EXPECT_EQ(*from_splice, Sha256Hex(kept));
}

TEST(StructureDigestTest, OtherWeightsOfTheSameSizeKeepIt) {
  const Parts parts;
  Parts retrained;
  retrained.initializer = BytesField(
      5, BytesField(8, "fc.weight") + BytesField(9, std::string(64, '\x07')));
  EXPECT_EQ(DigestOf(parts.File()), DigestOf(retrained.File()));
  EXPECT_NE(Sha256Hex(parts.File()), Sha256Hex(retrained.File()));
}

TEST(StructureDigestTest, AnyChangeOutsideTheWeightsChangesIt) {
  const Parts parts;
  Parts renamed;
  renamed.node =
      BytesField(1, BytesField(3, "/fc/MatMul_1") + BytesField(4, "MatMul"));
  EXPECT_NE(DigestOf(parts.File()), DigestOf(renamed.File()));
  Parts other_opset;
  other_opset.opset = BytesField(8, VarintField(2, 18));
  EXPECT_NE(DigestOf(parts.File()), DigestOf(other_opset.File()));
  // The graph's length prefix is in the file as exported, so weights of
  // another size change it too.
  Parts resized;
  resized.initializer = BytesField(
      5, BytesField(8, "fc.weight") + BytesField(9, std::string(65, '\x01')));
  EXPECT_NE(DigestOf(parts.File()), DigestOf(resized.File()));
}

TEST(StructureDigestTest, WithoutInitializersItIsTheFilesDigest) {
  Parts parts;
  parts.initializer.clear();
  parts.sparse.clear();
  EXPECT_EQ(DigestOf(parts.File()), Sha256Hex(parts.File()));
}

// Read with pread 64 KiB at a time, the digest is the mapped one's,
// whatever the cut ranges straddle; a file cut short under it is DataLoss.
TEST(StructureDigestTest, ReadFromTheFileItIsTheMappedDigest) {
  std::string bytes(3 * (1 << 20) + 4321, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>((i * 2654435761u) >> 24);
  }
  const std::vector<ByteRange> cut = {
      {100, 200}, {(1 << 20) - 5, (1 << 20) + 5}, {3 << 20, (3 << 20) + 1000}};
  const std::string path = TestFolder() + "/bytes.bin";
  WriteBytes(path, bytes);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  absl::StatusOr<std::string> read =
      Sha256FileHexWithout(fd, bytes.size(), cut, path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read,
            Sha256HexWithout(reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size(), cut));
  ASSERT_EQ(::truncate(path.c_str(), 2 << 20), 0);
  read = Sha256FileHexWithout(fd, bytes.size(), cut, path);
  ::close(fd);
  EXPECT_TRUE(absl::IsDataLoss(read.status())) << read.status();
  EXPECT_THAT(std::string(read.status().message()),
              HasSubstr(path + ": the file was truncated while it was read"));
}

TEST(StructureDigestTest, MalformedBytesAreRejectedNamingTheFile) {
  const std::string file = Parts().File();
  EXPECT_FALSE(StructureSha256Hex(reinterpret_cast<const uint8_t*>(file.data()),
                                  file.size() - 3)
                   .has_value());
  const std::string path = TestFolder() + "/truncated.onnx";
  WriteBytes(path, file.substr(0, file.size() - 3));
  absl::StatusOr<std::string> digest = StructureSha256FileHex(path);
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(digest.status().message()),
              HasSubstr(path + ": not an ONNX model"));
  EXPECT_EQ(
      StructureSha256FileHex(TestFolder() + "/missing.onnx").status().code(),
      absl::StatusCode::kNotFound);
}

// hp_record (Python) wrote each fixture's trace; hp (C++) must compute the
// same digest from the file, with and without the splice path.
TEST(StructureDigestTest, EqualsWhatTheRecorderWroteForEveryFixture) {
  for (const char* stem :
       {"tiny_bert", "tiny_resnet", "tiny_gpt", "tiny_t5", "control_flow",
        "containers", "recalls", "dynamo_style", "unscoped"}) {
    const std::string model = std::string(kModels) + "/" + stem + ".onnx";
    absl::StatusOr<ScopeTrace> trace =
        LoadScopeTrace(std::string(kModels) + "/" + stem + ".trace.json");
    ASSERT_TRUE(trace.ok()) << trace.status();
    ASSERT_FALSE(trace->onnx_structure_sha256().empty()) << stem;
    absl::StatusOr<std::string> from_file = StructureSha256FileHex(model);
    ASSERT_TRUE(from_file.ok()) << from_file.status();
    EXPECT_EQ(*from_file, trace->onnx_structure_sha256()) << stem;
    absl::StatusOr<ModelSplice> splice = ModelSplice::Open(model);
    ASSERT_TRUE(splice.ok()) << splice.status();
    absl::StatusOr<std::string> from_splice = splice->StructureSha256Hex();
    ASSERT_TRUE(from_splice.ok()) << from_splice.status();
    EXPECT_EQ(*from_splice, *from_file) << stem;
  }
}

}  // namespace
}  // namespace hp
