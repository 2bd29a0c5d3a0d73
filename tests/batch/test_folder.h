// A folder of models for batch tests: good ones with their traces, and one
// of each kind of failure a batch must report without stopping.
#ifndef HP_TESTS_BATCH_TEST_FOLDER_H_
#define HP_TESTS_BATCH_TEST_FOLDER_H_

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace hp {
namespace testing_batch {

namespace fs = std::filesystem;

inline constexpr char kModels[] = "testdata/models";

// A fresh, empty folder for the running test under Bazel's TEST_TMPDIR.
inline std::string TestFolder() {
  const char* root = std::getenv("TEST_TMPDIR");
  fs::path folder =
      fs::path(root != nullptr ? root : "/tmp") /
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder.string();
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every file below `folder`, relative, sorted.
inline std::vector<std::string> ListTree(const std::string& folder) {
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

// In `folder`: tiny_bert and tiny_resnet (copies of the fixtures, with their
// traces), sub/tiny_gpt (likewise, one level down), truncated.onnx (half of
// tiny_bert), random.onnx (random bytes) and mismatch.onnx (tiny_t5 beside
// tiny_bert's trace: the digest check fails).
inline void MakeMixedFolder(const std::string& folder) {
  auto copy = [&](const std::string& from, const std::string& to) {
    fs::create_directories((fs::path(folder) / to).parent_path());
    fs::copy_file(fs::path(kModels) / from, fs::path(folder) / to,
                  fs::copy_options::overwrite_existing);
  };
  for (const char* name : {"tiny_bert", "tiny_resnet"}) {
    copy(std::string(name) + ".onnx", std::string(name) + ".onnx");
    copy(std::string(name) + ".trace.json", std::string(name) + ".trace.json");
  }
  copy("tiny_gpt.onnx", "sub/tiny_gpt.onnx");
  copy("tiny_gpt.trace.json", "sub/tiny_gpt.trace.json");
  const std::string bert = ReadBytes(std::string(kModels) + "/tiny_bert.onnx");
  WriteBytes(folder + "/truncated.onnx", bert.substr(0, bert.size() / 2));
  std::mt19937 random(11);
  std::string noise(4096, '\0');
  for (char& byte : noise) byte = static_cast<char>(random());
  WriteBytes(folder + "/random.onnx", noise);
  copy("tiny_t5.onnx", "mismatch.onnx");
  copy("tiny_bert.trace.json", "mismatch.trace.json");
}

}  // namespace testing_batch
}  // namespace hp

#endif  // HP_TESTS_BATCH_TEST_FOLDER_H_
