// A file truncated while it is mapped and read: no SIGBUS crash, but an
// error naming the file (docs/reliability.md, "Faults").
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/model_splice.h"
#include "hp/io/wire_format.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::kModels;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ResidentFilePages;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TruncatedInputTest, ReadsPastTheNewEndGiveZerosAndAreReported) {
  const std::string path = TestFolder() + "/three_pages.bin";
  const size_t page = PageBytes();
  WriteBytes(path, std::string(3 * page, 'x'));
  absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  FileMapping mapping(file->fd.get(), file->size);
  ASSERT_NE(mapping.data(), nullptr);
  EXPECT_EQ(mapping.data()[2 * page], 'x');
  EXPECT_TRUE(
      CheckFileNotShrunk(file->fd.get(), file->size, path, &mapping).ok());
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(page)), 0);
  EXPECT_EQ(mapping.data()[0], 'x');       // still in the file
  EXPECT_EQ(mapping.data()[2 * page], 0);  // past its end: no SIGBUS
  EXPECT_EQ(mapping.data()[3 * page - 1], 0);
  EXPECT_TRUE(mapping.faulted());
  const absl::Status status =
      CheckFileNotShrunk(file->fd.get(), file->size, path, &mapping);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("truncated while it was read"));
}

// Writes `pages` pages of a byte pattern that differs from page to page to
// `path`, and returns them.
std::string WritePatternFile(const std::string& path, size_t pages) {
  const size_t page = PageBytes();
  std::string bytes(pages * page, ' ');
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i % 251);
  WriteBytes(path, bytes);
  return bytes;
}

// Given back, pages leave the process and read the same bytes again; a
// truncation after that is still answered with zeros and reported.
TEST(TruncatedInputTest, ReleasedPagesReadTheSameBytesAgain) {
  const std::string path = TestFolder() + "/released.bin";
  const size_t page = PageBytes();
  constexpr size_t kPages = 512;
  const std::string bytes = WritePatternFile(path, kPages);
  absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  FileMapping mapping(file->fd.get(), file->size);
  ASSERT_NE(mapping.data(), nullptr);
  auto matches = [&] {
    return std::equal(bytes.begin(), bytes.end(),
                      reinterpret_cast<const char*>(mapping.data()));
  };
  ASSERT_TRUE(matches());
  const long touched = ResidentFilePages();
  // Not a whole page at either end: those two stay.
  mapping.Release(page / 2, file->size - page / 2);
  const long released = ResidentFilePages();
  if (touched >= 0 && released >= 0) {
    // Code pages the calls fault in meanwhile count too: most, not all.
    EXPECT_LE(released, touched - static_cast<long>(kPages) / 2);
  }
  EXPECT_TRUE(matches());
  mapping.Release(0, file->size);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(page)), 0);
  EXPECT_EQ(mapping.data()[page - 1], bytes[page - 1]);
  EXPECT_EQ(mapping.data()[2 * page], 0);
  EXPECT_TRUE(mapping.faulted());
}

// Touched, pages are mapped at once; touched on another thread (as
// NodeReadAhead does) past a truncation, they are zeros and reported, as a
// read would be.
TEST(TruncatedInputTest, TouchedPagesAreMappedAndATruncationIsReported) {
  const std::string path = TestFolder() + "/touched.bin";
  const size_t page = PageBytes();
  constexpr size_t kPages = 512;
  const std::string bytes = WritePatternFile(path, kPages);
  absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  FileMapping mapping(file->fd.get(), file->size);
  ASSERT_NE(mapping.data(), nullptr);
  mapping.Release(0, file->size);
  const long released = ResidentFilePages();
  mapping.Touch(0, file->size);
  const long touched = ResidentFilePages();
  if (released >= 0 && touched >= 0) {
    EXPECT_GE(touched, released + static_cast<long>(kPages) / 2);
  }
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(),
                         reinterpret_cast<const char*>(mapping.data())));
  EXPECT_FALSE(mapping.faulted());

  mapping.Release(0, file->size);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(page)), 0);
  std::thread toucher([&] { mapping.Touch(0, file->size); });
  toucher.join();
  EXPECT_TRUE(mapping.faulted());
  EXPECT_EQ(mapping.data()[page - 1], bytes[page - 1]);
  EXPECT_EQ(mapping.data()[2 * page], 0);
  const absl::Status status =
      CheckFileNotShrunk(file->fd.get(), file->size, path, &mapping);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
}

// Given back on a timer, pages leave the process on their own and read the
// same bytes again, while the thread runs and after it stopped.
TEST(TruncatedInputTest, PeriodicReleaseGivesPagesBack) {
  const std::string path = TestFolder() + "/periodic.bin";
  constexpr size_t kPages = 512;
  const std::string bytes = WritePatternFile(path, kPages);
  absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto mapping = std::make_unique<FileMapping>(file->fd.get(), file->size);
  ASSERT_NE(mapping->data(), nullptr);
  auto matches = [&] {
    return std::equal(bytes.begin(), bytes.end(),
                      reinterpret_cast<const char*>(mapping->data()));
  };
  ASSERT_TRUE(matches());
  const long touched = ResidentFilePages();
  mapping->ReleaseEvery(std::chrono::milliseconds(5));
  if (touched >= 0) {
    // Waits for a release (a loaded machine may run the thread late).
    long now = touched;
    for (int i = 0; i < 400 && now > touched - static_cast<long>(kPages) / 2;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      now = ResidentFilePages();
    }
    EXPECT_LE(now, touched - static_cast<long>(kPages) / 2);
  }
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(matches());
  mapping.reset();  // stops the thread before unmapping
}

// Truncated and grown back to its size: the size check cannot see it, the
// mapping's fault can.
TEST(TruncatedInputTest, TruncatedAndRegrownIsStillReported) {
  const std::string path = TestFolder() + "/regrown.bin";
  const size_t page = PageBytes();
  WriteBytes(path, std::string(2 * page, 'x'));
  absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  FileMapping mapping(file->fd.get(), file->size);
  ASSERT_NE(mapping.data(), nullptr);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  EXPECT_EQ(mapping.data()[page], 0);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(2 * page)), 0);
  const absl::Status status =
      CheckFileNotShrunk(file->fd.get(), file->size, path, &mapping);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
}

// The splice path keeps the model mapped between Open and Save (node
// records are copied from the mapping): truncating the model in between
// fails the save, naming the model, and leaves no output.
TEST(TruncatedInputTest, SpliceSaveOfTruncatedModelFailsNamingIt) {
  const std::string folder = TestFolder();
  const std::string model = folder + "/model.onnx";
  fs::copy_file(std::string(kModels) + "/tiny_gpt.onnx", model);
  SpliceOptions options;
  options.read_node_records = true;
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(model, options);
  ASSERT_TRUE(splice.ok()) << splice.status();
  ASSERT_EQ(::truncate(model.c_str(), 100), 0);
  fs::create_directories(folder + "/out");
  const absl::Status saved = splice->Save(folder + "/out/tagged.onnx");
  EXPECT_TRUE(absl::IsDataLoss(saved)) << saved;
  EXPECT_THAT(saved.message(), HasSubstr(model));
  EXPECT_THAT(ListFolder(folder + "/out"), ElementsAre());
}

}  // namespace
}  // namespace hp
