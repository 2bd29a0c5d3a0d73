// Running the converter as a child process, killing it with SIGKILL part
// way, and checking what a killed writer left: for the kill and fault tests.
#ifndef HP_TESTS_CONVERTER_KILL_SUPPORT_H_
#define HP_TESTS_CONVERTER_KILL_SUPPORT_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "hp/io/atomic_writer.h"
#include "hp/util/sha256.h"

namespace hp {
namespace kill_test {

namespace fs = std::filesystem;

// Starts hp/converter with `args`, stdout and stderr into `log` (if not
// empty, else /dev/null). `in_child` runs in the child before exec.
inline pid_t StartConverter(const std::vector<std::string>& args,
                            const std::string& log,
                            const std::function<void()>& in_child = {}) {
  std::vector<char*> argv;
  std::string program = "hp/converter";
  argv.push_back(program.data());
  std::vector<std::string> copies = args;
  for (std::string& arg : copies) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDWR);
    const int out =
        log.empty() ? null_fd
                    : ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(null_fd, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (in_child) in_child();
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid`; its exit code, or 128 + the signal that ended it.
inline int Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// Runs the converter to its end; the exit code and what it printed.
struct Outcome {
  int exit_code = -1;
  std::string output;
};
inline Outcome RunConverter(const std::vector<std::string>& args,
                            const std::string& log,
                            const std::function<void()>& in_child = {}) {
  Outcome run;
  run.exit_code = Wait(StartConverter(args, log, in_child));
  std::string bytes;
  if (FILE* file = std::fopen(log.c_str(), "rb")) {
    char buffer[4096];
    size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0)
      bytes.append(buffer, got);
    std::fclose(file);
  }
  run.output = bytes;
  return run;
}

// The SHA-256 of a file, or "missing".
inline std::string Digest(const std::string& path) {
  if (!fs::exists(path)) return "missing";
  absl::StatusOr<std::string> digest = Sha256FileHex(path);
  return digest.ok() ? *digest : "unreadable";
}

// True when both files exist and hold the same bytes; read in chunks, so a
// 400 MB model costs two reads from the page cache, not a hash.
inline bool SameBytes(const std::string& a, const std::string& b) {
  FILE* first = std::fopen(a.c_str(), "rb");
  FILE* second = std::fopen(b.c_str(), "rb");
  bool same = first != nullptr && second != nullptr;
  std::vector<char> x(1 << 20), y(1 << 20);
  while (same) {
    const size_t got_x = std::fread(x.data(), 1, x.size(), first);
    const size_t got_y = std::fread(y.data(), 1, y.size(), second);
    same =
        got_x == got_y && std::equal(x.begin(), x.begin() + got_x, y.begin());
    if (got_x == 0) break;
  }
  if (first != nullptr) std::fclose(first);
  if (second != nullptr) std::fclose(second);
  return same;
}

// The temporary files of atomic writes under `folder`, recursively.
inline std::vector<std::string> Temporaries(const std::string& folder) {
  std::vector<std::string> found;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(folder, error);
       !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (IsTemporaryName(it->path().filename().string()))
      found.push_back(it->path().string());
  }
  return found;
}

}  // namespace kill_test
}  // namespace hp

#endif  // HP_TESTS_CONVERTER_KILL_SUPPORT_H_
