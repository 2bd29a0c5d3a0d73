// A durable output past 4 GiB, written past the page cache in aligned
// blocks: every block lands in place beyond the 2 GiB and 4 GiB marks,
// where an offset kept in 32 bits would wrap.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hp/io/atomic_writer.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::DistinctBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;

TEST(AtomicFileWriterPast4GbTest, DirectBlocksLandInPlacePast4GiB) {
  // Ranges under the 64 MiB that end direct writes, so that every byte
  // goes through the writer's blocks; each after a label of its own
  // length, so that no range starts on a block's edge.
  constexpr size_t kRange = size_t{32} << 20;
  constexpr int kRanges = 130;  // 4160 MiB and the labels
  constexpr size_t kShifts = 64;
  const std::string folder = TestFolder();
  const std::string source = folder + "/source.bin";
  const std::string bytes = DistinctBytes(kRange + kShifts, 11);
  WriteBytes(source, bytes);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto label = [](int k) { return absl::StrCat("range ", k, ";"); };
  uint64_t total = 0;
  for (int k = 0; k < kRanges; ++k) total += label(k).size() + kRange;
  ASSERT_GT(total, uint64_t{1} << 32);

  const std::string target = folder + "/out.bin";
  {
    absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer->WriteBackEarly();
    ASSERT_TRUE(writer->Reserve(total).ok());
    for (int k = 0; k < kRanges; ++k) {
      ASSERT_TRUE(writer->Append(label(k)).ok());
      const absl::Status copied = writer->AppendFileRange(
          opened->fd.get(), k % kShifts, kRange, source);
      ASSERT_TRUE(copied.ok()) << copied;
    }
    ASSERT_TRUE(writer->Commit(Durability::kFsync).ok());
    EXPECT_EQ(writer->bytes_written(), total);
  }
  std::filesystem::remove(source);

  absl::StatusOr<OpenedFile> written = OpenRegularFile(target);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->size, total);
  const std::unique_ptr<char[]> read(new char[kRange + 64]);
  uint64_t at = 0;
  for (int k = 0; k < kRanges; ++k) {
    SCOPED_TRACE(absl::StrCat("range ", k, " at byte ", at));
    const std::string expected_label = label(k);
    const uint64_t length = expected_label.size() + kRange;
    ASSERT_EQ(ReadAt(written->fd.get(), read.get(), length, at),
              static_cast<int64_t>(length));
    ASSERT_EQ(std::string(read.get(), expected_label.size()), expected_label);
    ASSERT_EQ(std::memcmp(read.get() + expected_label.size(),
                          bytes.data() + k % kShifts, kRange),
              0);
    at += length;
  }
  std::filesystem::remove(target);
}

}  // namespace
}  // namespace hp
