// Reading protobuf records straight from a model file, mapped (or, for
// runs of node records, read into a buffer), without parsing messages:
// what the splice path and the structure digest walk.
// Offsets are 64-bit, so that files past protobuf's 2 GB limit can be read.
#ifndef HP_IO_WIRE_FORMAT_H_
#define HP_IO_WIRE_FORMAT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace hp {

// Wire types (protobuf encoding spec).
inline constexpr uint32_t kVarint = 0;
inline constexpr uint32_t kFixed64 = 1;
inline constexpr uint32_t kLengthDelimited = 2;
inline constexpr uint32_t kStartGroup = 3;
inline constexpr uint32_t kEndGroup = 4;
inline constexpr uint32_t kFixed32 = 5;

// Field numbers read at the wire level (proto/onnx.proto).
inline constexpr uint32_t kModelGraph = 7;
inline constexpr uint32_t kGraphNode = 1;
inline constexpr uint32_t kGraphInitializer = 5;
inline constexpr uint32_t kGraphSparseInitializer = 15;

// The tag byte of a length-delimited field numbered below 16.
constexpr uint8_t TagByte(uint32_t field) {
  return static_cast<uint8_t>(field << 3 | kLengthDelimited);
}

// A span [begin, end) of a file.
struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// One field record: [begin, payload) is the tag (and length), [payload, end)
// the value.
struct WireRecord {
  uint32_t field = 0;
  uint32_t wire_type = 0;
  uint64_t begin = 0;
  uint64_t payload = 0;
  uint64_t end = 0;
};

// Steps through the records of one message. Every read is bounds-checked.
class WireReader {
 public:
  WireReader(const uint8_t* data, uint64_t begin, uint64_t end)
      : data_(data), pos_(begin), end_(end) {}

  bool done() const { return pos_ >= end_; }

  // False when the bytes are not well-formed protobuf.
  bool Next(WireRecord* record) { return Next(record, 0); }

 private:
  bool ReadVarint(uint64_t* value);
  bool Skip(uint64_t bytes);
  bool Next(WireRecord* record, int depth);

  const uint8_t* data_;
  uint64_t pos_;
  uint64_t end_;
};

// Runs of records of one field (a graph's node records, one after another)
// read through pread(2) into a buffer rather than through the mapping: a
// pass that only steps from header to header would otherwise map every
// page of the file, and on a virtual machine mapping a page costs far more
// than copying it (a 297 MB graph of a million nodes: about 0.4 s through
// the mapping, where copying the file takes 0.05 s). Anything else ends
// the run, and the caller's WireReader takes over where it ended, so that
// every record is judged, and every malformed one reported, as WireReader
// does.
class RecordRunReader {
 public:
  // Records up to `end` (the enclosing message's end) of the open file `fd`.
  RecordRunReader(int fd, uint64_t end);

  // The record at `at` if its tag is the one byte `tag_byte` (a
  // length-delimited field below 16) and its length fits before `end`;
  // false for anything else, or where reading the file fails or comes up
  // short.
  bool Next(uint8_t tag_byte, uint64_t at, WireRecord* record);

 private:
  // Reads from `at` on into the buffer: as many bytes as lie between the
  // first record read and `at`, from 16 KiB up to 64 KiB (below malloc's
  // mmap threshold, so that freeing the buffer cannot raise it), so that
  // what it reads past a run's end (the first weights) is at most the size
  // of the records before.
  bool Fill(uint64_t at);

  int fd_;
  uint64_t end_;
  std::unique_ptr<uint8_t[]> buffer_;
  uint64_t window_begin_ = 0;  // the buffer holds [window_begin_, window_end_)
  uint64_t window_end_ = 0;
  uint64_t run_begin_ = UINT64_MAX;  // the first record read
};

// The record at file offset `at`, read from `window` (bytes
// [window_begin, window_end) of the file) as RecordRunReader reads one:
// its tag is `tag_byte` (a length-delimited field below 16), its header
// lies in the window and its length fits before `end`. False otherwise.
bool RecordAt(const uint8_t* window, uint64_t window_begin, uint64_t window_end,
              uint8_t tag_byte, uint64_t at, uint64_t end, WireRecord* record);
// Whether a record header at `at` (at most 11 bytes, none past `end`) lies
// before `window_end`, so that RecordAt can judge it from the window.
bool HeaderInWindow(uint64_t window_end, uint64_t at, uint64_t end);

// The later part of a long run of records of one tag byte (a million-node
// graph's node records), read by RecordRunReader on a thread of its own
// while the caller reads the earlier part: one core no longer steps
// through 300 MB of headers alone while the other waits. It starts at the
// first place at or after a guessed offset where kChain such records
// follow one another. Bytes alone cannot tell a record boundary from a
// record's contents, so the run counts only once the caller's own reading
// ends a record exactly at start(): from a true boundary, the records read
// are those the caller would have read. A start inside a record is passed
// over, and the run dropped.
class RecordRunAhead {
 public:
  // Records in a row that make a place a start.
  static constexpr int kChain = 8;

  // The run from the first start in [guess, guess + 16 KiB) of the mapped
  // file `data` (the window's pages faulted one by one, not read around),
  // up to `end`, read from `fd`; none (found() is false) where there is
  // no start there.
  RecordRunAhead(const uint8_t* data, int fd, uint8_t tag_byte, uint64_t guess,
                 uint64_t end);
  RecordRunAhead(const RecordRunAhead&) = delete;
  RecordRunAhead& operator=(const RecordRunAhead&) = delete;
  // Stops the reading and waits for its thread.
  ~RecordRunAhead();

  // Whether there is a run, and where it starts.
  bool found() const { return start_ != kNotFound; }
  uint64_t start() const { return start_; }

  // What the thread read: each record's payload and end, and the last
  // record (the caller's next read starts at its end).
  struct Run {
    std::vector<ByteRange> records;
    WireRecord last;
  };
  // Waits for the whole run: RecordRunReader::Next stepping from start()
  // until it returns false. Call once, after the caller's own reading
  // ended a record at start().
  Run Take();

 private:
  void Read(int fd, uint8_t tag_byte, uint64_t end);

  static constexpr uint64_t kNotFound = UINT64_MAX;
  uint64_t start_ = kNotFound;
  std::atomic<bool> stop_{false};
  Run run_;
  std::thread reader_;  // last: started once the members above exist
};

// A read-only mapping of a whole file, unmapped on every path out. data()
// is null for an empty file or when mmap failed (errno says why).
//
// A file truncated while mapped would kill the process with SIGBUS at the
// first read past its new end. Instead, a process-wide SIGBUS handler
// (installed with the first mapping) recognises addresses inside live
// mappings, maps zero pages from the faulting page to the mapping's end,
// and lets the read go on; faulted() then says so. Readers turn that, or
// the file's shrunken size (CheckFileNotShrunk), into an error naming the
// file. A SIGBUS anywhere else keeps its default action.
class FileMapping {
  class PeriodicRelease;

 public:
  FileMapping(int fd, uint64_t size);
  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
  const uint8_t* data() const { return data_; }
  // The open file mapped, which its owner keeps open while the mapping
  // lives: for readers that copy ranges of it with pread (RecordCopy).
  int fd() const { return fd_; }
  // True once a read past the file's end was answered with zeros.
  bool faulted() const;

  // Faults read only the pages touched, without the kernel's read-around
  // (8 MB on some disks): a scan that skips the weights then reads the
  // records around them, not the weights. ReadAhead asks for a range
  // ahead of a scan through it (node records, read in order).
  void ReadOnlyTouchedPages() const;
  void ReadAhead(uint64_t begin, uint64_t end) const;
  // Gives back the pages wholly inside [begin, end): a scan done with them
  // keeps only a window of the file resident, as a streaming read would.
  // They stay in the page cache, and a later read faults them in again
  // with the same bytes (the mapping is private and never written).
  void Release(uint64_t begin, uint64_t end) const;
  // Reads a byte of each page of [begin, end), so that they are mapped
  // when the caller's other threads read them (NodeReadAhead).
  void Touch(uint64_t begin, uint64_t end) const;
  // From now until the mapping is gone, gives back every page each
  // `period`, on a thread of its own: for reads that a scan's Release
  // cannot follow (the views' passes over the names and tags they keep),
  // so that no pass leaves the whole file resident.
  void ReleaseEvery(std::chrono::milliseconds period);

 private:
  const uint8_t* data_ = nullptr;
  int fd_;
  uint64_t size_;
  int slot_ = -1;  // in the SIGBUS handler's table; -1: unguarded
  std::unique_ptr<PeriodicRelease> periodic_release_;
};

// Whether the main graph of the model file at `path` opens with node
// records spanning at least `bytes`, read as the splice path reads them (a
// few 16-64 KiB reads). A look at the model's shape before any work: an
// exported graph of many nodes writes them first, and one of large weights
// holds a few kilobytes of nodes before its initializers. False for
// anything else, an unreadable or malformed file included.
bool GraphOpensWithNodeRecords(const std::string& path, uint64_t bytes);

// DataLoss naming `path` when the open file `fd` is now shorter than the
// `size` it had when reading began, or `mapping` (if given) read past its
// end ("truncated while it was read"); OK otherwise, also when fstat fails.
absl::Status CheckFileNotShrunk(int fd, uint64_t size, const std::string& path,
                                const FileMapping* mapping = nullptr);

}  // namespace hp

#endif  // HP_IO_WIRE_FORMAT_H_
