#include "hp/io/wire_format.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "hp/io/atomic_writer.h"

namespace hp {
namespace {

// Live mappings the SIGBUS handler answers for. Slots are claimed and
// released with atomics only, as the handler may run on any thread at any
// moment. More live mappings than slots are mapped unguarded.
constexpr int kGuardSlots = 256;
struct GuardSlot {
  std::atomic<uintptr_t> begin{0};  // 0: free
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> faulted{false};
};
GuardSlot guard_slots[kGuardSlots];
struct sigaction previous_sigbus;
uintptr_t page_size = 4096;  // set before the handler is installed

void OnSigbus(int signal, siginfo_t* info, void* context) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  for (GuardSlot& slot : guard_slots) {
    const uintptr_t begin = slot.begin.load(std::memory_order_acquire);
    const uintptr_t end = slot.end.load(std::memory_order_acquire);
    if (begin <= 1 || address < begin || address >= end) continue;
    const uintptr_t page = address & ~(page_size - 1);
    // Everything from here on is past the file's end: zeros, read-only.
    if (::mmap(reinterpret_cast<void*>(page), end - page, PROT_READ,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
      break;
    }
    slot.faulted.store(true, std::memory_order_release);
    return;
  }
  // Not a mapping of ours: what would have happened without this handler.
  if (previous_sigbus.sa_flags & SA_SIGINFO) {
    if (previous_sigbus.sa_sigaction != nullptr) {
      previous_sigbus.sa_sigaction(signal, info, context);
      return;
    }
  } else if (previous_sigbus.sa_handler != SIG_DFL &&
             previous_sigbus.sa_handler != SIG_IGN) {
    previous_sigbus.sa_handler(signal);
    return;
  }
  ::signal(SIGBUS, SIG_DFL);
  ::raise(SIGBUS);
}

void InstallSigbusHandler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    page_size = static_cast<uintptr_t>(PageBytes());
    struct sigaction action = {};
    action.sa_sigaction = OnSigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &previous_sigbus);
  });
}

int ClaimGuardSlot(const uint8_t* data, uint64_t size) {
  InstallSigbusHandler();
  for (int i = 0; i < kGuardSlots; ++i) {
    uintptr_t expected = 0;
    // Claimed by writing `end` first under a begin of 1 (never an address
    // the handler can match, as page 0 is never mapped), then `begin`.
    if (guard_slots[i].begin.compare_exchange_strong(expected, 1)) {
      guard_slots[i].faulted.store(false, std::memory_order_relaxed);
      guard_slots[i].end.store(reinterpret_cast<uintptr_t>(data) + size,
                               std::memory_order_release);
      guard_slots[i].begin.store(reinterpret_cast<uintptr_t>(data),
                                 std::memory_order_release);
      return i;
    }
  }
  return -1;
}

// protobuf's own default nesting limit.
constexpr int kMaxGroupDepth = 100;

// A varint of at most ten bytes from data[*pos], before `end`; *pos moves
// past it.
bool DecodeVarint(const uint8_t* data, uint64_t* pos, uint64_t end,
                  uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= end) return false;
    const uint8_t byte = data[(*pos)++];
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// RecordRunReader's buffer: from 16 KiB up to 64 KiB a read.
constexpr uint64_t kMinRunWindow = uint64_t{16} << 10;
constexpr uint64_t kMaxRunWindow = uint64_t{64} << 10;
// A one-byte tag and a length of at most ten bytes.
constexpr uint64_t kMaxHeaderBytes = 11;

}  // namespace

bool WireReader::ReadVarint(uint64_t* value) {
  return DecodeVarint(data_, &pos_, end_, value);
}

bool WireReader::Skip(uint64_t bytes) {
  if (bytes > end_ - pos_) return false;
  pos_ += bytes;
  return true;
}

bool WireReader::Next(WireRecord* record, int depth) {
  record->begin = pos_;
  uint64_t tag = 0;
  if (!ReadVarint(&tag) || tag > UINT32_MAX || (tag >> 3) == 0) return false;
  record->field = static_cast<uint32_t>(tag >> 3);
  record->wire_type = static_cast<uint32_t>(tag & 7);
  uint64_t value = 0;
  bool ok = false;
  switch (record->wire_type) {
    case kVarint:
      record->payload = pos_;
      ok = ReadVarint(&value);
      break;
    case kFixed64:
      record->payload = pos_;
      ok = Skip(8);
      break;
    case kFixed32:
      record->payload = pos_;
      ok = Skip(4);
      break;
    case kLengthDelimited:
      ok = ReadVarint(&value);
      record->payload = pos_;
      ok = ok && Skip(value);
      break;
    case kStartGroup: {
      record->payload = pos_;
      if (depth >= kMaxGroupDepth) return false;
      WireRecord inner;
      while (true) {
        if (!Next(&inner, depth + 1)) return false;
        if (inner.wire_type == kEndGroup) break;
      }
      ok = inner.field == record->field;
      break;
    }
    case kEndGroup:
      // Only valid as the closing record of a group (depth > 0).
      record->payload = pos_;
      ok = depth > 0;
      break;
    default:
      ok = false;
  }
  record->end = pos_;
  return ok;
}

RecordRunReader::RecordRunReader(int fd, uint64_t end)
    : fd_(fd), end_(end), buffer_(new uint8_t[kMaxRunWindow]) {}

bool RecordRunReader::Fill(uint64_t at) {
  const uint64_t read_so_far = at - std::min(run_begin_, at);
  const uint64_t size = std::min(
      {end_ - at, kMaxRunWindow, std::max(kMinRunWindow, read_so_far)});
  // A failed or short read ends the run: WireReader, on the mapping, says
  // what is wrong.
  const int64_t got = ReadAt(fd_, buffer_.get(), size, at);
  const uint64_t done = got > 0 ? static_cast<uint64_t>(got) : 0;
  window_begin_ = at;
  window_end_ = at + done;
  return done > 0;
}

bool RecordRunReader::Next(uint8_t tag_byte, uint64_t at, WireRecord* record) {
  if (at >= end_) return false;
  const uint64_t header_end = std::min(end_, at + kMaxHeaderBytes);
  if (at < window_begin_ || header_end > window_end_) {
    if (!Fill(at) || header_end > window_end_) return false;
  }
  if (run_begin_ == UINT64_MAX) run_begin_ = at;
  return RecordAt(buffer_.get(), window_begin_, window_end_, tag_byte, at, end_,
                  record);
}

bool HeaderInWindow(uint64_t window_end, uint64_t at, uint64_t end) {
  return std::min(end, at + kMaxHeaderBytes) <= window_end;
}

bool RecordAt(const uint8_t* window, uint64_t window_begin, uint64_t window_end,
              uint8_t tag_byte, uint64_t at, uint64_t end, WireRecord* record) {
  if (at >= end || at < window_begin || !HeaderInWindow(window_end, at, end)) {
    return false;
  }
  const uint64_t header_end = std::min(end, at + kMaxHeaderBytes);
  uint64_t pos = at - window_begin;
  if (window[pos] != tag_byte) return false;
  ++pos;
  uint64_t length = 0;
  if (!DecodeVarint(window, &pos, header_end - window_begin, &length)) {
    return false;
  }
  const uint64_t payload = window_begin + pos;
  if (length > end - payload) return false;
  record->field = tag_byte >> 3;
  record->wire_type = kLengthDelimited;
  record->begin = at;
  record->payload = payload;
  record->end = payload + length;
  return true;
}

namespace {

// Where RecordRunAhead looks for a start after its guess, and how far its
// records in a row may reach.
constexpr uint64_t kStartSearchBytes = uint64_t{16} << 10;
constexpr uint64_t kChainSearchBytes = uint64_t{64} << 10;

// Whether `count` records of `tag_byte` follow one another from `at`, all
// before `end` and their headers before `seen`.
bool RecordsInARow(const uint8_t* data, uint8_t tag_byte, uint64_t at,
                   int count, uint64_t seen, uint64_t end) {
  for (int k = 0; k < count; ++k) {
    if (at >= seen || data[at] != tag_byte) return false;
    uint64_t pos = at + 1;
    uint64_t length = 0;
    if (!DecodeVarint(data, &pos, seen, &length) || length > end - pos) {
      return false;
    }
    at = pos + length;
  }
  return true;
}

}  // namespace

RecordRunAhead::RecordRunAhead(const uint8_t* data, int fd, uint8_t tag_byte,
                               uint64_t guess, uint64_t end) {
  if (data == nullptr || guess >= end) return;
  const uint64_t seen = std::min(end, guess + kChainSearchBytes);
  const uint64_t last = std::min(end, guess + kStartSearchBytes);
  for (uint64_t at = guess; at < last; ++at) {
    if (RecordsInARow(data, tag_byte, at, kChain, seen, end)) {
      start_ = at;
      break;
    }
  }
  if (!found()) return;
  reader_ = std::thread([this, fd, tag_byte, end] { Read(fd, tag_byte, end); });
}

RecordRunAhead::~RecordRunAhead() {
  stop_ = true;
  if (reader_.joinable()) reader_.join();
}

void RecordRunAhead::Read(int fd, uint8_t tag_byte, uint64_t end) {
  RecordRunReader reader(fd, end);
  WireRecord record;
  uint64_t at = start_;
  // The stop is looked at now and then: a dropped run ends soon, and a
  // taken one is not slowed by an atomic read per record.
  constexpr size_t kStopCheckEvery = 4096;
  while (reader.Next(tag_byte, at, &record)) {
    run_.records.push_back({record.payload, record.end});
    run_.last = record;
    at = record.end;
    if (run_.records.size() % kStopCheckEvery == 0 && stop_) return;
  }
}

RecordRunAhead::Run RecordRunAhead::Take() {
  if (reader_.joinable()) reader_.join();
  return std::move(run_);
}

FileMapping::FileMapping(int fd, uint64_t size) : fd_(fd), size_(size) {
  if (size == 0) return;
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) return;
  data_ = static_cast<const uint8_t*>(address);
  slot_ = ClaimGuardSlot(data_, size_);
}

namespace {

// madvise over the pages holding [begin, end) of a mapping; advice only.
void AdvisePages(const uint8_t* data, uint64_t size, uint64_t begin,
                 uint64_t end, int advice) {
  if (data == nullptr || begin >= end || begin >= size) return;
  const uint64_t page = PageBytes();
  const uint64_t first = begin / page * page;
  const uint64_t last = std::min(end, size);
  ::madvise(const_cast<uint8_t*>(data) + first, last - first, advice);
}

}  // namespace

void FileMapping::ReadOnlyTouchedPages() const {
  AdvisePages(data_, size_, 0, size_, MADV_RANDOM);
}

void FileMapping::ReadAhead(uint64_t begin, uint64_t end) const {
  AdvisePages(data_, size_, begin, end, MADV_WILLNEED);
}

void FileMapping::Release(uint64_t begin, uint64_t end) const {
  if (data_ == nullptr) return;
  const uint64_t page = PageBytes();
  const uint64_t first = (begin + page - 1) / page * page;
  // The file's last page ends the mapping, wherever its size falls.
  const uint64_t last = end >= size_ ? size_ : end / page * page;
  if (first >= last) return;
  ::madvise(const_cast<uint8_t*>(data_) + first, last - first, MADV_DONTNEED);
}

void FileMapping::Touch(uint64_t begin, uint64_t end) const {
  if (data_ == nullptr) return;
  const uint64_t page = PageBytes();
  end = std::min(end, size_);
  // Read through a volatile pointer: the reads are their only effect.
  const volatile uint8_t* bytes = data_;
  for (uint64_t at = begin / page * page; at < end; at += page) {
    static_cast<void>(bytes[at]);
  }
}

// FileMapping::ReleaseEvery's thread, stopped and joined when destroyed.
class FileMapping::PeriodicRelease {
 public:
  PeriodicRelease(const FileMapping* mapping, std::chrono::milliseconds period)
      : thread_([this, mapping, period] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_.wait_for(lock, period, [this] { return stopping_; })) {
            mapping->Release(0, mapping->size_);
          }
        }) {}
  ~PeriodicRelease() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    stop_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest is made
};

void FileMapping::ReleaseEvery(std::chrono::milliseconds period) {
  if (data_ == nullptr || periodic_release_ != nullptr) return;
  periodic_release_ = std::make_unique<PeriodicRelease>(this, period);
}

FileMapping::~FileMapping() {
  // The thread stops before the pages it gives back are unmapped.
  periodic_release_.reset();
  if (data_ == nullptr) return;
  if (slot_ >= 0) {
    guard_slots[slot_].end.store(0, std::memory_order_release);
    guard_slots[slot_].begin.store(0, std::memory_order_release);
  }
  ::munmap(const_cast<uint8_t*>(data_), size_);
}

bool FileMapping::faulted() const {
  return slot_ >= 0 &&
         guard_slots[slot_].faulted.load(std::memory_order_acquire);
}

bool GraphOpensWithNodeRecords(const std::string& path, uint64_t bytes) {
  absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
  if (!file.ok()) return false;
  const FileMapping mapping(file->fd.get(), file->size);
  if (mapping.data() == nullptr) return false;
  // The model's fields before its graph are a few small ones; the graph's
  // header is all that is read of it here.
  mapping.ReadOnlyTouchedPages();
  WireReader top(mapping.data(), 0, file->size);
  WireRecord graph;
  do {
    if (top.done() || !top.Next(&graph)) return false;
  } while (graph.field != kModelGraph || graph.wire_type != kLengthDelimited);
  RecordRunReader nodes(file->fd.get(), graph.end);
  WireRecord node;
  uint64_t at = graph.payload;
  while (at - graph.payload < bytes &&
         nodes.Next(TagByte(kGraphNode), at, &node)) {
    at = node.end;
  }
  // A file cut short while read gave zeros: no records, or too few.
  return at - graph.payload >= bytes && !mapping.faulted();
}

absl::Status CheckFileNotShrunk(int fd, uint64_t size, const std::string& path,
                                const FileMapping* mapping) {
  struct stat info;
  if (::fstat(fd, &info) != 0) return absl::OkStatus();
  if (static_cast<uint64_t>(info.st_size) >= size) {
    if (mapping == nullptr || !mapping->faulted()) return absl::OkStatus();
  }
  return absl::DataLossError(absl::StrCat(
      path, ": the file was truncated while it was read (", size,
      " bytes when opened, ", info.st_size,
      " now): another program is changing it; run again once it is done"));
}

}  // namespace hp
