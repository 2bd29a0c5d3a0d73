// What fuzz targets share: files for readers that take paths (a folder of
// the process's own, made once, removed when the process exits normally),
// and quiet protobuf logging.
#ifndef HP_FUZZ_SUPPORT_H_
#define HP_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"

namespace hp::fuzz {

// The folder: under $TEST_TMPDIR, else $TMPDIR, else /tmp. Aborts when it
// cannot be made (nothing can be fuzzed then).
const std::string& ScratchDir();

// Writes `size` bytes to ScratchDir()/name, replacing what was there, and
// returns the path. Aborts on a write error.
std::string WriteScratchFile(const std::string& name, const uint8_t* data,
                             size_t size);

// Drops protobuf's log lines (such as "invalid UTF-8 data" for string
// fields, which protobuf reports and then accepts): at tens of thousands of
// inputs a second they would bury libFuzzer's output and slow it down. Call
// once, before the first input; later calls do nothing.
void QuietProtobufLogs();

// An input of two files: one options byte, a 4-byte little-endian length
// of the first file (cut to what is there), the first file, then the
// second (the rest).
struct FilePair {
  uint8_t flags = 0;
  const uint8_t* first = nullptr;
  size_t first_size = 0;
  const uint8_t* second = nullptr;
  size_t second_size = 0;
};
// nullopt when the input is shorter than the 5-byte header.
std::optional<FilePair> SplitFilePair(const uint8_t* data, size_t size);

// Reads every byte a view names, so that AddressSanitizer sees a view past
// its buffer; the sum is for the caller to keep.
size_t Touch(absl::string_view view);
// The same for every view of every node of a list.
size_t TouchNodes(const NodeList& nodes);

}  // namespace hp::fuzz

#endif  // HP_FUZZ_SUPPORT_H_
