// External data past 2 GB: models made by the benchmarks' generator
// (bench/synthetic_models.h), with weights that do not compress, tagged into
// another folder. The side file must be beside the output, linked (the same
// inode) or copied (the same bytes), the input folder unchanged, and the
// output must load: every tensor's bytes lie in the side file beside it,
// and validate reads every node's tag.
//   - 2.2 GB of weights in a side file beside a small graph (link, copy);
//   - a .onnx itself past 2 GB (2.2 GB inline) with 34 MB in a side file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/synthetic_models.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/commands/tag.h"
#include "hp/commands/validate.h"
#include "hp/io/model_splice.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::Inode;
using ::hp::test_files::TestFolder;
using ::testing::HasSubstr;

constexpr uint64_t kPast2Gb = 2200000000;

// Whether two files hold the same bytes, compared 8 MB at a time.
bool SameBytes(const std::string& a, const std::string& b) {
  if (fs::file_size(a) != fs::file_size(b)) return false;
  const int fd_a = ::open(a.c_str(), O_RDONLY);
  const int fd_b = ::open(b.c_str(), O_RDONLY);
  std::vector<char> chunk_a(8 << 20);
  std::vector<char> chunk_b(chunk_a.size());
  bool same = fd_a >= 0 && fd_b >= 0;
  while (same) {
    const ssize_t got_a = ::read(fd_a, chunk_a.data(), chunk_a.size());
    const ssize_t got_b = ::read(fd_b, chunk_b.data(), got_a > 0 ? got_a : 0);
    if (got_a <= 0) break;
    same = got_b == got_a &&
           std::memcmp(chunk_a.data(), chunk_b.data(), got_a) == 0;
  }
  ::close(fd_a);
  ::close(fd_b);
  return same;
}

// Name, size, inode and modification time of every file below `folder`.
std::vector<std::string> Snapshot(const std::string& folder) {
  std::vector<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    struct stat info;
    ::lstat(entry.path().c_str(), &info);
    entries.push_back(absl::StrCat(
        fs::relative(entry.path(), folder).string(), " ", info.st_size, " ",
        info.st_ino, " ", info.st_mtim.tv_sec, ".", info.st_mtim.tv_nsec));
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

std::string ExternalEntry(const onnx::TensorProto& tensor,
                          const std::string& key) {
  for (const auto& entry : tensor.external_data()) {
    if (entry.key() == key) return entry.value();
  }
  return "";
}

std::string Tag(const std::string& model, const std::string& output,
                absl::string_view mode) {
  TagArgs tag;
  tag.model = model;
  tag.output.output = output;
  tag.output.external_data = ExternalDataPolicyFromFlag(mode);
  tag.durability = Durability::kNoFsync;
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status status = RunTag(tag, out, err);
  EXPECT_TRUE(status.ok()) << status << "\n" << err.str();
  return out.str();
}

// The output loads where it is: hp reads it and validates every node's tag
// against the input's trace, and each external tensor's bytes lie in the
// side file beside it. Returns the number of external tensors.
int ExpectLoads(const std::string& output, const std::string& side_file,
                const std::string& trace) {
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(output);
  EXPECT_TRUE(splice.ok()) << splice.status();
  if (!splice.ok()) return 0;
  const uint64_t side_bytes =
      fs::file_size(fs::path(output).parent_path() / side_file);
  int external = 0;
  const onnx::ModelProto headers = splice->SkeletonWithHeaders();
  for (const onnx::TensorProto& tensor : headers.graph().initializer()) {
    if (tensor.data_location() != onnx::TensorProto::EXTERNAL) continue;
    ++external;
    EXPECT_EQ(ExternalEntry(tensor, "location"), side_file) << tensor.name();
    EXPECT_LE(std::stoull(ExternalEntry(tensor, "offset")) +
                  std::stoull(ExternalEntry(tensor, "length")),
              side_bytes)
        << tensor.name();
  }
  InspectArgs inspect;
  inspect.model = output;
  inspect.trace = trace;
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status valid = RunValidate(ValidateArgs{inspect, ""}, out, err);
  EXPECT_TRUE(valid.ok()) << valid << "\n" << err.str();
  EXPECT_THAT(out.str(), HasSubstr(": valid: "));
  return external;
}

TEST(ExternalDataPast2GbTest, SideFileIsLinkedOrCopiedBesideTheOutput) {
  const std::string root = TestFolder();
  fs::create_directories(root + "/in");
  fs::create_directories(root + "/linked");
  fs::create_directories(root + "/copied");
  const std::string model = root + "/in/big.onnx";
  const std::string side = root + "/in/big.onnx.data";
  ASSERT_TRUE(bench::WriteExternalDataModel(model, kPast2Gb).ok());
  ASSERT_GT(fs::file_size(side), uint64_t{1} << 31);
  const std::vector<std::string> before = Snapshot(root + "/in");

  const std::string linked = root + "/linked/big.onnx";
  EXPECT_THAT(Tag(model, linked, "link"),
              HasSubstr(absl::StrCat("external data for ", linked,
                                     ": 1 side file hard-linked")));
  EXPECT_EQ(Inode(root + "/linked/big.onnx.data"), Inode(side));
  const int tensors =
      ExpectLoads(linked, "big.onnx.data", root + "/in/big.trace.json");
  EXPECT_GT(tensors, 200);

  const std::string copied = root + "/copied/big.onnx";
  EXPECT_THAT(Tag(model, copied, "copy"),
              HasSubstr(absl::StrCat("external data for ", copied,
                                     ": 1 side file copied")));
  EXPECT_NE(Inode(root + "/copied/big.onnx.data"), Inode(side));
  EXPECT_TRUE(SameBytes(root + "/copied/big.onnx.data", side));
  EXPECT_EQ(ExpectLoads(copied, "big.onnx.data", root + "/in/big.trace.json"),
            tensors);

  // The link added one to the input's link count, which is not its content.
  std::vector<std::string> after = Snapshot(root + "/in");
  EXPECT_EQ(after, before);
  fs::remove_all(root);
}

TEST(ExternalDataPast2GbTest, AModelFilePast2GbWithExternalDataToo) {
  const std::string root = TestFolder();
  fs::create_directories(root + "/in");
  fs::create_directories(root + "/out");
  const std::string model = root + "/in/huge.onnx";
  const std::string side = root + "/in/huge.onnx.data";
  ASSERT_TRUE(bench::WriteExternalDataModel(model, 1, kPast2Gb).ok());
  ASSERT_GT(fs::file_size(model), uint64_t{1} << 31);
  const std::vector<std::string> before = Snapshot(root + "/in");

  const std::string output = root + "/out/huge.onnx";
  const std::string printed = Tag(model, output, "link");
  // Every node matched to its module by the trace.
  EXPECT_THAT(printed, HasSubstr("nodes (")) << printed;
  EXPECT_THAT(printed, HasSubstr(" 0 root, 0 propagated)")) << printed;
  EXPECT_THAT(printed, HasSubstr(absl::StrCat("external data for ", output,
                                              ": 1 side file hard-linked")));
  EXPECT_EQ(Inode(root + "/out/huge.onnx.data"), Inode(side));
  EXPECT_GT(fs::file_size(output), fs::file_size(model));
  EXPECT_EQ(ExpectLoads(output, "huge.onnx.data", root + "/in/huge.trace.json"),
            4);
  EXPECT_EQ(Snapshot(root + "/in"), before);
  fs::remove_all(root);
}

}  // namespace
}  // namespace hp
