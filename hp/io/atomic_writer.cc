#include "hp/io/atomic_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>     // FICLONE
#include <linux/magic.h>  // PROC_SUPER_MAGIC
#include <stdio.h>        // renameat2
#include <sys/file.h>     // flock
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>  // statfs
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// Appends smaller than this are gathered before one write(2).
constexpr size_t kBufferBytes = size_t{1} << 20;
// WriteBackEarly() starts disk writes in batches of this size: large enough
// for the disk to stream, small enough to overlap with the copying.
constexpr uint64_t kWriteBackBytes = uint64_t{64} << 20;
// Direct writes (O_DIRECT) go out in blocks of kDirectBytes from buffers
// aligned to kDirectAlignment, at offsets that are multiples of it: its
// rule for buffers, offsets and lengths (4096 covers disks of 512-byte and
// of 4 KiB sectors). With three blocks, two are written while the third
// is filled: a disk streams faster with more than one write queued. A file
// reserved smaller than kDirectMinimum goes through the page cache: for a
// few blocks, the buffers would cost more than the copy they save.
constexpr size_t kDirectBytes = size_t{4} << 20;
constexpr size_t kDirectAlignment = 4096;
constexpr size_t kDirectBlocks = 3;
constexpr uint64_t kDirectMinimum = uint64_t{16} << 20;

constexpr absl::string_view kTemporaryMarker = ".hp-tmp-";

std::string TemporaryPathBeside(const std::string& path) {
  std::random_device seed;
  std::mt19937_64 random(seed());
  std::filesystem::path target(path);
  return (target.parent_path() / absl::StrCat(".", target.filename().string(),
                                              kTemporaryMarker,
                                              random() % 1000000000))
      .string();
}

std::string FolderOf(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  return folder.empty() ? "." : folder;
}

// True when `fd` is the file that `path` names now.
bool StillNamedBy(int fd, const std::string& path) {
  struct stat opened, named;
  return ::fstat(fd, &opened) == 0 && ::lstat(path.c_str(), &named) == 0 &&
         opened.st_dev == named.st_dev && opened.st_ino == named.st_ino;
}

// Folders this process has already cleaned: once each is enough, since
// this process's own temporaries are removed by their writers, and a batch
// writing thousands of files into one folder should not list it each time.
std::mutex cleaned_folders_mutex;
std::set<std::string>* cleaned_folders = new std::set<std::string>();

// Writes `size` bytes at `at` with pwrite(2); returns 0 or the errno.
int WriteAt(int fd, const char* bytes, size_t size, uint64_t at) {
  while (size > 0) {
    const ssize_t wrote = ::pwrite(fd, bytes, size, static_cast<off_t>(at));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return errno;
    if (wrote == 0) return EIO;
    bytes += wrote;
    size -= static_cast<size_t>(wrote);
    at += static_cast<uint64_t>(wrote);
  }
  return 0;
}

// Whether `folder` (empty: the working folder) is on procfs.
bool OnProc(const std::filesystem::path& folder) {
  struct statfs info;
  return ::statfs(folder.empty() ? "." : folder.c_str(), &info) == 0 &&
         info.f_type == PROC_SUPER_MAGIC;
}

// True when `path` lies in /proc, or is a symbolic link (or a chain of
// them) into it, as /dev/stdout is (/proc/self/fd/1): such a name stands
// for a process's open file, which a rename must not replace, even where
// that file is a regular one (a redirected stdout).
bool NamesAProcessFile(const std::string& path) {
  std::filesystem::path at(path);
  if (OnProc(at.parent_path())) return true;
  for (int hop = 0; hop < 40; ++hop) {
    struct stat info;
    if (::lstat(at.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) break;
    std::error_code error;
    const std::filesystem::path target =
        std::filesystem::read_symlink(at, error);
    if (error) break;
    at = target.is_absolute() ? target : at.parent_path() / target;
    if (OnProc(at.parent_path())) return true;
  }
  return false;
}

}  // namespace

bool IsTemporaryName(absl::string_view name) {
  if (name.size() < 2 || name[0] != '.') return false;
  const size_t marker = name.rfind(kTemporaryMarker);
  if (marker == absl::string_view::npos || marker < 2) return false;
  const absl::string_view digits =
      name.substr(marker + kTemporaryMarker.size());
  if (digits.empty()) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int RemoveStaleTemporaries(const std::string& folder) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return 0;
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    if (IsTemporaryName(entry->d_name)) names.push_back(entry->d_name);
  }
  ::closedir(dir);
  int removed = 0;
  for (const std::string& name : names) {
    const std::string path = (std::filesystem::path(folder) / name).string();
    FileDescriptor fd(
        ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) continue;
    struct stat info;
    if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    // A live writer holds the lock from before its file could be seen
    // unlocked by anyone who matters (see Create); a dead one holds nothing.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    // Unlink while holding the lock, and only the file that was locked.
    if (StillNamedBy(fd.get(), path) && ::unlink(path.c_str()) == 0) ++removed;
  }
  return removed;
}

namespace {

void RemoveStaleTemporariesOnce(const std::string& folder) {
  {
    std::lock_guard<std::mutex> lock(cleaned_folders_mutex);
    if (!cleaned_folders->insert(folder).second) return;
  }
  RemoveStaleTemporaries(folder);
}

}  // namespace

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  std::string message =
      absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM)
    return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

absl::StatusOr<OpenedFile> OpenRegularFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer before the
  // check below could refuse it. Reads of a regular file ignore the flag.
  OpenedFile file;
  file.fd =
      FileDescriptor(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (file.fd.get() < 0) return ErrnoError("cannot open", path);
  struct stat info;
  if (::fstat(file.fd.get(), &info) != 0)
    return ErrnoError("cannot stat", path);
  if (S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory, not a file"));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is not a regular file"));
  }
  file.size = static_cast<uint64_t>(info.st_size);
  return file;
}

uint64_t PageBytes() {
  static const uint64_t bytes = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return bytes;
}

int64_t ReadAt(int fd, void* buffer, uint64_t length, uint64_t offset) {
  char* const into = static_cast<char*>(buffer);
  uint64_t done = 0;
  while (done < length) {
    const ssize_t got = ::pread(fd, into + done, length - done,
                                static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return static_cast<int64_t>(done);
}

const uint8_t* RangeCopy::Read(int fd, uint64_t offset, uint64_t length) {
  if (buffer_ == nullptr || length > capacity_) {
    constexpr uint64_t kHugePage = uint64_t{2} << 20;
    capacity_ = (length + kHugePage - 1) / kHugePage * kHugePage;
    buffer_.reset(new uint8_t[capacity_]);
  }
  if (ReadAt(fd, buffer_.get(), length, offset) !=
      static_cast<int64_t>(length)) {
    return nullptr;
  }
  return buffer_.get();
}

void SyncFolderOf(const std::string& path) {
  const std::string folder = FolderOf(path);
  FileDescriptor dir(
      ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
}

absl::Status CheckOutputPath(const std::string& path) {
  if (NamesAProcessFile(path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        ": names a process's open file (a link into /proc, such as "
        "/dev/stdout); an output is renamed into place, which would replace "
        "the link: give the path of a file"));
  }
  struct stat info;
  // stat follows a link: one to a device is refused like the device.
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": is a directory; give the path of the output file"));
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path,
          ": is not a regular file (a device, pipe or socket); an output "
          "is written beside it and renamed into its place, which would "
          "replace it: give the path of a file"));
    }
  } else if (errno != ENOENT && errno != ENOTDIR) {
    return ErrnoError("cannot create output", path);
  }
  // Nothing there yet: its folder must be one that takes new files.
  const std::string folder = FolderOf(path);
  const std::string in_folder =
      absl::StrCat("cannot create output: folder ", folder);
  if (::stat(folder.c_str(), &info) != 0) return ErrnoError(in_folder, path);
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": ", in_folder, " is not a folder"));
  }
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return ErrnoError(in_folder, path);
  }
  return absl::OkStatus();
}

absl::StatusOr<AtomicFileWriter> AtomicFileWriter::Create(
    const std::string& path) {
  HP_RETURN_IF_ERROR(CheckOutputPath(path));
  RemoveStaleTemporariesOnce(FolderOf(path));
  for (;;) {
    std::string temporary = TemporaryPathBeside(path);
    // Registered before the file is made, so that a stop signal that comes
    // while it is made removes it too. A random name that is taken already
    // fails the open below and is released at once.
    RemovedIfStopped removed_if_stopped(temporary);
    FileDescriptor fd(::open(temporary.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoError("cannot create output", path);
    // The lock marks the file as in use for as long as this process lives
    // (the kernel drops it when the process dies, also by SIGKILL). Between
    // open and flock another process's cleanup may take the lock and remove
    // the file; then the name no longer leads to this file, and a new one is
    // made. Cleanup unlinks only while it holds the lock, so once this
    // flock returns and the name still leads here, the file is safe.
    int locked;
    do {
      locked = ::flock(fd.get(), LOCK_EX);
    } while (locked != 0 && errno == EINTR);
    // Where the file system has no locks (locked != 0), no cleanup can take
    // one either, and so none removes this file: it is as safe unlocked.
    if (!StillNamedBy(fd.get(), temporary)) continue;
    AtomicFileWriter writer(path, std::move(temporary), std::move(fd));
    writer.removed_if_stopped_ = std::move(removed_if_stopped);
    return writer;
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string temporary,
                                   FileDescriptor fd)
    : path_(std::move(path)),
      temporary_(std::move(temporary)),
      fd_(std::move(fd)) {
  buffer_.reserve(kBufferBytes);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      temporary_(std::move(other.temporary_)),
      fd_(std::move(other.fd_)),
      buffer_(std::move(other.buffer_)),
      bytes_written_(other.bytes_written_),
      synced_(other.synced_),
      write_back_early_(other.write_back_early_),
      in_file_(other.in_file_),
      submitted_(other.submitted_),
      reserved_(other.reserved_),
      blocks_(std::move(other.blocks_)),
      filling_(other.filling_),
      committed_(other.committed_),
      removed_if_stopped_(std::move(other.removed_if_stopped_)) {
  other.temporary_.clear();
}

AtomicFileWriter::~AtomicFileWriter() {
  WaitForDirectWrites();
  if (committed_ || temporary_.empty()) return;
  // Unlink before closing: closing drops the lock that keeps cleanup away.
  ::unlink(temporary_.c_str());
  fd_ = FileDescriptor();
}

absl::Status AtomicFileWriter::Fail(absl::string_view what) {
  absl::Status status = ErrnoError(what, path_);
  WaitForDirectWrites();
  blocks_.clear();
  ::unlink(temporary_.c_str());
  removed_if_stopped_.Release();
  fd_ = FileDescriptor();
  temporary_.clear();
  return status;
}

absl::Status AtomicFileWriter::FailWrite(int error) {
  errno = error;
  return Fail("cannot write");
}

absl::Status AtomicFileWriter::WriteAll(const char* data, size_t size) {
  if (fd_.get() < 0)
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": output already failed or committed"));
  if (size > 0) StartDirectIfLarge();
  while (!blocks_.empty() && size > 0) {
    DirectBlock& block = FillingBlock();
    const size_t taken = std::min(size, kDirectBytes - block.size);
    std::memcpy(block.bytes.get() + block.size, data, taken);
    block.size += taken;
    data += taken;
    size -= taken;
    if (block.size == kDirectBytes) HP_RETURN_IF_ERROR(SubmitBlock());
  }
  while (size > 0) {
    const ssize_t wrote = ::write(fd_.get(), data, size);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return Fail("cannot write");
    }
    data += wrote;
    size -= static_cast<size_t>(wrote);
    Wrote(static_cast<uint64_t>(wrote));
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Reserve(uint64_t bytes) {
  if (fd_.get() < 0 || bytes == 0) return absl::OkStatus();
  reserved_ = std::max(reserved_, bytes);
  if (::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, 0,
                  static_cast<off_t>(bytes)) == 0) {
    return absl::OkStatus();
  }
  if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
    return absl::OkStatus();
  }
  return Fail(absl::StrCat("cannot reserve ", bytes, " bytes of disk space"));
}

void AtomicFileWriter::DirectBufferDelete::operator()(char* bytes) const {
  ::operator delete (bytes, std::align_val_t{kDirectAlignment});
}

void AtomicFileWriter::StartDirectIfLarge() {
  if (!write_back_early_ || !blocks_.empty() || in_file_ != 0 ||
      reserved_ < kDirectMinimum || fd_.get() < 0) {
    return;
  }
  // Past the page cache, the kernel neither copies the bytes into pages
  // nor has to find pages for them, which on a virtual machine whose
  // guest gave its free memory back to the host costs more than the copy
  // (docs/benchmarks.md). Refused where the file system has no direct
  // writes (tmpfs before Linux 6.6, some FUSE file systems): then the page
  // cache it is, its writes started every 64 MiB.
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags | O_DIRECT) != 0) return;
  blocks_.resize(kDirectBlocks);
  filling_ = 0;
}

AtomicFileWriter::DirectBlock& AtomicFileWriter::FillingBlock() {
  DirectBlock& block = blocks_[filling_];
  if (block.bytes == nullptr) {
    block.bytes.reset(static_cast<char*>(
        ::operator new (kDirectBytes, std::align_val_t{kDirectAlignment})));
  }
  return block;
}

absl::Status AtomicFileWriter::SubmitBlock() {
  DirectBlock& block = blocks_[filling_];
  block.at = in_file_;
  in_file_ += block.size;
  block.written =
      std::async(std::launch::async,
                 [fd = fd_.get(), bytes = block.bytes.get(), size = block.size,
                  at = block.at] { return WriteAt(fd, bytes, size, at); });
  filling_ = (filling_ + 1) % blocks_.size();
  DirectBlock& next = blocks_[filling_];
  if (!next.written.valid()) return absl::OkStatus();
  const int error = next.written.get();
  if (error == EINVAL) {
    // Refused (an alignment this disk does not take): put the future back,
    // answered, for LeaveDirect to write the block another way.
    std::promise<int> refused;
    refused.set_value(error);
    next.written = refused.get_future();
    return LeaveDirect();
  }
  if (error != 0) return FailWrite(error);
  next.size = 0;
  return absl::OkStatus();
}

void AtomicFileWriter::WaitForDirectWrites() {
  for (DirectBlock& block : blocks_) {
    if (block.written.valid()) block.written.wait();
  }
}

absl::Status AtomicFileWriter::LeaveDirect() {
  if (blocks_.empty()) return absl::OkStatus();
  std::vector<DirectBlock> blocks = std::move(blocks_);
  blocks_.clear();
  // None when the block to fill next still held a refused write.
  DirectBlock* const filling =
      blocks[filling_].written.valid() ? nullptr : &blocks[filling_];
  int failed = 0;
  for (DirectBlock& block : blocks) {
    if (!block.written.valid()) continue;
    const int error = block.written.get();
    if (error == 0) {
      block.size = 0;
    } else if (error != EINVAL) {
      failed = error;
    }
  }
  if (failed != 0) return FailWrite(failed);
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags & ~O_DIRECT) != 0)
    return Fail("cannot end direct writes to");
  // The blocks a direct write refused, then the one being filled.
  for (DirectBlock& block : blocks) {
    if (&block == filling || block.size == 0) continue;
    if (const int error =
            WriteAt(fd_.get(), block.bytes.get(), block.size, block.at)) {
      return FailWrite(error);
    }
  }
  if (filling != nullptr && filling->size > 0) {
    if (const int error =
            WriteAt(fd_.get(), filling->bytes.get(), filling->size, in_file_)) {
      return FailWrite(error);
    }
    in_file_ += filling->size;
  }
  if (::lseek(fd_.get(), static_cast<off_t>(in_file_), SEEK_SET) < 0)
    return Fail("cannot seek");
  submitted_ = in_file_;
  return absl::OkStatus();
}

void AtomicFileWriter::Wrote(uint64_t bytes) {
  in_file_ += bytes;
  if (!write_back_early_ || in_file_ - submitted_ < kWriteBackBytes) return;
  // Only starts the writes: a failure shows up at the fsync, which checks.
  ::sync_file_range(fd_.get(), static_cast<off64_t>(submitted_),
                    static_cast<off64_t>(in_file_ - submitted_),
                    SYNC_FILE_RANGE_WRITE);
  submitted_ = in_file_;
}

absl::Status AtomicFileWriter::Flush() {
  absl::Status status = WriteAll(buffer_.data(), buffer_.size());
  buffer_.clear();
  return status;
}

absl::Status AtomicFileWriter::FlushAll() {
  HP_RETURN_IF_ERROR(Flush());
  return LeaveDirect();
}

absl::Status AtomicFileWriter::Append(absl::string_view bytes) {
  synced_ = false;
  bytes_written_ += bytes.size();
  if (buffer_.size() + bytes.size() <= kBufferBytes) {
    buffer_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  absl::Status flushed = Flush();
  if (!flushed.ok()) return flushed;
  if (bytes.size() >= kBufferBytes) return WriteAll(bytes.data(), bytes.size());
  buffer_.append(bytes.data(), bytes.size());
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::AppendFileRange(int fd, uint64_t offset,
                                               uint64_t length,
                                               const std::string& source) {
  absl::Status flushed = Flush();
  if (!flushed.ok()) return flushed;
  synced_ = false;
  bytes_written_ += length;
  auto shrank = [&] {
    return absl::DataLossError(
        absl::StrCat(source, ": the file shrank while it was being copied"));
  };
  // In-kernel copy: the bytes never enter this process. While writes go
  // direct, a range under 64 MiB is read into their blocks instead; a
  // larger one ends them, since the kernel's copy, written back every
  // 64 MiB, reached the disk sooner than the same bytes read into the
  // blocks (1 GB of weights: docs/benchmarks.md).
  loff_t in_offset = static_cast<loff_t>(offset);
  if (length > 0) StartDirectIfLarge();
  if (!blocks_.empty() && length >= kWriteBackBytes)
    HP_RETURN_IF_ERROR(LeaveDirect());
  // The kernel's copy moves whole pages where the two offsets agree within
  // a page. Where they do not (the tags before the weights moved them),
  // each page written takes pieces of two, and reading through a buffer
  // was faster: 1 GB of weights 1,384 bytes out of step, 0.44 s against
  // 0.37 s (docs/benchmarks.md).
  const bool in_step =
      (static_cast<uint64_t>(in_offset) - in_file_) % PageBytes() == 0;
  while (blocks_.empty() && in_step && length > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(
        length, write_back_early_ ? kWriteBackBytes : uint64_t{1} << 30));
    const ssize_t copied =
        ::copy_file_range(fd, &in_offset, fd_.get(), nullptr, chunk, 0);
    if (copied < 0) {
      if (errno == EINTR) continue;
      // Not supported between these files (other file systems, old
      // kernels): fall back to sendfile, then read + write below.
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
          errno == EOPNOTSUPP || errno == EBADF) {
        break;
      }
      return Fail(absl::StrCat("cannot copy from ", source));
    }
    if (copied == 0) return shrank();
    length -= static_cast<uint64_t>(copied);
    Wrote(static_cast<uint64_t>(copied));
  }
  // Between file systems, where copy_file_range refuses (Linux 5.19 on):
  // sendfile, still in the kernel.
  while (blocks_.empty() && in_step && length > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(
        length, write_back_early_ ? kWriteBackBytes : uint64_t{1} << 30));
    off_t sent_offset = static_cast<off_t>(in_offset);
    const ssize_t sent = ::sendfile(fd_.get(), fd, &sent_offset, chunk);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
      return Fail(absl::StrCat("cannot copy from ", source));
    }
    if (sent == 0) return shrank();
    in_offset = static_cast<loff_t>(sent_offset);
    length -= static_cast<uint64_t>(sent);
    Wrote(static_cast<uint64_t>(sent));
  }
  // Direct writes: read straight into the block being filled.
  while (!blocks_.empty() && length > 0) {
    DirectBlock& block = FillingBlock();
    const uint64_t want = std::min<uint64_t>(length, kDirectBytes - block.size);
    const int64_t got =
        ReadAt(fd, block.bytes.get() + block.size, want, in_offset);
    if (got < 0) return ErrnoError("cannot read", source);
    block.size += static_cast<size_t>(got);
    if (static_cast<uint64_t>(got) < want) return shrank();
    in_offset += got;
    length -= static_cast<uint64_t>(got);
    if (block.size == kDirectBytes) HP_RETURN_IF_ERROR(SubmitBlock());
  }
  // Left unfilled: every byte of it is read before it is written.
  const size_t chunk_bytes =
      static_cast<size_t>(std::min<uint64_t>(length, kBufferBytes));
  std::unique_ptr<char[]> chunk(length > 0 ? new char[chunk_bytes] : nullptr);
  while (length > 0) {
    const uint64_t want = std::min<uint64_t>(length, chunk_bytes);
    const int64_t got = ReadAt(fd, chunk.get(), want, in_offset);
    if (got < 0) return ErrnoError("cannot read", source);
    absl::Status wrote = WriteAll(chunk.get(), static_cast<size_t>(got));
    if (!wrote.ok()) return wrote;
    if (static_cast<uint64_t>(got) < want) return shrank();
    in_offset += got;
    length -= static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::AppendWholeFile(int fd, uint64_t size,
                                               const std::string& source) {
  if (fd_.get() >= 0 && bytes_written_ == 0 && blocks_.empty() &&
      ::ioctl(fd_.get(), FICLONE, fd) == 0) {
    // The clone is the file's whole content; it may still be appended to.
    if (::lseek(fd_.get(), 0, SEEK_END) < 0) return Fail("cannot seek");
    synced_ = false;
    bytes_written_ = size;
    in_file_ = submitted_ = size;
    return absl::OkStatus();
  }
  // Not on this file system, or between two of them: a copy.
  absl::Status reserved = Reserve(size);
  if (!reserved.ok()) return reserved;
  return AppendFileRange(fd, 0, size, source);
}

absl::Status AtomicFileWriter::Sync() {
  absl::Status flushed = FlushAll();
  if (!flushed.ok()) return flushed;
  if (::fsync(fd_.get()) != 0) return Fail("cannot fsync");
  synced_ = true;
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit(Durability durability) {
  return CommitAs(durability, /*replace=*/true);
}

absl::Status AtomicFileWriter::CommitWithoutReplacing(Durability durability) {
  return CommitAs(durability, /*replace=*/false);
}

absl::Status AtomicFileWriter::Rename(bool replace) {
  if (replace) {
    if (::rename(temporary_.c_str(), path_.c_str()) == 0) {
      return absl::OkStatus();
    }
    return Fail("cannot rename temporary file onto");
  }
  auto exists = [&] {
    ::unlink(temporary_.c_str());
    removed_if_stopped_.Release();
    temporary_.clear();
    return absl::AlreadyExistsError(absl::StrCat(path_, ": already exists"));
  };
  if (::renameat2(AT_FDCWD, temporary_.c_str(), AT_FDCWD, path_.c_str(),
                  RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST) return exists();
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
    return Fail("cannot rename temporary file onto");
  }
  // A file system without RENAME_NOREPLACE: a link fails as well when the
  // target exists.
  if (::link(temporary_.c_str(), path_.c_str()) != 0) {
    if (errno == EEXIST) return exists();
    return Fail("cannot link temporary file onto");
  }
  ::unlink(temporary_.c_str());
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::CommitAs(Durability durability, bool replace) {
  absl::Status flushed = FlushAll();
  if (!flushed.ok()) return flushed;
  const bool sync = durability == Durability::kFsync;
  if (sync && !synced_ && ::fsync(fd_.get()) != 0) return Fail("cannot fsync");
  // The lock belongs to the open file, not to one descriptor: a duplicate
  // keeps it, and with it cleanup away, until the rename is done, while the
  // close below still reports a late write error before the rename.
  const FileDescriptor lock_holder(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (lock_holder.get() < 0) return Fail("cannot duplicate descriptor for");
  if (::close(fd_.release()) != 0) return Fail("cannot close");
  absl::Status renamed = Rename(replace);
  if (!renamed.ok()) return renamed;
  committed_ = true;
  removed_if_stopped_.Release();
  // Make the rename itself durable.
  if (sync) SyncFolderOf(path_);
  return absl::OkStatus();
}

}  // namespace hp
