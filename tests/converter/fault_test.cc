// The converter under faults around its output and input
// (docs/reliability.md, "Faults"): a read-only or missing output folder, a
// folder or pipe at the output path, a full disk, a symlink at the output
// path, two writers of one output. Each failure exits non-zero with an
// error naming the file and leaves neither output nor temporary file.
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/converter/kill_support.h"
#include "tests/support/test_files.h"

namespace hp {
namespace kill_test {
namespace {

using ::hp::test_files::kModels;
using ::hp::test_files::ListFolder;
using ::hp::test_files::MakeNonFileOutputs;
using ::hp::test_files::NonFileOutputsKept;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kModel = std::string(kModels) + "/tiny_gpt.onnx";
const std::string kTrace = std::string(kModels) + "/tiny_gpt.trace.json";

std::vector<std::string> TagArgs(const std::string& output) {
  return {"tag", "--model", kModel, "--trace", kTrace, "--output", output};
}

// In the child: without the capabilities that let root ignore file
// permissions, so that a read-only folder is read-only for it too.
void DropPermissionOverride() {
  if (::geteuid() != 0) return;
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ::syscall(SYS_capget, &header, data);
  for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER}) {
    // Out of the bounding set too: exec as root would grant it again.
    ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    data[cap / 32].effective &= ~(1u << (cap % 32));
    data[cap / 32].permitted &= ~(1u << (cap % 32));
  }
  ::syscall(SYS_capset, &header, data);
}

TEST(FaultTest, ReadOnlyOutputFolderFailsNamingTheFile) {
  const std::string folder = TestFolder();
  const std::string out = folder + "/read_only";
  fs::create_directories(out);
  fs::permissions(out, fs::perms::owner_read | fs::perms::owner_exec |
                           fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  const Outcome run = RunConverter(TagArgs(out + "/tagged.onnx"),
                                   folder + "/log.txt", DropPermissionOverride);
  fs::permissions(out, fs::perms::owner_all);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr(out + "/tagged.onnx"));
  EXPECT_THAT(run.output, HasSubstr("Permission denied"));
  EXPECT_THAT(ListFolder(out), IsEmpty());
}

TEST(FaultTest, MissingOutputFolderFailsNamingTheFile) {
  const std::string folder = TestFolder();
  const std::string output = folder + "/gone/tagged.onnx";
  const Outcome run = RunConverter(TagArgs(output), folder + "/log.txt");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr(output));
  EXPECT_THAT(run.output, HasSubstr("No such file or directory"));
  EXPECT_FALSE(fs::exists(folder + "/gone"));
}

// An output path naming a folder, a pipe, a link to a pipe, or a link into
// /proc (as /dev/stdout) is refused before any work (the model named here
// does not exist, and the output is what the error names), and left as it
// was: the rename would have put a file in its place (run as root,
// --output /dev/null would replace the device).
TEST(FaultTest, OutputThatIsNoFileIsRefusedBeforeTheWorkAndKept) {
  const std::string folder = TestFolder();
  // The link into /proc stands for /dev/stdout: the converter's stdout is a
  // log file here, a regular file, which the link must not be replaced by.
  const std::vector<std::string> names = MakeNonFileOutputs(folder + "/out");
  for (const std::string& name : names) {
    const std::string output = folder + "/out/" + name;
    const Outcome run = RunConverter(
        {"tag", "--model", folder + "/missing.onnx", "--output", output},
        folder + "/log.txt");
    EXPECT_NE(run.exit_code, 0) << name;
    EXPECT_THAT(run.output, HasSubstr(output)) << name;
    EXPECT_THAT(run.output, AnyOf(HasSubstr("is a directory"),
                                  HasSubstr("is not a regular file"),
                                  HasSubstr("names a process's open file")))
        << name;
  }
  EXPECT_TRUE(NonFileOutputsKept(folder + "/out"));
  EXPECT_EQ(ListFolder(folder + "/out"), names);
}

// A file size limit stands in for a full disk on any machine: writes past
// it fail with EFBIG (SIGXFSZ ignored, as the limit's signal would kill).
TEST(FaultTest, FileSizeLimitFailsWithoutPartialOutput) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer's runtime itself dies of SIGBUS under a 64 KiB file
  // size limit, before hp runs (even `converter --help`); the plain and
  // ASan runs cover this path.
  GTEST_SKIP() << "ThreadSanitizer's runtime fails under RLIMIT_FSIZE";
#endif
  const std::string folder = TestFolder();
  const std::string output = folder + "/out/tagged.onnx";
  fs::create_directories(folder + "/out");
  const Outcome run = RunConverter(TagArgs(output), folder + "/log.txt", [] {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit = {64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
  });
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr(output));
  EXPECT_THAT(run.output, HasSubstr("File too large"));
  EXPECT_THAT(ListFolder(folder + "/out"), IsEmpty());
}

// A real full disk: a 64 KiB tmpfs, where the machine lets the test mount
// one (root with CAP_SYS_ADMIN); skipped elsewhere, where the file size
// limit above still covers the error path.
TEST(FaultTest, FullDiskFailsWithoutPartialOutput) {
  const std::string folder = TestFolder();
  const std::string small = folder + "/small_disk";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  const std::string output = small + "/tagged.onnx";
  const Outcome run = RunConverter(TagArgs(output), folder + "/log.txt");
  const std::vector<std::string> left = ListFolder(small);
  ::umount(small.c_str());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr(output));
  EXPECT_THAT(run.output, HasSubstr("No space left on device"));
  EXPECT_THAT(left, IsEmpty());
}

// The output path is replaced, never written through: a symlink there is
// replaced by the new file and what it pointed to keeps its bytes.
TEST(FaultTest, SymlinkAtOutputIsReplacedNotFollowed) {
  const std::string folder = TestFolder();
  fs::create_directories(folder + "/out");
  fs::create_directories(folder + "/elsewhere");
  WriteBytes(folder + "/elsewhere/precious.txt", "keep me");
  fs::create_symlink("../elsewhere/precious.txt", folder + "/out/tagged.onnx");
  const Outcome run =
      RunConverter(TagArgs(folder + "/out/tagged.onnx"), folder + "/log.txt");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(ReadBytes(folder + "/elsewhere/precious.txt"), "keep me");
  EXPECT_FALSE(fs::is_symlink(folder + "/out/tagged.onnx"));
  EXPECT_THAT(ReadBytes(folder + "/out/tagged.onnx"), HasSubstr("pkg.hp.tag"));
}

// Two processes writing one output at once: the output is one of the two
// complete files, never a mix, and no temporary file is left.
TEST(FaultTest, TwoWritersOfOneOutputLeaveOneCompleteFile) {
  const std::string folder = TestFolder();
  fs::create_directories(folder + "/out");
  const std::string output = folder + "/out/tagged.onnx";
  std::vector<std::string> metadata = TagArgs(folder + "/metadata.onnx");
  std::vector<std::string> doc_string = TagArgs(folder + "/doc_string.onnx");
  doc_string.insert(doc_string.end(), {"--tag_format", "doc_string"});
  ASSERT_EQ(RunConverter(metadata, folder + "/log.txt").exit_code, 0);
  ASSERT_EQ(RunConverter(doc_string, folder + "/log.txt").exit_code, 0);
  const std::string metadata_digest = Digest(folder + "/metadata.onnx");
  const std::string doc_string_digest = Digest(folder + "/doc_string.onnx");
  ASSERT_NE(metadata_digest, doc_string_digest);
  metadata.back() = output;
  doc_string[6] = output;
  for (int round = 0; round < 10; ++round) {
    fs::remove(output);
    const pid_t first = StartConverter(metadata, "");
    const pid_t second = StartConverter(doc_string, "");
    EXPECT_EQ(Wait(first), 0);
    EXPECT_EQ(Wait(second), 0);
    EXPECT_THAT(Digest(output), AnyOf(metadata_digest, doc_string_digest))
        << "round " << round;
    EXPECT_THAT(Temporaries(folder + "/out"), IsEmpty());
  }
}

}  // namespace
}  // namespace kill_test
}  // namespace hp
