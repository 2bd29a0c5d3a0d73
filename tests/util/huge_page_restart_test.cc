// RestartWithHugePageMalloc: a program starts again once, with malloc's
// tunables added to the caller's, its heap then advised for huge pages; a
// caller who named glibc.malloc.hugetlb is left alone; after the restart a
// thread's small blocks come from the main heap too; and
// WillRestartWithHugePageMalloc says beforehand whether it will. Each case runs
// this binary again as a child ("--child") in an environment of its own.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "hp/util/huge_page_allocations.h"

extern char** environ;

namespace {

constexpr char kStarts[] = "HP_TEST_STARTS";
// What WillRestartWithHugePageMalloc answered at the first start.
constexpr char kWillAtFirst[] = "HP_TEST_WILL_RESTART";

// Whether the mapping named `name` in /proc/self/smaps ("[heap]") carries
// the VmFlag `flag`.
bool MappingHasFlag(absl::string_view name, absl::string_view flag) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    if (line.find('-') < line.find(' ') &&
        line.find(' ') != std::string::npos) {
      inside = absl::EndsWith(line, name);
      continue;
    }
    if (!inside || !absl::StartsWith(line, "VmFlags:")) continue;
    for (absl::string_view word : absl::StrSplit(line, ' ')) {
      if (word == flag) return true;
    }
  }
  return false;
}

// Whether `address` lies in the mappings /proc/self/maps names "[heap]",
// the main arena's (advice for huge pages splits it in several).
bool InMainHeap(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  while (std::getline(maps, line)) {
    if (!absl::EndsWith(line, "[heap]")) continue;
    const std::vector<std::string> range =
        absl::StrSplit(line.substr(0, line.find(' ')), '-');
    uint64_t begin = 0;
    uint64_t end = 0;
    if (range.size() == 2 && absl::SimpleHexAtoi(range[0], &begin) &&
        absl::SimpleHexAtoi(range[1], &end) && at >= begin && at < end) {
      return true;
    }
  }
  return false;
}

// The child: counts its starts in the environment, restarts if it will,
// then reports what it runs with.
int Child(char** argv) {
  int starts = 0;
  if (const char* counted = std::getenv(kStarts)) {
    if (!absl::SimpleAtoi(counted, &starts)) starts = 0;
  }
  setenv(kStarts, absl::StrCat(starts + 1).c_str(), 1);
  if (starts == 0) {
    setenv(kWillAtFirst, hp::WillRestartWithHugePageMalloc() ? "1" : "0", 1);
  }
  hp::RestartWithHugePageMalloc(argv);
  // 8 MB of small blocks: the heap grows past a few 2 MB boundaries, and
  // glibc advises what it adds once it spans a huge page.
  std::vector<char*> blocks;
  for (int i = 0; i < 8192; ++i) blocks.push_back(new char[1024]{'h'});
  // A small block of another thread: from an arena of its own unless
  // there is one arena.
  bool thread_in_main_heap = false;
  std::thread([&thread_in_main_heap] {
    char* block = new char[1024]{'t'};
    thread_in_main_heap = InMainHeap(block);
    delete[] block;
  }).join();
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const char* will_at_first = std::getenv(kWillAtFirst);
  std::printf(
      "starts=%d\ntunables=%s\nheap_advised=%d\nthread_in_main_heap=%d\n"
      "will_restart_at_first=%s\nwill_restart_now=%d\n",
      starts + 1, tunables != nullptr ? tunables : "(unset)",
      MappingHasFlag("[heap]", "hg") ? 1 : 0, thread_in_main_heap ? 1 : 0,
      will_at_first != nullptr ? will_at_first : "?",
      hp::WillRestartWithHugePageMalloc() ? 1 : 0);
  for (char* block : blocks) delete[] block;
  return 0;
}

struct Report {
  int starts = 0;
  std::string tunables;
  bool heap_advised = false;
  bool thread_in_main_heap = false;
  bool will_restart_at_first = false;
  bool will_restart_now = true;
};

// Runs this binary as a child with GLIBC_TUNABLES set to `tunables` (unset
// when null), the rest of the environment as it is.
Report RunChild(const char* tunables) {
  std::vector<std::string> variables;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    if (absl::StartsWith(*variable, "GLIBC_TUNABLES=") ||
        absl::StartsWith(*variable, absl::StrCat(kStarts, "=")) ||
        absl::StartsWith(*variable, absl::StrCat(kWillAtFirst, "="))) {
      continue;
    }
    variables.push_back(*variable);
  }
  if (tunables != nullptr) {
    variables.push_back(absl::StrCat("GLIBC_TUNABLES=", tunables));
  }
  std::vector<char*> envp;
  for (std::string& variable : variables) envp.push_back(variable.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  std::string child_flag = "--child";
  char* child_argv[] = {self.data(), child_flag.data(), nullptr};

  int pipe_ends[2];
  EXPECT_EQ(pipe(pipe_ends), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr,
                                  child_argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_ends[1]);
  std::string output;
  char buffer[4096];
  for (ssize_t got; (got = read(pipe_ends[0], buffer, sizeof(buffer))) > 0;) {
    output.append(buffer, static_cast<size_t>(got));
  }
  close(pipe_ends[0]);
  Report report;
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start the child";
    return report;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, "starts=")) {
      EXPECT_TRUE(absl::SimpleAtoi(line, &report.starts)) << line;
    } else if (absl::ConsumePrefix(&line, "tunables=")) {
      report.tunables = std::string(line);
    } else if (absl::ConsumePrefix(&line, "heap_advised=")) {
      report.heap_advised = line == "1";
    } else if (absl::ConsumePrefix(&line, "thread_in_main_heap=")) {
      report.thread_in_main_heap = line == "1";
    } else if (absl::ConsumePrefix(&line, "will_restart_at_first=")) {
      report.will_restart_at_first = line == "1";
    } else if (absl::ConsumePrefix(&line, "will_restart_now=")) {
      report.will_restart_now = line == "1";
    }
  }
  return report;
}

// Whether this build restarts and the kernel has huge pages to give.
bool Restarts() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return hp::AllocationsAdviseHugePages() && std::getline(enabled, modes) &&
         modes.find("[never]") == std::string::npos;
}

TEST(HugePageRestartTest, StartsOnceMoreWithMallocOnHugePages) {
  if (!Restarts()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  const Report report = RunChild(nullptr);
  EXPECT_EQ(report.starts, 2);
  EXPECT_EQ(report.tunables, hp::kHugePageMallocTunables);
  EXPECT_TRUE(report.heap_advised);
  EXPECT_TRUE(report.thread_in_main_heap);
  // It said it would, and says it will not again once restarted.
  EXPECT_TRUE(report.will_restart_at_first);
  EXPECT_FALSE(report.will_restart_now);
}

TEST(HugePageRestartTest, KeepsTheCallersTunables) {
  if (!Restarts()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  const Report report = RunChild("glibc.malloc.tcache_count=16");
  EXPECT_EQ(report.starts, 2);
  EXPECT_EQ(report.tunables, absl::StrCat("glibc.malloc.tcache_count=16:",
                                          hp::kHugePageMallocTunables));
}

TEST(HugePageRestartTest, KeepsTheCallersMmapThreshold) {
  if (!Restarts()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  const Report report = RunChild("glibc.malloc.mmap_threshold=65536");
  EXPECT_EQ(report.starts, 2);
  EXPECT_EQ(report.tunables,
            "glibc.malloc.mmap_threshold=65536:glibc.malloc.hugetlb=1:"
            "glibc.malloc.arena_max=1");
}

TEST(HugePageRestartTest, KeepsTheCallersArenaCount) {
  if (!Restarts()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  const Report report = RunChild("glibc.malloc.arena_max=4");
  EXPECT_EQ(report.starts, 2);
  EXPECT_EQ(report.tunables,
            "glibc.malloc.arena_max=4:glibc.malloc.hugetlb=1:"
            "glibc.malloc.mmap_threshold=2097152");
}

TEST(HugePageRestartTest, LeavesACallersChoiceAlone) {
  const Report report = RunChild("glibc.malloc.hugetlb=0");
  EXPECT_EQ(report.starts, 1);
  EXPECT_EQ(report.tunables, "glibc.malloc.hugetlb=0");
  EXPECT_FALSE(report.heap_advised);
  EXPECT_FALSE(report.thread_in_main_heap);
  EXPECT_FALSE(report.will_restart_at_first);
  EXPECT_FALSE(report.will_restart_now);
}

TEST(HugePageRestartTest, SaysWhetherItWillRestart) {
  const Report report = RunChild(nullptr);
  // A sanitizer build, or a kernel without huge pages, never restarts.
  EXPECT_EQ(report.will_restart_at_first, Restarts());
  EXPECT_EQ(report.starts, Restarts() ? 2 : 1);
  EXPECT_FALSE(report.will_restart_now);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--child") return Child(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
