// Whole-file reads and crash-safe writes: a file is either fully written or
// not there at all.
#ifndef HP_IO_ATOMIC_FILE_H_
#define HP_IO_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hp {

// Reads a regular file. Errors name the path (missing, a directory, ...).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `bytes` to a temporary file beside `path`, fsyncs it, renames it
// over `path` and fsyncs the folder. On any error the temporary file is
// removed and `path` is left as it was.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes);

// True when both paths name the same existing file (hard links included).
bool SameFile(const std::string& a, const std::string& b);

}  // namespace hp

#endif  // HP_IO_ATOMIC_FILE_H_
