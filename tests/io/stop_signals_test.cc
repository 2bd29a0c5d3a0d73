// A process stopped by SIGINT, SIGTERM or SIGHUP removes what it registered
// (uncommitted temporary files, side files placed for an uncommitted
// output, the folders made for them) and still dies of the signal; what it
// committed or released stays, and a signal it ignores or handles itself
// is left to it. Each case runs in a child process, which the signal ends.
#include "hp/io/stop_signals.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ListTree;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Runs `body` in a child process with `signal`'s action the default (as
// the test runner may have left it otherwise); the child's wait status.
template <typename Body>
int InChild(int signal, Body body) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::signal(signal, SIG_DFL);
    body();
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
  }
  return status;
}

bool DiedOf(int status, int signal) {
  return WIFSIGNALED(status) && WTERMSIG(status) == signal;
}

// A writer part way through its file when the signal comes, and another
// one committed before it: the first's temporary file goes, the second's
// output stays.
TEST(StopSignalsTest, StoppedWriterLeavesOnlyWhatItCommitted) {
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    const std::string folder = TestFolder() + "/" + std::to_string(signal);
    fs::create_directories(folder);
    const int status = InChild(signal, [&] {
      RemoveRegisteredOnStopSignals();
      absl::StatusOr<AtomicFileWriter> done =
          AtomicFileWriter::Create(folder + "/done.onnx");
      if (!done.ok() || !done->Append("done").ok() ||
          !done->Commit(Durability::kNoFsync).ok()) {
        ::_exit(1);
      }
      absl::StatusOr<AtomicFileWriter> writer =
          AtomicFileWriter::Create(folder + "/out.onnx");
      if (!writer.ok() || !writer->Append(std::string(3 << 20, 'w')).ok())
        ::_exit(1);
      if (ListFolder(folder).size() != 2) ::_exit(2);  // the temporary file
      ::raise(signal);
      ::_exit(3);
    });
    EXPECT_TRUE(DiedOf(status, signal)) << signal << ": status " << status;
    EXPECT_THAT(ListFolder(folder), ElementsAre("done.onnx")) << signal;
    EXPECT_EQ(ReadBytes(folder + "/done.onnx"), "done");
  }
}

// Files first, then folders left empty, nested ones too; a released
// registration and a path never registered stay, and so does a registered
// folder that still holds something.
TEST(StopSignalsTest, RegisteredPathsGoReleasedOnesStay) {
  const std::string folder = TestFolder();
  const int status = InChild(SIGTERM, [&] {
    RemoveRegisteredOnStopSignals();
    std::vector<RemovedIfStopped> held;
    for (const char* made : {"/a", "/a/b", "/kept"}) {
      fs::create_directories(folder + made);
      held.emplace_back(folder + made, RemovedIfStopped::Kind::kFolder);
    }
    for (const char* file : {"/a/b/x", "/a/y", "/z", "/released", "/kept/f"})
      WriteBytes(folder + file, "bytes");
    for (const char* registered : {"/a/b/x", "/a/y", "/z", "/released"})
      held.emplace_back(folder + registered);
    held.back().Release();
    ::raise(SIGTERM);
    ::_exit(3);
  });
  EXPECT_TRUE(DiedOf(status, SIGTERM)) << "status " << status;
  EXPECT_THAT(ListTree(folder), ElementsAre("kept/f", "released"));
}

// Side files placed for an output that is never committed, and the folder
// made for them, go as well.
TEST(StopSignalsTest, PlacedSideFilesGoBeforeTheCommit) {
  const std::string folder = TestFolder();
  fs::create_directories(folder + "/in/weights");
  fs::create_directories(folder + "/out");
  WriteBytes(folder + "/in/m.onnx", "model");
  WriteBytes(folder + "/in/weights/w.bin", "weights");
  const int status = InChild(SIGHUP, [&] {
    RemoveRegisteredOnStopSignals();
    absl::StatusOr<PlacedExternalData> placed = PlaceExternalData(
        {"weights/w.bin"}, folder + "/in/m.onnx", folder + "/out/m.onnx",
        ExternalDataPolicy(), Durability::kNoFsync);
    if (!placed.ok() || ListTree(folder + "/out").size() != 1) ::_exit(2);
    ::raise(SIGHUP);
    ::_exit(3);
  });
  EXPECT_TRUE(DiedOf(status, SIGHUP)) << "status " << status;
  EXPECT_THAT(ListFolder(folder + "/out"), IsEmpty());
  EXPECT_EQ(ReadBytes(folder + "/in/weights/w.bin"), "weights");
}

volatile sig_atomic_t handled = 0;

// An ignored signal stays ignored and a handler of the program's own stays
// its own: the handler is installed only over the default action.
TEST(StopSignalsTest, IgnoredAndHandledSignalsAreLeftAlone) {
  const std::string folder = TestFolder();
  const int status = InChild(SIGTERM, [&] {
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGHUP, [](int) { handled = 1; });
    RemoveRegisteredOnStopSignals();
    absl::StatusOr<AtomicFileWriter> writer =
        AtomicFileWriter::Create(folder + "/out.onnx");
    if (!writer.ok() || !writer->Append("bytes").ok()) ::_exit(1);
    ::raise(SIGTERM);
    ::raise(SIGHUP);
    if (handled != 1 || ListFolder(folder).size() != 1) ::_exit(2);
    if (!writer->Commit(Durability::kNoFsync).ok()) ::_exit(4);
    ::_exit(0);
  });
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadBytes(folder + "/out.onnx"), "bytes");
}

// Released slots are used again: many writers one after another, then
// one left open, of which only that one's file goes.
TEST(StopSignalsTest, ManyWritersInTurnThenOneStopped) {
  const std::string folder = TestFolder();
  const int status = InChild(SIGINT, [&] {
    RemoveRegisteredOnStopSignals();
    for (int i = 0; i < 1000; ++i) {
      absl::StatusOr<AtomicFileWriter> writer =
          AtomicFileWriter::Create(folder + "/f" + std::to_string(i % 3));
      if (!writer.ok() || !writer->Append("x").ok() ||
          !writer->Commit(Durability::kNoFsync).ok()) {
        ::_exit(1);
      }
    }
    absl::StatusOr<AtomicFileWriter> open =
        AtomicFileWriter::Create(folder + "/open.onnx");
    if (!open.ok()) ::_exit(1);
    ::raise(SIGINT);
    ::_exit(3);
  });
  EXPECT_TRUE(DiedOf(status, SIGINT)) << "status " << status;
  EXPECT_THAT(ListFolder(folder), ElementsAre("f0", "f1", "f2"));
}

}  // namespace
}  // namespace hp
