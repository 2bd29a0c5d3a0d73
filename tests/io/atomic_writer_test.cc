// Atomic writes: the target changes only at Commit(), whole, with or without
// fsync; an abandoned writer leaves nothing.
#include "hp/io/atomic_writer.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::ListFolder;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::ElementsAre;

class AtomicFileWriterTest : public ::testing::TestWithParam<Durability> {};

INSTANTIATE_TEST_SUITE_P(
    Durabilities, AtomicFileWriterTest,
    ::testing::Values(Durability::kFsync, Durability::kNoFsync),
    [](const ::testing::TestParamInfo<Durability>& info) {
      return std::string(info.param == Durability::kFsync ? "Fsync"
                                                          : "NoFsync");
    });

TEST_P(AtomicFileWriterTest, TargetChangesOnlyAtCommit) {
  const std::string folder = TestFolder();
  const std::string target = folder + "/out.bin";
  const std::string source = folder + "/source.bin";
  WriteBytes(target, "old");
  WriteBytes(source, "0123456789");
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();

  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("new:").ok());
  ASSERT_TRUE(writer->AppendFileRange(opened->fd.get(), 2, 5, source).ok());
  EXPECT_EQ(ReadBytes(target), "old");
  EXPECT_EQ(ListFolder(folder).size(), 3u);  // and the temporary file

  ASSERT_TRUE(writer->Commit(GetParam()).ok());
  EXPECT_EQ(ReadBytes(target), "new:23456");
  EXPECT_EQ(writer->bytes_written(), 9u);
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.bin", "source.bin"));
}

TEST_P(AtomicFileWriterTest, SyncLeavesTheTargetAloneAndLaterBytesCount) {
  const std::string folder = TestFolder();
  const std::string target = folder + "/out.bin";
  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("synced ").ok());
  ASSERT_TRUE(writer->Sync().ok());
  EXPECT_EQ(ReadBytes(target), "");
  ASSERT_TRUE(writer->Append("and after").ok());
  ASSERT_TRUE(writer->Commit(GetParam()).ok());
  EXPECT_EQ(ReadBytes(target), "synced and after");
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.bin"));
}

TEST(AtomicFileWriterTest, AbandonedWriterLeavesNothing) {
  const std::string folder = TestFolder();
  {
    absl::StatusOr<AtomicFileWriter> writer =
        AtomicFileWriter::Create(folder + "/out.bin");
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(writer->Append("partial").ok());
  }
  EXPECT_THAT(ListFolder(folder), ElementsAre());
}

}  // namespace
}  // namespace hp
