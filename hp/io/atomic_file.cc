#include "hp/io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "hp/io/atomic_writer.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  // OpenRegularFile refuses a FIFO without waiting for a writer.
  HP_ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  std::string bytes;
  bytes.resize(static_cast<size_t>(file.size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(file.fd.get(), &bytes[done], bytes.size() - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path);
    }
    if (got == 0) break;  // The file shrank while we read it.
    done += static_cast<size_t>(got);
  }
  bytes.resize(done);
  return bytes;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes) {
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Create(path));
  HP_RETURN_IF_ERROR(writer.Append(bytes));
  return writer.Commit();
}

bool SameFile(const std::string& a, const std::string& b) {
  std::error_code error;
  return std::filesystem::equivalent(a, b, error) && !error;
}

}  // namespace hp
