#include "hp/profile/profile_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using Json = nlohmann::json;

constexpr size_t kChunkBytes = 1 << 20;

// The profile's bytes, a chunk at a time from a file (or all at once from
// memory), with the offset of the current byte.
class ChunkSource {
 public:
  explicit ChunkSource(int fd) : fd_(fd), buffer_(kChunkBytes) {}
  explicit ChunkSource(absl::string_view bytes)
      : data_(bytes.data()), end_(bytes.size()) {}

  bool AtEnd() { return pos_ >= end_ && !Refill(); }
  char Current() const { return data_[pos_]; }
  void Advance() { ++pos_; }
  uint64_t Offset() const { return base_ + pos_; }
  int read_errno() const { return read_errno_; }

 private:
  bool Refill() {
    if (fd_ < 0) return false;
    base_ += end_;
    pos_ = 0;
    end_ = 0;
    while (true) {
      const ssize_t got = ::read(fd_, buffer_.data(), buffer_.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) read_errno_ = errno;
      if (got <= 0) return false;
      data_ = buffer_.data();
      end_ = static_cast<size_t>(got);
      return true;
    }
  }

  int fd_ = -1;
  std::vector<char> buffer_;
  const char* data_ = nullptr;
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t base_ = 0;
  int read_errno_ = 0;
};

// An input iterator over a ChunkSource for nlohmann's lexer; the end
// iterator has no source.
class SourceIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = char;

  explicit SourceIterator(ChunkSource* source) : source_(source) {}
  char operator*() const { return source_->Current(); }
  SourceIterator& operator++() {
    source_->Advance();
    return *this;
  }
  bool operator==(const SourceIterator& other) const {
    return AtEnd() == other.AtEnd();
  }
  bool operator!=(const SourceIterator& other) const {
    return !(*this == other);
  }

 private:
  bool AtEnd() const { return source_ == nullptr || source_->AtEnd(); }
  ChunkSource* source_;
};

// Where the SAX handler is: the top-level array holds events, an event's
// "args" object holds op_name and provider; everything deeper is skipped.
class EventHandler : public nlohmann::json_sax<Json> {
 public:
  EventHandler(absl::string_view source, ChunkSource* bytes,
               ProfileEventVisitor visit)
      : source_(source), bytes_(bytes), visit_(visit) {}

  absl::Status status() const { return status_; }

  bool null() override { return Scalar(); }
  bool boolean(bool) override { return Scalar(); }
  bool number_integer(number_integer_t value) override {
    return Integer(value, false);
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (value > static_cast<number_unsigned_t>(INT64_MAX)) {
      return Integer(0, true);
    }
    return Integer(static_cast<int64_t>(value), false);
  }
  bool number_float(number_float_t value, const string_t&) override {
    if (std::floor(value) == value && std::fabs(value) < 9e15) {
      return Integer(static_cast<int64_t>(value), false);
    }
    return Integer(0, true);
  }
  bool string(string_t& value) override {
    if (depth_ == 2) {
      if (key_ == "cat") category_ = std::move(value);
      else if (key_ == "name") name_ = std::move(value);
      else if (key_ == "ph") phase_ = std::move(value);
    } else if (depth_ == 3 && in_args_) {
      if (key_ == "op_name") op_name_ = std::move(value);
      else if (key_ == "provider") provider_ = std::move(value);
    }
    return Scalar();
  }
  bool binary(binary_t&) override { return Scalar(); }

  bool start_object(std::size_t) override {
    if (depth_ == 0) return NotAnArray("an object");
    if (depth_ == 1) StartEvent();
    if (depth_ == 2 && key_ == "args") in_args_ = true;
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    if (depth_ == 2) in_args_ = false;
    if (depth_ == 1) return EndEvent();
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 1) return NotAnEvent("an array");
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& value) override {
    if (depth_ == 2 || depth_ == 3) key_ = std::move(value);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) override {
    absl::string_view detail = error.what();
    const size_t colon = detail.find(": ");
    if (colon != absl::string_view::npos) detail.remove_prefix(colon + 2);
    // `position` counts the characters read, the offending one included.
    const uint64_t offset = position > 0 ? position - 1 : 0;
    if (bytes_->read_errno() != 0) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(source_, ": read error at byte offset ", offset, ": ",
                       std::strerror(bytes_->read_errno())));
    } else if (absl::StrContains(detail, "unexpected end of input")) {
      status_ = absl::InvalidArgumentError(absl::StrCat(
          source_, ": the JSON ends early at byte offset ", offset,
          " (a truncated profile? onnxruntime writes it when the session "
          "ends): ",
          detail));
    } else {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(source_, ": JSON syntax error at byte offset ", offset,
                       ": ", detail));
    }
    return false;
  }

 private:
  bool Scalar() {
    if (depth_ == 0) return NotAnArray("a single value");
    if (depth_ == 1) return NotAnEvent("a single value");
    return true;
  }
  bool Integer(int64_t value, bool invalid) {
    if (depth_ == 2 && key_ == "dur") {
      dur_ = value;
      dur_invalid_ = invalid || value < 0;
    } else if (depth_ == 2 && key_ == "ts") {
      ts_ = invalid ? -1 : value;
    }
    return Scalar();
  }
  void StartEvent() {
    event_offset_ = bytes_->Offset() > 0 ? bytes_->Offset() - 1 : 0;
    category_.clear();
    name_.clear();
    phase_.clear();
    op_name_.clear();
    provider_.clear();
    dur_ = -1;
    ts_ = -1;
    dur_invalid_ = false;
    in_args_ = false;
  }
  bool EndEvent() {
    ProfileEvent event;
    event.index = index_++;
    event.byte_offset = event_offset_;
    event.category = category_;
    event.name = name_;
    event.phase = phase_;
    event.dur = dur_;
    event.ts = ts_;
    event.dur_invalid = dur_invalid_;
    event.op_name = op_name_;
    event.provider = provider_;
    status_ = visit_(event);
    return status_.ok();
  }
  bool NotAnArray(absl::string_view what) {
    status_ = absl::InvalidArgumentError(absl::StrCat(
        source_, ": not an onnxruntime profile: the JSON is ", what,
        ", not an array of trace events (onnxruntime writes one with the "
        "session option enableProfiling)"));
    return false;
  }
  bool NotAnEvent(absl::string_view what) {
    status_ = absl::InvalidArgumentError(absl::StrCat(
        source_, ": not an onnxruntime profile: element ", index_,
        " of the top-level array (byte offset ",
        bytes_->Offset() > 0 ? bytes_->Offset() - 1 : 0, ") is ", what,
        ", not a trace event object"));
    return false;
  }

  absl::string_view source_;
  ChunkSource* bytes_;
  ProfileEventVisitor visit_;
  absl::Status status_;
  int depth_ = 0;
  std::string key_;
  bool in_args_ = false;
  int64_t index_ = 0;
  uint64_t event_offset_ = 0;
  std::string category_, name_, phase_, op_name_, provider_;
  int64_t dur_ = -1;
  int64_t ts_ = -1;
  bool dur_invalid_ = false;
};

absl::Status ReadEvents(ChunkSource* bytes, absl::string_view source,
                        ProfileEventVisitor visit) {
  EventHandler handler(source, bytes, visit);
  try {
    const bool done = Json::sax_parse(SourceIterator(bytes),
                                      SourceIterator(nullptr), &handler);
    if (!done) {
      if (!handler.status().ok()) return handler.status();
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": the profile could not be read"));
    }
  } catch (const Json::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: ", error.what()));
  }
  return handler.status();
}

}  // namespace

absl::Status ReadProfileFile(const std::string& path,
                             ProfileEventVisitor visit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(
        path, ": cannot open the profile: ", std::strerror(errno)));
  }
  ChunkSource bytes(fd);
  absl::Status status = ReadEvents(&bytes, path, visit);
  ::close(fd);
  return status;
}

absl::Status ReadProfileBytes(absl::string_view bytes,
                              absl::string_view source,
                              ProfileEventVisitor visit) {
  ChunkSource chunks(bytes);
  return ReadEvents(&chunks, source, visit);
}

bool KernelEventNode(absl::string_view event_name, absl::string_view* node) {
  constexpr absl::string_view kSuffix = "_kernel_time";
  if (!absl::EndsWith(event_name, kSuffix)) return false;
  *node = event_name.substr(0, event_name.size() - kSuffix.size());
  return true;
}

}  // namespace hp
