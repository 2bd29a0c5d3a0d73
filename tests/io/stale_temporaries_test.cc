// Temporary files of dead writers are removed by the next writer into the
// folder; those of live writers, here or in another process, never are.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/atomic_writer.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(StaleTemporariesTest, TemporaryNamesAreRecognised) {
  EXPECT_TRUE(IsTemporaryName(".model.onnx.hp-tmp-123456"));
  EXPECT_TRUE(IsTemporaryName(".a.hp-tmp-0"));
  EXPECT_FALSE(IsTemporaryName("model.onnx.hp-tmp-123"));  // not hidden
  EXPECT_FALSE(IsTemporaryName(".model.onnx.hp-tmp-"));
  EXPECT_FALSE(IsTemporaryName(".model.onnx.hp-tmp-12a"));
  EXPECT_FALSE(IsTemporaryName(".hp-tmp-12"));  // no target name
  EXPECT_FALSE(IsTemporaryName("model.onnx"));
}

TEST(StaleTemporariesTest, UnlockedTemporaryIsRemovedAndOthersKept) {
  const std::string folder = TestFolder();
  WriteBytes(folder + "/.model.onnx.hp-tmp-42", "half a model");
  WriteBytes(folder + "/model.onnx", "a model");
  WriteBytes(folder + "/.model.onnx.hp-tmp-x", "not ours");
  fs::create_symlink("model.onnx", folder + "/.link.onnx.hp-tmp-7");
  EXPECT_EQ(RemoveStaleTemporaries(folder), 1);
  EXPECT_THAT(
      ListFolder(folder),
      ElementsAre(".link.onnx.hp-tmp-7", ".model.onnx.hp-tmp-x", "model.onnx"));
  EXPECT_EQ(ReadBytes(folder + "/model.onnx"), "a model");
}

TEST(StaleTemporariesTest, NextWriterRemovesStaleTemporaries) {
  const std::string folder = TestFolder();
  WriteBytes(folder + "/.old.onnx.hp-tmp-1", "left by a killed run");
  WriteBytes(folder + "/.new.onnx.hp-tmp-2", "left by another");
  absl::StatusOr<AtomicFileWriter> writer =
      AtomicFileWriter::Create(folder + "/new.onnx");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("bytes").ok());
  ASSERT_TRUE(writer->Commit(Durability::kNoFsync).ok());
  EXPECT_THAT(ListFolder(folder), ElementsAre("new.onnx"));
}

TEST(StaleTemporariesTest, LiveWriterInThisProcessIsKept) {
  const std::string folder = TestFolder();
  absl::StatusOr<AtomicFileWriter> writer =
      AtomicFileWriter::Create(folder + "/out.onnx");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("bytes").ok());
  EXPECT_EQ(RemoveStaleTemporaries(folder), 0);
  EXPECT_THAT(ListFolder(folder), SizeIs(1));
  ASSERT_TRUE(writer->Commit(Durability::kNoFsync).ok());
  EXPECT_EQ(ReadBytes(folder + "/out.onnx"), "bytes");
}

// A child process holds the lock (as a writer does) until told to exit;
// pipes order the steps, no sleeping.
TEST(StaleTemporariesTest, TemporaryLockedByAnotherProcessIsKeptUntilItDies) {
  const std::string folder = TestFolder();
  const std::string temporary = folder + "/.out.onnx.hp-tmp-99";
  WriteBytes(temporary, "in use");
  int locked[2], release[2];
  ASSERT_EQ(::pipe(locked), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(release[1]);  // else the read below never sees EOF
    const int fd = ::open(temporary.c_str(), O_WRONLY);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    char byte = 'x';
    if (::write(locked[1], &byte, 1) != 1) ::_exit(1);
    ::read(release[0], &byte, 1);  // returns at EOF: the parent closed it
    ::_exit(0);
  }
  ::close(locked[1]);
  ::close(release[0]);
  char byte;
  ASSERT_EQ(::read(locked[0], &byte, 1), 1);
  EXPECT_EQ(RemoveStaleTemporaries(folder), 0);
  EXPECT_TRUE(fs::exists(temporary));
  ::close(release[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(RemoveStaleTemporaries(folder), 1);
  EXPECT_FALSE(fs::exists(temporary));
  ::close(locked[0]);
}

// A writer killed with SIGKILL while writing: its temporary file stays
// until the next cleanup, which removes it.
TEST(StaleTemporariesTest, TemporaryOfKilledWriterIsRemoved) {
  const std::string folder = TestFolder();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    absl::StatusOr<AtomicFileWriter> writer =
        AtomicFileWriter::Create(folder + "/out.onnx");
    if (!writer.ok() || !writer->Append(std::string(3 << 20, 'w')).ok())
      ::_exit(1);
    char byte = 'x';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_EQ(RemoveStaleTemporaries(folder), 0);  // alive: kept
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_THAT(ListFolder(folder), SizeIs(1));
  EXPECT_EQ(RemoveStaleTemporaries(folder), 1);
  EXPECT_THAT(ListFolder(folder), IsEmpty());
  ::close(ready[0]);
}

}  // namespace
}  // namespace hp
