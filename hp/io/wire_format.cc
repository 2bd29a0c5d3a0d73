#include "hp/io/wire_format.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace hp {
namespace {

// protobuf's own default nesting limit.
constexpr int kMaxGroupDepth = 100;

}  // namespace

bool WireReader::ReadVarint(uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= end_) return false;
    const uint8_t byte = data_[pos_++];
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
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

FileMapping::FileMapping(int fd, uint64_t size) : size_(size) {
  if (size == 0) return;
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address != MAP_FAILED) data_ = static_cast<const uint8_t*>(address);
}

namespace {

// madvise over the pages holding [begin, end) of a mapping; advice only.
void AdvisePages(const uint8_t* data, uint64_t size, uint64_t begin,
                 uint64_t end, int advice) {
  if (data == nullptr || begin >= end || begin >= size) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
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

FileMapping::~FileMapping() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace hp
