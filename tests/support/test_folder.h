// A folder of models for batch tests: good ones with their traces, and one
// of each kind of failure a batch must report without stopping.
#ifndef HP_TESTS_SUPPORT_TEST_FOLDER_H_
#define HP_TESTS_SUPPORT_TEST_FOLDER_H_

#include <filesystem>
#include <random>
#include <string>

#include "tests/support/test_files.h"

namespace hp {
namespace testing_batch {

namespace fs = std::filesystem;

// In `folder`: tiny_bert and tiny_resnet (copies of the fixtures, with their
// traces), sub/tiny_gpt (likewise, one level down), truncated.onnx (half of
// tiny_bert), random.onnx (random bytes) and mismatch.onnx (tiny_t5 beside
// tiny_bert's trace: the digest check fails).
inline void MakeMixedFolder(const std::string& folder) {
  using ::hp::test_files::kModels;
  using ::hp::test_files::ReadBytes;
  using ::hp::test_files::WriteBytes;
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

#endif  // HP_TESTS_SUPPORT_TEST_FOLDER_H_
