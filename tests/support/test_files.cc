#include "tests/support/test_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace hp {
namespace test_files {

namespace fs = std::filesystem;

std::string TestFolder() {
  const char* root = std::getenv("TEST_TMPDIR");
  fs::path folder =
      fs::path(root != nullptr ? root : "/tmp") /
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder.string();
}

void CopyExternalDataFixture(const std::string& folder) {
  fs::create_directories(folder);
  for (const char* name : {kExternalDataModel, kExternalDataFile}) {
    WriteBytes(folder + "/" + name,
               ReadBytes(std::string(kExternalData) + "/" + name));
  }
  ASSERT_FALSE(ReadBytes(folder + "/" + kExternalDataFile).empty())
      << kExternalData << ": fixture missing (data = //testdata:external_data)";
}

uint64_t Inode(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_ino)
                                          : 0;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> MakeNonFileOutputs(const std::string& folder) {
  namespace fs = std::filesystem;
  fs::create_directories(folder + "/folder.onnx");
  EXPECT_EQ(::mkfifo((folder + "/pipe.onnx").c_str(), 0644), 0) << folder;
  fs::create_symlink("pipe.onnx", folder + "/pipe_link.onnx");
  fs::create_symlink("/proc/self/fd/1", folder + "/stdout_link.onnx");
  return {"folder.onnx", "pipe.onnx", "pipe_link.onnx", "stdout_link.onnx"};
}

bool NonFileOutputsKept(const std::string& folder) {
  namespace fs = std::filesystem;
  return fs::is_directory(folder + "/folder.onnx") &&
         fs::is_fifo(folder + "/pipe.onnx") &&
         fs::is_symlink(folder + "/pipe_link.onnx") &&
         fs::read_symlink(folder + "/pipe_link.onnx") == "pipe.onnx" &&
         fs::is_symlink(folder + "/stdout_link.onnx") &&
         fs::read_symlink(folder + "/stdout_link.onnx") == "/proc/self/fd/1";
}

std::string DistinctBytes(size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>((i + seed) * 2654435761u >> 24);
  }
  return bytes;
}

std::vector<std::string> ListFolder(const std::string& folder) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> ListTree(const std::string& folder) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry :
       fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) {
      names.push_back(entry.path().lexically_relative(folder).string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> FindModels(const std::string& folder) {
  std::vector<std::string> paths;
  for (const fs::directory_entry& entry :
       fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".onnx") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

long ResidentFilePages() {
  long size = 0, resident = 0, shared = 0;
  FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return -1;
  const int read = std::fscanf(statm, "%ld %ld %ld", &size, &resident, &shared);
  std::fclose(statm);
  return read == 3 ? shared : -1;
}

}  // namespace test_files
}  // namespace hp
