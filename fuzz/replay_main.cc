// Replays a fuzz target's inputs once each, deterministically, without
// libFuzzer: the test suite's run of the committed seed corpus and
// regression reproducers (docs/reliability.md, "Fuzzing").
//
//   replay CORPUS_DIR [REGRESSIONS_DIR...]
//
// The corpus folder must hold at least one input; a regressions folder may
// be missing (a target without findings has none). Files whose names start
// with "." are skipped. A crash or sanitizer report ends the process and
// fails the test; a reader's error Status is a normal outcome.
#include <dirent.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The regular files of `dir`, sorted; false when it cannot be opened.
bool ListInputs(const std::string& dir, std::vector<std::string>* paths) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return false;
  while (dirent* entry = readdir(handle)) {
    if (entry->d_name[0] == '.') continue;
    paths->push_back(dir + "/" + entry->d_name);
  }
  closedir(handle);
  std::sort(paths->begin(), paths->end());
  return true;
}

// Runs the target on one file's bytes; false when it cannot be read.
bool Replay(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  if (in.bad()) return false;
  // A copy of exactly the input's size, as libFuzzer hands it over, so that
  // AddressSanitizer sees a read past the end.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  uint8_t* data = input.empty() ? nullptr : input.data();
  LLVMFuzzerTestOneInput(data, input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [REGRESSIONS_DIR...]\n",
                 argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::string dir = argv[i];
    std::vector<std::string> paths;
    if (!ListInputs(dir, &paths)) {
      if (i == 1) {
        std::fprintf(stderr, "%s: cannot read the corpus folder\n",
                     dir.c_str());
        return 1;
      }
      std::printf("%s: none (no findings kept)\n", dir.c_str());
      continue;
    }
    if (i == 1 && paths.empty()) {
      std::fprintf(stderr, "%s: the corpus holds no input\n", dir.c_str());
      return 1;
    }
    for (const std::string& path : paths) {
      if (!Replay(path)) {
        std::fprintf(stderr, "%s: cannot read\n", path.c_str());
        return 1;
      }
    }
    std::printf("%s: replayed %zu inputs\n", dir.c_str(), paths.size());
  }
  return 0;
}
