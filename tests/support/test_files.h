// Files for tests: a fresh folder per test, whole-file reads and writes, the
// fixtures' paths, and folder listings.
#ifndef HP_TESTS_SUPPORT_TEST_FILES_H_
#define HP_TESTS_SUPPORT_TEST_FILES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hp {
namespace test_files {

// The fixture models and traces (//testdata:models), relative to the
// runfiles root of workspace `hp`, where tests run.
inline constexpr char kModels[] = "testdata/models";

// mlp.onnx and its side file mlp.onnx.data (//testdata:external_data): a
// model whose weights are ONNX external data.
inline constexpr char kExternalData[] = "testdata/external_data";
inline constexpr char kExternalDataModel[] = "mlp.onnx";
inline constexpr char kExternalDataFile[] = "mlp.onnx.data";

// Copies mlp.onnx and mlp.onnx.data into `folder` (made if missing), as
// files of their own: runfiles are links into the source tree, which hard
// links made by the code under test must not reach.
void CopyExternalDataFixture(const std::string& folder);

// The file's inode number; 0 when it cannot be read.
uint64_t Inode(const std::string& path);

// Debian's libonnx-testdata (outside Bazel's view).
inline constexpr char kLibonnxTestdata[] = "/usr/share/libonnx-testdata/data";

// A fresh, empty folder for the running test under Bazel's TEST_TMPDIR
// (/tmp outside Bazel), named after the test.
std::string TestFolder();

// The file's bytes; "" when it cannot be read.
std::string ReadBytes(const std::string& path);

// Replaces the file with `bytes`; a failed write fails the test.
void WriteBytes(const std::string& path, const std::string& bytes);

// Makes in `folder` (made if missing) what an output's rename must not
// replace: a folder (folder.onnx), a pipe (pipe.onnx), a link to the pipe
// (pipe_link.onnx) and a link into /proc as /dev/stdout is (stdout_link.onnx,
// to the stdout of the process that opens it). Returns their names, sorted.
std::vector<std::string> MakeNonFileOutputs(const std::string& folder);

// Whether what MakeNonFileOutputs made in `folder` is all still there, each
// of its kind.
bool NonFileOutputsKept(const std::string& folder);

// `size` bytes that differ from position to position, so that bytes
// written at the wrong place show; the same for the same size and seed.
std::string DistinctBytes(size_t size, unsigned seed);

// The names in `folder` (not below), sorted.
std::vector<std::string> ListFolder(const std::string& folder);

// Every regular file below `folder`, relative to it, sorted.
std::vector<std::string> ListTree(const std::string& folder);

// Every *.onnx file below `folder`, as paths that start with it, sorted.
std::vector<std::string> FindModels(const std::string& folder);

// The process's resident file-backed pages (statm's "shared"), in pages;
// -1 where /proc/self/statm cannot be read.
long ResidentFilePages();

}  // namespace test_files
}  // namespace hp

#endif  // HP_TESTS_SUPPORT_TEST_FILES_H_
