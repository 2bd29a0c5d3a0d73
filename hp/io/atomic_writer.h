// Files at the system-call level. Reading: descriptors that close
// themselves, regular files only, reads at an offset. Writing: streaming atomic
// writes, where bytes and ranges of other files go into a temporary file beside
// the target, which Commit() fsyncs (by default) and renames over it. Until
// then the target is untouched; an abandoned writer leaves nothing.
#ifndef HP_IO_ATOMIC_WRITER_H_
#define HP_IO_ATOMIC_WRITER_H_

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/stop_signals.h"

namespace hp {

// The status for a failed system call: "<path>: <what>: <strerror(errno)>",
// NotFound / PermissionDenied / Internal after errno.
absl::Status ErrnoError(absl::string_view what, const std::string& path);

// Closes a descriptor on every path out of a scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  ~FileDescriptor();
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// A regular file opened for reading, and its size.
struct OpenedFile {
  FileDescriptor fd;
  uint64_t size = 0;
};

// Opens `path` for reading. Errors name the path: missing, unreadable, a
// directory, or not a regular file (a FIFO is refused without waiting for a
// writer).
absl::StatusOr<OpenedFile> OpenRegularFile(const std::string& path);

// Reads `length` bytes of the open file `fd` from `offset` into `buffer`
// (pread(2)), going on after interrupted and short reads: returns how many
// were read, fewer only where the file ends, or -1 with errno set when a
// read failed.
int64_t ReadAt(int fd, void* buffer, uint64_t length, uint64_t offset);

// The size of a memory page (sysconf), the unit of mappings, of their
// advice and of the page cache; looked up once.
uint64_t PageBytes();

// Ranges of a file read with ReadAt into one buffer kept from read to
// read: the passes that would map the file's pages again copy them
// instead (on a virtual machine a page mapped again costs several times a
// page copied). The buffer grows in whole 2 MB pages, blocks that size
// getting huge pages (huge_page_allocations.h), so that a range a little
// longer than the last needs no new one and filling it faults once per
// 2 MB.
class RangeCopy {
 public:
  // Bytes [offset, offset + length) of `fd`, valid until the next Read;
  // null when fewer could be read (the file cut short, a failed read),
  // for the caller to read them another way (a mapping, whose guard
  // reports the truncation).
  const uint8_t* Read(int fd, uint64_t offset, uint64_t length);

 private:
  std::unique_ptr<uint8_t[]> buffer_;
  uint64_t capacity_ = 0;
};

// fsyncs the folder `path` is in, making a rename or link into it durable.
// Best effort: a folder that cannot be opened is left as it is.
void SyncFolderOf(const std::string& path);

// True for the name (not the path) of a temporary file that
// AtomicFileWriter makes: ".<name>.hp-tmp-<digits>".
bool IsTemporaryName(absl::string_view name);

// Removes from `folder` the temporary files of writers that died before
// committing (killed, or the machine stopped), and returns how many. A
// writer holds an exclusive flock on its temporary file from creation to
// commit, which the kernel drops when the process ends; a temporary file
// whose lock can be taken has no live writer. Files in use are left alone,
// as is everything not named like a temporary file. AtomicFileWriter::Create
// calls it for the target's folder, once per folder per process.
int RemoveStaleTemporaries(const std::string& folder);

// Whether an output can be written at `path`: its folder exists and takes
// new files, and what `path` names now, if anything, is a regular file (or
// a symbolic link, which the rename replaces, as it replaces a file). A
// folder, a device, a pipe or a socket there is refused, naming the path:
// the rename would put a file in its place (--output /dev/null, run as
// root, would replace the device). AtomicFileWriter::Create checks it;
// commands check it again before their work, so that a mistyped output
// fails at once.
absl::Status CheckOutputPath(const std::string& path);

// How far Commit() goes to make the new file survive a crash of the machine.
enum class Durability {
  // fsync the file before the rename and its folder after: once Commit()
  // returns, the new file survives a power loss or OS crash. The default.
  kFsync,
  // Rename without fsync, as cp writes. Still atomic: readers see the old
  // file or the whole new one, never a partial file, and a failed or killed
  // process leaves the target as it was. But after a power loss or OS crash
  // soon after, the target may be missing, empty or hold part of the data.
  // Saves a flush to disk per file.
  kNoFsync,
};

class AtomicFileWriter {
 public:
  // Creates the temporary file ".<name>.hp-tmp-<random>" beside `path` and
  // locks it (flock) until commit or destruction; first checks `path`
  // (CheckOutputPath) and removes stale temporary files from its folder
  // (RemoveStaleTemporaries). The temporary file is registered to be
  // removed if a signal stops the process (RemovedIfStopped).
  static absl::StatusOr<AtomicFileWriter> Create(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  // Removes the temporary file unless Commit() succeeded.
  ~AtomicFileWriter();

  // Appends bytes; small appends are buffered.
  absl::Status Append(absl::string_view bytes);
  // Appends `length` bytes of the open file `fd` from `offset`, in the kernel
  // (copy_file_range, else sendfile between file systems) where it can.
  // `source` names that file in errors.
  absl::Status AppendFileRange(int fd, uint64_t offset, uint64_t length,
                               const std::string& source);
  // Appends the whole open file `fd` of `size` bytes: as a reflink (FICLONE:
  // the new file shares the source's disk blocks, copied on write) when
  // nothing was appended yet and the file system can, else as
  // AppendFileRange after reserving the space.
  absl::Status AppendWholeFile(int fd, uint64_t size,
                               const std::string& source);
  // Allocates disk space for a file of `bytes` in one go (fallocate,
  // keeping the size): a full disk is reported before anything is written,
  // and large appends skip allocating block by block. A file system without
  // fallocate allocates as the bytes come.
  absl::Status Reserve(uint64_t bytes);
  // For a large file that will be committed with kFsync: from now on, gets
  // appended bytes to the disk as they come, so that the fsync before the
  // rename waits for the last part only, not for the whole file. A file
  // reserved at 16 MiB or more (Reserve, before anything is written) is
  // written past the page cache (O_DIRECT) in 4 MiB blocks, two at a time
  // on threads of their own, where the file system allows; otherwise the
  // disk writes of every 64 MiB are started without waiting for them
  // (sync_file_range). Without it the kernel starts them when it likes,
  // often only at that fsync.
  void WriteBackEarly() { write_back_early_ = true; }
  // Writes out buffered bytes and fsyncs the temporary file, leaving the
  // target untouched: for a caller with other work to overlap with the flush
  // to disk. A Commit() with nothing appended since skips that fsync.
  absl::Status Sync();
  // Flushes, fsyncs, renames onto the target and fsyncs its folder; with
  // kNoFsync only flushes and renames.
  absl::Status Commit(Durability durability = Durability::kFsync);
  // As Commit(), but never replaces a file at the target, also one that
  // appeared while this one was written (rename with RENAME_NOREPLACE, else
  // link and unlink): if there is one, returns AlreadyExists and removes the
  // temporary file, leaving the target as it was.
  absl::Status CommitWithoutReplacing(
      Durability durability = Durability::kFsync);

  // The target path.
  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  AtomicFileWriter(std::string path, std::string temporary, FileDescriptor fd);
  absl::Status Flush();
  // Flush(), then ends direct writes: written out, and the descriptor back
  // on the page cache, before an fsync or a close.
  absl::Status FlushAll();
  // With WriteBackEarly, nothing written yet and a reservation of
  // kDirectMinimum or more: turns on direct writes where the file system
  // has them. Tried when the first bytes come: once they are in the file,
  // never again.
  void StartDirectIfLarge();
  // Starts the direct write of the full block being filled and moves on to
  // the next, waiting for that one's own earlier write.
  absl::Status SubmitBlock();
  // Waits for every direct write, writes what they could not (refused by
  // the file system) and the block being filled through the page cache,
  // and goes on there.
  absl::Status LeaveDirect();
  // Waits for the direct writes still running: they use the descriptor.
  void WaitForDirectWrites();
  struct DirectBlock;
  // The block being filled, its buffer allocated on first use.
  DirectBlock& FillingBlock();
  absl::Status WriteAll(const char* data, size_t size);
  absl::Status Fail(absl::string_view what);
  // Fail("cannot write") for a write that failed with `error`.
  absl::Status FailWrite(int error);
  // Commit() and CommitWithoutReplacing().
  absl::Status CommitAs(Durability durability, bool replace);
  // Puts the closed temporary file at the target.
  absl::Status Rename(bool replace);
  // Counts bytes that reached the file; with WriteBackEarly() starts their
  // disk writes a batch at a time.
  void Wrote(uint64_t bytes);

  std::string path_;
  std::string temporary_;
  FileDescriptor fd_;
  std::string buffer_;
  uint64_t bytes_written_ = 0;
  bool synced_ = false;  // fsynced, nothing appended since
  bool write_back_early_ = false;
  // Bytes written to the file (not buffered); with direct writes, those
  // handed to a block's write, so also where the block being filled goes.
  uint64_t in_file_ = 0;
  uint64_t submitted_ = 0;  // bytes whose disk writes were started
  uint64_t reserved_ = 0;   // the largest Reserve()
  struct DirectBufferDelete {
    void operator()(char* bytes) const;
  };
  // A block of a direct write: filled here, written by a thread of its own.
  struct DirectBlock {
    std::unique_ptr<char, DirectBufferDelete> bytes;
    size_t size = 0;           // bytes filled
    uint64_t at = 0;           // its place in the file, once submitted
    std::future<int> written;  // once submitted: 0, or the write's errno
  };
  // While writes go past the page cache (O_DIRECT, after WriteBackEarly):
  // the blocks and the one being filled.
  std::vector<DirectBlock> blocks_;
  size_t filling_ = 0;
  bool committed_ = false;
  // The temporary file, removed if a signal stops the process before the
  // rename (RemoveRegisteredOnStopSignals).
  RemovedIfStopped removed_if_stopped_;
};

}  // namespace hp

#endif  // HP_IO_ATOMIC_WRITER_H_
