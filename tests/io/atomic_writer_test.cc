// Atomic writes: the target changes only at Commit(), whole, with or without
// fsync; an abandoned writer leaves nothing. Reads at an offset.
#include "hp/io/atomic_writer.h"

#include <cerrno>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::DistinctBytes;
using ::hp::test_files::ListFolder;
using ::hp::test_files::MakeNonFileOutputs;
using ::hp::test_files::NonFileOutputsKept;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::ElementsAre;

class AtomicFileWriterTest : public ::testing::TestWithParam<Durability> {};

INSTANTIATE_TEST_SUITE_P(Durabilities, AtomicFileWriterTest,
                         ::testing::Values(Durability::kFsync,
                                           Durability::kNoFsync),
                         [](const ::testing::TestParamInfo<Durability>& info) {
                           return std::string(info.param == Durability::kFsync
                                                  ? "Fsync"
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

// A copied range whose offset in the source and place in the output agree
// within a page is copied by the kernel, one that does not through a
// buffer: the same bytes either way, across the buffer's 1 MiB.
TEST_P(AtomicFileWriterTest, CopiedRangesInAndOutOfStepWithThePages) {
  const std::string folder = TestFolder();
  const std::string source = folder + "/source.bin";
  const std::string pattern = DistinctBytes((size_t{3} << 20) + 7, 5);
  WriteBytes(source, pattern);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const size_t length = (size_t{5} << 19) + 3;  // 2.5 MiB and 3 bytes
  for (const size_t before :
       {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{5000}}) {
    for (const size_t offset :
         {size_t{0}, size_t{1}, size_t{4096}, size_t{4097}, before}) {
      SCOPED_TRACE(absl::StrCat(before, " bytes before, from ", offset));
      const std::string head = DistinctBytes(before, 9);
      absl::StatusOr<AtomicFileWriter> writer =
          AtomicFileWriter::Create(folder + "/out.bin");
      ASSERT_TRUE(writer.ok()) << writer.status();
      ASSERT_TRUE(writer->Append(head).ok());
      ASSERT_TRUE(
          writer->AppendFileRange(opened->fd.get(), offset, length, source)
              .ok());
      ASSERT_TRUE(writer->Append("tail").ok());
      ASSERT_TRUE(writer->Commit(GetParam()).ok());
      EXPECT_TRUE(ReadBytes(folder + "/out.bin") ==
                  head + pattern.substr(offset, length) + "tail");
    }
  }
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

// A reservation larger than what is written leaves the file at the bytes
// written: it allocates space, it does not size the file.
TEST(AtomicFileWriterTest, ReserveKeepsTheSizeOfWhatIsWritten) {
  const std::string folder = TestFolder();
  const std::string target = folder + "/out.bin";
  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Reserve(uint64_t{1} << 20).ok());
  ASSERT_TRUE(writer->Append("abc").ok());
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(ReadBytes(target), "abc");
}

// The writer of a large file to be fsynced, as tag's save makes it: it
// reserves the file's space before the first byte, here 64 MiB, so that
// direct writes start however little is then written.
absl::StatusOr<AtomicFileWriter> LargeDurableWriter(const std::string& path) {
  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer;
  writer->WriteBackEarly();
  absl::Status reserved = writer->Reserve(uint64_t{64} << 20);
  if (!reserved.ok()) return reserved;
  return writer;
}

// Starting disk writes early (in 64 MiB batches, here three and a part)
// changes when bytes reach the disk, never which bytes.
TEST(AtomicFileWriterTest, WriteBackEarlyWritesTheSameBytes) {
  const std::string folder = TestFolder();
  const std::string pattern = DistinctBytes(size_t{150} << 20, 0);
  const std::string source = folder + "/source.bin";
  WriteBytes(source, pattern);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();

  const std::string target = folder + "/out.bin";
  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
  ASSERT_TRUE(writer.ok()) << writer.status();
  writer->WriteBackEarly();
  ASSERT_TRUE(writer->Reserve(2 * pattern.size() + 5).ok());
  ASSERT_TRUE(writer->Append("head:").ok());
  ASSERT_TRUE(writer->Append(pattern).ok());
  ASSERT_TRUE(
      writer->AppendFileRange(opened->fd.get(), 0, pattern.size(), source)
          .ok());
  ASSERT_TRUE(writer->Commit(Durability::kFsync).ok());
  EXPECT_TRUE(ReadBytes(target) == "head:" + pattern + pattern);
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.bin", "source.bin"));
}

// Large files to be fsynced are written past the page cache where the file
// system allows (O_DIRECT), in aligned 4 MiB blocks, the last part through
// the page cache: the same bytes for every length around a block's edges,
// from appends and from copied ranges.
TEST(AtomicFileWriterTest, WriteBackEarlyGivesTheSameBytesAtEveryBlockEdge) {
  constexpr size_t kBlock = size_t{4} << 20;
  const std::string folder = TestFolder();
  const std::string source = folder + "/source.bin";
  const std::string copied = DistinctBytes(kBlock + 4096, 7);
  WriteBytes(source, copied);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();
  for (const size_t length :
       {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, kBlock - 1, kBlock,
        kBlock + 1, 3 * kBlock, 3 * kBlock + 5, 4 * kBlock + 4097}) {
    SCOPED_TRACE(length);
    const std::string appended = DistinctBytes(length, 3);
    absl::StatusOr<AtomicFileWriter> writer =
        LargeDurableWriter(folder + "/out.bin");
    ASSERT_TRUE(writer.ok()) << writer.status();
    // Small appends, one large one, a copied range: each fills blocks.
    ASSERT_TRUE(writer->Append("ab").ok());
    ASSERT_TRUE(writer->Append(appended).ok());
    ASSERT_TRUE(writer->Append("c").ok());
    ASSERT_TRUE(
        writer->AppendFileRange(opened->fd.get(), 3, length % kBlock, source)
            .ok());
    ASSERT_TRUE(writer->Commit().ok());
    EXPECT_TRUE(ReadBytes(folder + "/out.bin") ==
                "ab" + appended + "c" + copied.substr(3, length % kBlock));
    EXPECT_EQ(writer->bytes_written(), 3 + length + length % kBlock);
  }
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.bin", "source.bin"));
}

// Sync() ends the direct writes: what is appended after it goes through the
// page cache and follows the synced bytes.
TEST(AtomicFileWriterTest, AppendsAfterSyncFollowTheDirectWrites) {
  const std::string folder = TestFolder();
  const std::string first = DistinctBytes((size_t{9} << 20) + 11, 1);
  const std::string second = DistinctBytes((size_t{5} << 20) + 3, 2);
  absl::StatusOr<AtomicFileWriter> writer =
      LargeDurableWriter(folder + "/out.bin");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append(first).ok());
  ASSERT_TRUE(writer->Sync().ok());
  ASSERT_TRUE(writer->Append(second).ok());
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_TRUE(ReadBytes(folder + "/out.bin") == first + second);
}

// Empty appends start nothing: a whole file appended after them is still
// the file's first bytes (a reflink where the file system can), and what
// follows goes after it.
TEST(AtomicFileWriterTest, EmptyAppendsBeforeAWholeFileChangeNothing) {
  const std::string folder = TestFolder();
  const std::string source = folder + "/source.bin";
  const std::string pattern = DistinctBytes((size_t{17} << 20) + 5, 9);
  WriteBytes(source, pattern);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::StatusOr<AtomicFileWriter> writer =
      LargeDurableWriter(folder + "/out.bin");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("").ok());
  ASSERT_TRUE(writer->AppendFileRange(opened->fd.get(), 0, 0, source).ok());
  ASSERT_TRUE(
      writer->AppendWholeFile(opened->fd.get(), opened->size, source).ok());
  ASSERT_TRUE(writer->Append(":tail").ok());
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_TRUE(ReadBytes(folder + "/out.bin") == pattern + ":tail");
}

// A writer dropped while its direct writes are running waits for them
// before it removes its file: nothing is left, and nothing writes after.
TEST(AtomicFileWriterTest, AbandonedWriterWithDirectWritesLeavesNothing) {
  const std::string folder = TestFolder();
  {
    absl::StatusOr<AtomicFileWriter> writer =
        LargeDurableWriter(folder + "/out.bin");
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(writer->Append(DistinctBytes(size_t{21} << 20, 5)).ok());
  }
  EXPECT_THAT(ListFolder(folder), ElementsAre());
}

TEST_P(AtomicFileWriterTest, CommitWithoutReplacingLeavesAnExistingTarget) {
  const std::string folder = TestFolder();
  const std::string target = folder + "/out.bin";
  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("new").ok());
  // Appears while the new file is written.
  WriteBytes(target, "there first");
  absl::Status committed = writer->CommitWithoutReplacing(GetParam());
  EXPECT_EQ(committed.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadBytes(target), "there first");
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.bin"));

  absl::StatusOr<AtomicFileWriter> other =
      AtomicFileWriter::Create(folder + "/free.bin");
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(other->Append("placed").ok());
  ASSERT_TRUE(other->CommitWithoutReplacing(GetParam()).ok());
  EXPECT_EQ(ReadBytes(folder + "/free.bin"), "placed");
}

// A whole file appended as a reflink where the file system shares blocks,
// else copied: the same bytes either way, with or without direct writes
// (WriteBackEarly), and later appends follow them.
TEST(AtomicFileWriterTest, AppendWholeFileGivesItsBytes) {
  const std::string folder = TestFolder();
  const std::string source = folder + "/source.bin";
  // Large enough for direct writes, where a copy is made.
  const std::string pattern = DistinctBytes((size_t{17} << 20) + 5, 0);
  WriteBytes(source, pattern);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(source);
  ASSERT_TRUE(opened.ok()) << opened.status();
  for (const bool early : {false, true}) {
    for (const bool first : {true, false}) {
      absl::StatusOr<AtomicFileWriter> writer =
          AtomicFileWriter::Create(folder + "/out.bin");
      ASSERT_TRUE(writer.ok()) << writer.status();
      if (early) writer->WriteBackEarly();
      const std::string head = first ? "" : "head:";
      ASSERT_TRUE(writer->Append(head).ok());
      ASSERT_TRUE(
          writer->AppendWholeFile(opened->fd.get(), opened->size, source).ok());
      ASSERT_TRUE(writer->Append(":tail").ok());
      EXPECT_EQ(writer->bytes_written(), head.size() + pattern.size() + 5);
      ASSERT_TRUE(writer->Commit().ok());
      EXPECT_TRUE(ReadBytes(folder + "/out.bin") == head + pattern + ":tail");
    }
  }
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

// The output folder removed while the file is written: the commit fails,
// naming the target, and nothing appears.
TEST(AtomicFileWriterTest, FolderRemovedBeforeCommitFailsNamingTheTarget) {
  const std::string folder = TestFolder() + "/vanishing";
  std::filesystem::create_directories(folder);
  absl::StatusOr<AtomicFileWriter> writer =
      AtomicFileWriter::Create(folder + "/out.bin");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("bytes").ok());
  std::filesystem::remove_all(folder);
  const absl::Status status = writer->Commit();
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_THAT(status.message(), ::testing::HasSubstr(folder + "/out.bin"));
  EXPECT_FALSE(std::filesystem::exists(folder));
}

// An output path may name nothing yet, a file or a link (replaced by the
// rename); a folder, a pipe, a link to a pipe, or a link into /proc (as
// /dev/stdout) is refused before a temporary file is made, and so is a path
// whose folder is missing or is a file. Each refusal names the path.
TEST(CheckOutputPathTest, RefusesWhatARenameMustNotReplace) {
  namespace fs = std::filesystem;
  const std::string folder = TestFolder();
  WriteBytes(folder + "/file.onnx", "old");
  fs::create_symlink("file.onnx", folder + "/link.onnx");
  fs::create_symlink("nowhere.onnx", folder + "/dangling.onnx");
  // The link into /proc names this process's stdout, whatever it is.
  MakeNonFileOutputs(folder);

  for (const char* fine :
       {"/new.onnx", "/file.onnx", "/link.onnx", "/dangling.onnx"}) {
    EXPECT_TRUE(CheckOutputPath(folder + fine).ok()) << fine;
  }
  const struct {
    const char* name;
    std::string says;
  } refused[] = {
      {"/folder.onnx", "is a directory"},
      {"/pipe.onnx", "is not a regular file"},
      {"/pipe_link.onnx", "is not a regular file"},
      {"/stdout_link.onnx", "names a process's open file"},
      {"/gone/new.onnx", "folder " + folder + "/gone: No such file"},
      {"/file.onnx/new.onnx",
       "folder " + folder + "/file.onnx is not a folder"},
  };
  for (const auto& [name, says] : refused) {
    const std::string path = folder + name;
    const absl::Status status = CheckOutputPath(path);
    EXPECT_FALSE(status.ok()) << name;
    EXPECT_THAT(status.message(), ::testing::HasSubstr(path)) << name;
    EXPECT_THAT(status.message(), ::testing::HasSubstr(says)) << name;
    // Create refuses the same, leaving nothing.
    EXPECT_FALSE(AtomicFileWriter::Create(path).ok()) << name;
  }
  EXPECT_TRUE(NonFileOutputsKept(folder));
  EXPECT_THAT(
      ListFolder(folder),
      ElementsAre("dangling.onnx", "file.onnx", "folder.onnx", "link.onnx",
                  "pipe.onnx", "pipe_link.onnx", "stdout_link.onnx"));
  // In /proc itself.
  EXPECT_THAT(CheckOutputPath("/proc/self/fd/1").message(),
              ::testing::HasSubstr("names a process's open file"));
}

// ReadAt: the bytes asked for, fewer only where the file ends, -1 and
// errno for a read that fails.
TEST(ReadAtTest, ReadsUpToTheEndOfTheFile) {
  const std::string path = TestFolder() + "/bytes.bin";
  WriteBytes(path, "0123456789");
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::string buffer(16, '.');
  EXPECT_EQ(ReadAt(opened->fd.get(), buffer.data(), 4, 3), 4);
  EXPECT_EQ(buffer.substr(0, 4), "3456");
  EXPECT_EQ(ReadAt(opened->fd.get(), buffer.data(), 16, 6), 4);
  EXPECT_EQ(buffer.substr(0, 4), "6789");
  EXPECT_EQ(ReadAt(opened->fd.get(), buffer.data(), 16, 10), 0);
  EXPECT_EQ(ReadAt(opened->fd.get(), buffer.data(), 0, 0), 0);
}

// RangeCopy: the range asked for, from one buffer reused while it is big
// enough; null where the file holds fewer bytes.
TEST(RangeCopyTest, ReadsRangesIntoOneBufferAndRefusesShortOnes) {
  const std::string path = TestFolder() + "/range.bin";
  std::string bytes;
  for (int i = 0; i < 5000; ++i) bytes += static_cast<char>('a' + i % 26);
  WriteBytes(path, bytes);
  absl::StatusOr<OpenedFile> opened = OpenRegularFile(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const int fd = opened->fd.get();
  RangeCopy copy;
  const uint8_t* first = copy.Read(fd, 3, 4);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(first), 4), "defg");
  // A longer range within the same 2 MB: the same buffer.
  const uint8_t* second = copy.Read(fd, 1000, 4000);
  ASSERT_EQ(second, first);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(second), 4000),
            bytes.substr(1000));
  // Past the end: nothing to read the range from.
  EXPECT_EQ(copy.Read(fd, 4999, 2), nullptr);
  EXPECT_EQ(copy.Read(fd, 6000, 1), nullptr);
  // An empty range is read (there is nothing to miss).
  EXPECT_NE(copy.Read(fd, 5000, 0), nullptr);
}

TEST(ReadAtTest, AFailedReadSaysWhy) {
  char byte = 0;
  errno = 0;
  EXPECT_EQ(ReadAt(-1, &byte, 1, 0), -1);
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace hp
