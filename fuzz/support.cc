#include "fuzz/support.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "google/protobuf/stubs/logging.h"

namespace hp::fuzz {
namespace {

std::string* scratch_dir = nullptr;

// Removes the folder's files (targets write no subfolders) and the folder.
void RemoveScratchDir() {
  if (scratch_dir == nullptr) return;
  if (DIR* dir = opendir(scratch_dir->c_str())) {
    std::vector<std::string> names;
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
    for (const std::string& name : names) {
      unlink((*scratch_dir + "/" + name).c_str());
    }
  }
  rmdir(scratch_dir->c_str());
}

}  // namespace

const std::string& ScratchDir() {
  if (scratch_dir == nullptr) {
    const char* base = std::getenv("TEST_TMPDIR");
    if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
    if (base == nullptr || *base == '\0') base = "/tmp";
    std::string pattern = std::string(base) + "/hp_fuzz.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror(("hp fuzz: cannot make a scratch folder " + pattern).c_str());
      std::abort();
    }
    scratch_dir = new std::string(pattern);
    std::atexit(RemoveScratchDir);
  }
  return *scratch_dir;
}

std::string WriteScratchFile(const std::string& name, const uint8_t* data,
                             size_t size) {
  std::string path = ScratchDir() + "/" + name;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(("hp fuzz: cannot write " + path).c_str());
    std::abort();
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) {
      std::perror(("hp fuzz: cannot write " + path).c_str());
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  return path;
}

void QuietProtobufLogs() {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
}

size_t Touch(absl::string_view view) {
  size_t sum = 0;
  for (char c : view) sum += static_cast<unsigned char>(c);
  return sum;
}

size_t TouchNodes(const NodeList& nodes) {
  size_t sum = 0;
  for (const NodeRef& node : nodes) {
    sum += Touch(node.name) + Touch(node.op_type) + Touch(node.domain) +
           Touch(node.graph_path);
    for (absl::string_view input : node.inputs) sum += Touch(input);
    for (absl::string_view output : node.outputs) sum += Touch(output);
    for (const MetadataView& entry : node.metadata) {
      sum += Touch(entry.key) + Touch(entry.value);
    }
  }
  return sum;
}

std::optional<FilePair> SplitFilePair(const uint8_t* data, size_t size) {
  constexpr size_t kHeaderBytes = 5;
  if (size < kHeaderBytes) return std::nullopt;
  uint32_t first_bytes = 0;
  for (int i = 0; i < 4; ++i) {
    first_bytes |= static_cast<uint32_t>(data[1 + i]) << (8 * i);
  }
  FilePair pair;
  pair.flags = data[0];
  const size_t rest = size - kHeaderBytes;
  pair.first = data + kHeaderBytes;
  pair.first_size = std::min<size_t>(first_bytes, rest);
  pair.second = pair.first + pair.first_size;
  pair.second_size = rest - pair.first_size;
  return pair;
}

}  // namespace hp::fuzz
