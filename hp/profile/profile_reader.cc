#include "hp/profile/profile_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hp/view/text_escape.h"

namespace hp {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kNoToken = std::numeric_limits<size_t>::max();

// The members of an event (and of its "args") that hp reads. A member's
// value sets its field when of the field's type and clears it otherwise:
// where a name repeats, the last member counts, as in a parsed document.
enum class Field { kOther, kCat, kName, kPh, kDur, kTs, kArgs };
enum class ArgsField { kOther, kOpName, kProvider };

Field EventField(absl::string_view key) {
  if (key == "cat") return Field::kCat;
  if (key == "name") return Field::kName;
  if (key == "ph") return Field::kPh;
  if (key == "dur") return Field::kDur;
  if (key == "ts") return Field::kTs;
  if (key == "args") return Field::kArgs;
  return Field::kOther;
}

ArgsField ArgsFieldOf(absl::string_view key) {
  if (key == "op_name") return ArgsField::kOpName;
  if (key == "provider") return ArgsField::kProvider;
  return ArgsField::kOther;
}

// Where the run of plain bytes of a string that starts at `at` ends: the
// first byte before `end` that is '"', '\\', a control character or not
// ASCII, else `end`. Profiles are mostly strings, and a byte at a time was
// the reader's costliest loop: sixteen at a time where SSE2 is there (on
// every x86-64).
size_t PlainRunEnd(const char* data, size_t at, size_t end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  for (; at + 16 <= end; at += 16) {
    const __m128i bytes =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + at));
    // Compared as signed bytes, those from 0x80 up are negative: "below a
    // space" takes the controls and the non-ASCII bytes at once.
    const __m128i stops =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote),
                                  _mm_cmpeq_epi8(bytes, backslash)),
                     _mm_cmplt_epi8(bytes, space));
    const int mask = _mm_movemask_epi8(stops);
    if (mask != 0) return at + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; at < end; ++at) {
    const unsigned char c = static_cast<unsigned char>(data[at]);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return at;
  }
  return end;
}

// A JSON number as the fields read it: a whole number of microseconds, or
// `invalid` (a fraction, or out of range).
struct Number {
  int64_t value = 0;
  bool invalid = false;
};

// Appends code point `c` (at most U+10FFFF) as UTF-8.
void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// A JSON number's text as a double, whatever the C locale (strtod reads
// "1.5" as 1 where the decimal point is a comma): false when its
// magnitude is past double's range; one below it is 0.
bool ToDouble(absl::string_view text, double* value) {
  const std::from_chars_result read =
      std::from_chars(text.data(), text.data() + text.size(), *value);
  if (read.ec != std::errc::result_out_of_range) return true;
  // Out of range: too large or too small. The power of ten of the first
  // non-zero digit tells which (the text has one: zero is in range).
  const size_t digits_end = text.find_first_of("eE");
  const absl::string_view digits = text.substr(0, digits_end);
  const size_t point = std::min(digits.find('.'), digits.size());
  const size_t first = digits.find_first_of("123456789");
  if (first == absl::string_view::npos) {
    *value = 0;
    return true;
  }
  int64_t power = first < point ? static_cast<int64_t>(point - first) - 1
                                : -static_cast<int64_t>(first - point);
  if (digits_end != absl::string_view::npos) {
    absl::string_view exponent = text.substr(digits_end + 1);
    const bool negative = !exponent.empty() && exponent[0] == '-';
    if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) {
      exponent.remove_prefix(1);
    }
    int64_t e = 0;
    for (const char c : exponent)
      e = std::min<int64_t>(e * 10 + (c - '0'), 1 << 30);
    power += negative ? -e : e;
  }
  *value = 0;
  return power < 0;
}

// The reader: strict JSON (RFC 8259, UTF-8, a leading byte order mark
// skipped), read in one pass without building a document. Only the
// members hp reads are kept, and only until their event is visited; every
// other value is checked and dropped. Containers are tracked on a stack,
// not by recursion, so no nesting depth overflows the call stack.
//
// The bytes come from memory or from a file a chunk at a time. A string
// or number is kept whole in the buffer while it is read (`token_`), so
// that it can be viewed in place; a string with escapes or non-ASCII
// bytes is decoded into a copy.
class EventReader {
 public:
  EventReader(int fd, absl::string_view source, ProfileEventVisitor visit)
      : fd_(fd), buffer_(kChunkBytes), source_(source), visit_(visit) {
    data_ = buffer_.data();
  }
  EventReader(absl::string_view bytes, absl::string_view source,
              ProfileEventVisitor visit)
      : data_(bytes.data()),
        end_(bytes.size()),
        source_(source),
        visit_(visit) {}

  absl::Status Read() {
    if (ReadTopLevel()) return absl::OkStatus();
    return status_;
  }

 private:
  // The next byte, or -1 at the end of the input (or a failed read).
  int Peek() {
    if (pos_ == end_ && !Fill()) return -1;
    return static_cast<unsigned char>(data_[pos_]);
  }
  uint64_t Offset() const { return base_ + pos_; }

  // Reads on into the buffer, keeping the token being read (or nothing
  // before pos_); false at the end of the file or on an error.
  bool Fill() {
    if (fd_ < 0 || done_) return false;
    const size_t keep = token_ != kNoToken ? token_ : pos_;
    const size_t kept = end_ - keep;
    std::memmove(buffer_.data(), buffer_.data() + keep, kept);
    base_ += keep;
    pos_ -= keep;
    end_ = kept;
    if (token_ != kNoToken) token_ -= keep;
    // A token as long as the buffer (a string of megabytes): room for more.
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    data_ = buffer_.data();
    for (;;) {
      const ssize_t got =
          ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) read_errno_ = errno;
      if (got <= 0) {
        done_ = true;
        return false;
      }
      end_ += static_cast<size_t>(got);
      return true;
    }
  }

  void SkipWhitespace() {
    for (;;) {
      size_t pos = pos_;
      while (pos < end_) {
        const char c = data_[pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
        ++pos;
      }
      pos_ = pos;
      if (pos_ < end_ || !Fill()) return;
    }
  }

  // Errors. Each returns false, for `return Error(...)`.
  bool Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
    return false;
  }
  // Where the input ended (or could not be read) and more was needed.
  bool EndsEarly(absl::string_view expected) {
    if (read_errno_ != 0) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(source_, ": read error at byte offset ", Offset(), ": ",
                       std::strerror(read_errno_))));
    }
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        source_, ": the JSON ends early at byte offset ", Offset(),
        " (a truncated profile? onnxruntime writes it when the session "
        "ends): expected ",
        expected)));
  }
  // At the byte at `offset`, or at the end when there is none.
  bool SyntaxError(absl::string_view what, uint64_t offset) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        source_, ": JSON syntax error at byte offset ", offset, ": ", what)));
  }
  // `expected` where the next byte is something else.
  bool Unexpected(absl::string_view expected) {
    const int c = Peek();
    if (c < 0) return EndsEarly(expected);
    const std::string found = c >= 0x20 && c < 0x7F
                                  ? absl::StrFormat("'%c'", c)
                                  : absl::StrFormat("byte 0x%02X", c);
    return SyntaxError(absl::StrCat("expected ", expected, ", found ", found),
                       Offset());
  }
  bool Expect(char c, absl::string_view expected) {
    if (Peek() != static_cast<unsigned char>(c)) return Unexpected(expected);
    ++pos_;
    return true;
  }
  bool NotAnArray(absl::string_view what) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        source_, ": not an onnxruntime profile: the JSON is ", what,
        ", not an array of trace events (onnxruntime writes one with the "
        "session option enableProfiling)")));
  }
  bool NotAnEvent(absl::string_view what, uint64_t offset) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(source_, ": not an onnxruntime profile: element ", index_,
                     " of the top-level array (byte offset ", offset, ") is ",
                     what, ", not a trace event object")));
  }

  // The string starting at pos_ ('"'), its escapes decoded: a view into
  // the buffer or into `decoded`, valid until the next read.
  bool ReadString(absl::string_view* text) {
    ++pos_;
    token_ = pos_;
    for (;;) {
      pos_ = PlainRunEnd(data_, pos_, end_);
      if (pos_ < end_) {
        if (data_[pos_] == '"') {
          *text = absl::string_view(data_ + token_, pos_ - token_);
          ++pos_;
          token_ = kNoToken;
          return true;
        }
        decoded_.assign(data_ + token_, pos_ - token_);
        token_ = kNoToken;
        if (!DecodeRest()) return false;
        *text = decoded_;
        return true;
      }
      if (!Fill()) {
        token_ = kNoToken;
        return EndsEarly("the rest of a string");
      }
    }
  }
  // The rest of a string from pos_, appended to decoded_ byte by byte:
  // escapes, and UTF-8 sequences checked (RFC 3629: no overlong forms, no
  // surrogates, nothing past U+10FFFF).
  bool DecodeRest() {
    for (;;) {
      const uint64_t at = Offset();
      const int c = Peek();
      if (c < 0) return EndsEarly("the rest of a string");
      ++pos_;
      if (c == '"') return true;
      if (c < 0x20) {
        return SyntaxError(
            absl::StrFormat("control character 0x%02X in a string (it must "
                            "be escaped)",
                            c),
            at);
      }
      if (c == '\\') {
        if (!DecodeEscape(at)) return false;
      } else if (c < 0x80) {
        decoded_.push_back(static_cast<char>(c));
      } else if (!CopyUtf8(c, at)) {
        return false;
      }
    }
  }
  bool DecodeEscape(uint64_t at) {
    const int e = Peek();
    if (e < 0) return EndsEarly("an escape");
    ++pos_;
    // The one-character escapes, and what each stands for.
    constexpr absl::string_view kEscapes = "\"\\/bfnrt";
    constexpr absl::string_view kMeanings = "\"\\/\b\f\n\r\t";
    const size_t escape = kEscapes.find(static_cast<char>(e));
    if (escape != absl::string_view::npos) {
      decoded_.push_back(kMeanings[escape]);
      return true;
    }
    if (e != 'u') return SyntaxError("invalid escape in a string", at);
    uint32_t unit;
    if (!ReadHex4(&unit)) return false;
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return SyntaxError("a low surrogate \\u escape without a high one before",
                         at);
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      // A high surrogate: its low one must follow.
      uint32_t low = 0;
      if (Peek() != '\\') return SurrogateUnpaired(at);
      ++pos_;
      if (Peek() != 'u') return SurrogateUnpaired(at);
      ++pos_;
      if (!ReadHex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return SurrogateUnpaired(at);
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(unit, &decoded_);
    return true;
  }
  bool SurrogateUnpaired(uint64_t at) {
    if (Peek() < 0) return EndsEarly("the low surrogate of a \\u escape");
    return SyntaxError("a high surrogate \\u escape not followed by a low one",
                       at);
  }
  bool ReadHex4(uint32_t* unit) {
    *unit = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = Peek();
      if (h < 0) return EndsEarly("four hex digits of a \\u escape");
      uint32_t digit;
      if (h >= '0' && h <= '9') {
        digit = static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        digit = static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        digit = static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Unexpected("a hex digit of a \\u escape");
      }
      *unit = *unit * 16 + digit;
      ++pos_;
    }
    return true;
  }
  // A UTF-8 sequence whose lead byte `lead` was read.
  bool CopyUtf8(int lead, uint64_t at) {
    const Utf8Lead sequence = Utf8LeadOf(static_cast<uint8_t>(lead));
    if (sequence.length < 2) {
      return SyntaxError("ill-formed UTF-8 in a string", at);
    }
    decoded_.push_back(static_cast<char>(lead));
    for (size_t k = 1; k < sequence.length; ++k) {
      const int c = Peek();
      if (c < 0) return EndsEarly("the rest of a UTF-8 sequence");
      if (c < (k == 1 ? sequence.low : 0x80) ||
          c > (k == 1 ? sequence.high : 0xBF)) {
        return SyntaxError("ill-formed UTF-8 in a string", at);
      }
      decoded_.push_back(static_cast<char>(c));
      ++pos_;
    }
    return true;
  }

  // Digits from pos_ on; false when there is none.
  bool Digits() {
    const int c = Peek();
    if (c < '0' || c > '9') return false;
    for (;;) {
      while (pos_ < end_ && data_[pos_] >= '0' && data_[pos_] <= '9') ++pos_;
      if (pos_ < end_ || !Fill()) return true;
    }
  }
  // The number starting at pos_ ('-' or a digit). A whole number in
  // int64's range is exact; anything else is read as a double, which must
  // be finite, and is whole below 9e15 or invalid.
  bool ReadNumber(Number* number) {
    const uint64_t at = Offset();
    token_ = pos_;
    const bool negative = Peek() == '-';
    if (negative) ++pos_;
    bool whole = true;
    if (Peek() == '0') {
      ++pos_;
    } else if (!Digits()) {
      token_ = kNoToken;
      return Unexpected("a digit");
    }
    if (Peek() == '.') {
      ++pos_;
      whole = false;
      if (!Digits()) {
        token_ = kNoToken;
        return Unexpected("a digit after the decimal point");
      }
    }
    const int e = Peek();
    if (e == 'e' || e == 'E') {
      ++pos_;
      whole = false;
      const int sign = Peek();
      if (sign == '+' || sign == '-') ++pos_;
      if (!Digits()) {
        token_ = kNoToken;
        return Unexpected("a digit of the exponent");
      }
    }
    const absl::string_view text(data_ + token_, pos_ - token_);
    token_ = kNoToken;
    if (whole) {
      uint64_t magnitude = 0;
      bool overflow = false;
      for (const char c : text.substr(negative ? 1 : 0)) {
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
          overflow = true;
          break;
        }
        magnitude = magnitude * 10 + digit;
      }
      constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;
      if (!overflow && (!negative || magnitude <= kMaxMagnitude)) {
        number->invalid = !negative && magnitude >= kMaxMagnitude;
        number->value = number->invalid ? 0
                        : negative      ? static_cast<int64_t>(0 - magnitude)
                                        : static_cast<int64_t>(magnitude);
        return true;
      }
    }
    double value = 0;
    if (!ToDouble(text, &value)) {
      return SyntaxError(absl::StrCat("number overflow: ", text), at);
    }
    number->invalid = !(std::floor(value) == value && std::fabs(value) < 9e15);
    number->value = number->invalid ? 0 : static_cast<int64_t>(value);
    return true;
  }

  bool ReadLiteral(absl::string_view literal) {
    const uint64_t at = Offset();
    for (const char c : literal) {
      const int got = Peek();
      if (got < 0) return EndsEarly(absl::StrCat("the literal ", literal));
      if (got != static_cast<unsigned char>(c)) {
        return SyntaxError(
            absl::StrCat("invalid literal (expected ", literal, ")"), at);
      }
      ++pos_;
    }
    return true;
  }

  // A string, number, true, false or null at pos_ (`c` its first byte),
  // read and dropped.
  bool SkipScalar(int c) {
    switch (c) {
      case '"': {
        absl::string_view text;
        return ReadString(&text);
      }
      case 't':
        return ReadLiteral("true");
      case 'f':
        return ReadLiteral("false");
      case 'n':
        return ReadLiteral("null");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          Number number;
          return ReadNumber(&number);
        }
        return Unexpected("a JSON value");
    }
  }

  // A member's name and the ':' after it. The name is a view valid until
  // the next string is read: into decoded_, or into the buffer, where
  // token_ keeps it while the colon is read (a refill moves the bytes
  // kept: the view is made after).
  bool ReadKey(absl::string_view* key) {
    SkipWhitespace();
    if (Peek() != '"') return Unexpected("a member name (a string)");
    absl::string_view text;
    if (!ReadString(&text)) return false;
    const bool in_buffer = text.data() != decoded_.data();
    if (in_buffer) token_ = static_cast<size_t>(text.data() - data_);
    SkipWhitespace();
    const bool colon = Expect(':', "':' after a member name");
    if (colon) SkipWhitespace();
    if (in_buffer) {
      text = absl::string_view(data_ + token_, text.size());
      token_ = kNoToken;
    }
    *key = text;
    return colon;
  }

  // Any value at pos_, checked and dropped.
  bool SkipValue() {
    // Per open container: whether it is an object. A member, kept from
    // value to value: made for each, it was an allocation for every
    // nested value (an event's tensor shapes).
    std::vector<bool>& open = open_containers_;
    open.clear();
    absl::string_view key;
    for (;;) {
      SkipWhitespace();
      const int c = Peek();
      if (c == '{' || c == '[') {
        ++pos_;
        const bool object = c == '{';
        SkipWhitespace();
        if (Peek() == (object ? '}' : ']')) {
          ++pos_;
        } else {
          open.push_back(object);
          if (object && !ReadKey(&key)) return false;
          continue;
        }
      } else if (c < 0) {
        return EndsEarly("a JSON value");
      } else if (!SkipScalar(c)) {
        return false;
      }
      // A value is done: the next member, or the ends of containers.
      for (;;) {
        if (open.empty()) return true;
        SkipWhitespace();
        const int next = Peek();
        if (next == ',') {
          ++pos_;
          if (open.back() && !ReadKey(&key)) return false;
          break;
        }
        if (next == (open.back() ? '}' : ']')) {
          ++pos_;
          open.pop_back();
          continue;
        }
        return Unexpected(open.back() ? "',' or '}' in an object"
                                      : "',' or ']' in an array");
      }
    }
  }

  // An object's members from pos_ ('{'), each handed to member(key), which
  // reads the value; false on an error.
  template <typename Member>
  bool ReadObject(const Member& member) {
    ++pos_;
    SkipWhitespace();
    if (Peek() == '}') {
      ++pos_;
      return true;
    }
    absl::string_view key;
    for (;;) {
      if (!ReadKey(&key) || !member(key)) return false;
      SkipWhitespace();
      const int c = Peek();
      if (c == '}') {
        ++pos_;
        return true;
      }
      if (c != ',') return Unexpected("',' or '}' after an object member");
      ++pos_;
    }
  }

  // A member's string value into `field`, or the value dropped and the
  // field cleared.
  bool ReadStringField(std::string* field) {
    if (Peek() != '"') {
      field->clear();
      return SkipValue();
    }
    absl::string_view text;
    if (!ReadString(&text)) return false;
    field->assign(text.data(), text.size());
    return true;
  }
  bool ReadNumberField(Number* number, bool* is_number) {
    const int c = Peek();
    *is_number = c == '-' || (c >= '0' && c <= '9');
    if (!*is_number) return SkipValue();
    return ReadNumber(number);
  }

  bool ReadArgs() {
    op_name_.clear();
    provider_.clear();
    if (Peek() != '{') return SkipValue();
    return ReadObject([&](absl::string_view key) {
      switch (ArgsFieldOf(key)) {
        case ArgsField::kOpName:
          return ReadStringField(&op_name_);
        case ArgsField::kProvider:
          return ReadStringField(&provider_);
        case ArgsField::kOther:
          return SkipValue();
      }
      return SkipValue();
    });
  }

  // The event at pos_ ('{'), then its visit.
  bool ReadEvent() {
    const uint64_t offset = Offset();
    category_.clear();
    name_.clear();
    phase_.clear();
    op_name_.clear();
    provider_.clear();
    int64_t dur = -1, ts = -1;
    bool dur_invalid = false;
    const bool read = ReadObject([&](absl::string_view key) {
      Number number;
      bool is_number = false;
      switch (EventField(key)) {
        case Field::kCat:
          return ReadStringField(&category_);
        case Field::kName:
          return ReadStringField(&name_);
        case Field::kPh:
          return ReadStringField(&phase_);
        case Field::kDur:
          if (!ReadNumberField(&number, &is_number)) return false;
          dur = is_number ? number.value : -1;
          dur_invalid = is_number && (number.invalid || number.value < 0);
          return true;
        case Field::kTs:
          if (!ReadNumberField(&number, &is_number)) return false;
          ts = is_number && !number.invalid ? number.value : -1;
          return true;
        case Field::kArgs:
          return ReadArgs();
        case Field::kOther:
          return SkipValue();
      }
      return SkipValue();
    });
    if (!read) return false;
    ProfileEvent event;
    event.index = index_;
    event.byte_offset = offset;
    event.category = category_;
    event.name = name_;
    event.phase = phase_;
    event.dur = dur;
    event.ts = ts;
    event.dur_invalid = dur_invalid;
    event.op_name = op_name_;
    event.provider = provider_;
    absl::Status visited = visit_(event);
    if (!visited.ok()) return Fail(std::move(visited));
    return true;
  }

  bool ReadTopLevel() {
    // A byte order mark, as editors may write one.
    if (Peek() == 0xEF) {
      const uint64_t at = Offset();
      for (const int c : {0xEF, 0xBB, 0xBF}) {
        const int got = Peek();
        if (got < 0) return EndsEarly("a byte order mark");
        if (got != c) return SyntaxError("invalid byte order mark", at);
        ++pos_;
      }
    }
    SkipWhitespace();
    const int first = Peek();
    if (first < 0) return EndsEarly("a JSON value");
    if (first == '{') return NotAnArray("an object");
    if (first != '[') {
      return SkipScalar(first) && NotAnArray("a single value");
    }
    ++pos_;
    SkipWhitespace();
    if (Peek() == ']') {
      ++pos_;
    } else {
      for (;;) {
        SkipWhitespace();
        const uint64_t at = Offset();
        const int c = Peek();
        if (c == '{') {
          if (!ReadEvent()) return false;
        } else if (c == '[') {
          return NotAnEvent("an array", at);
        } else if (c < 0) {
          return EndsEarly("a trace event");
        } else {
          return SkipScalar(c) && NotAnEvent("a single value", at);
        }
        ++index_;
        SkipWhitespace();
        const int next = Peek();
        if (next == ']') {
          ++pos_;
          break;
        }
        if (next != ',') return Unexpected("',' or ']' after an event");
        ++pos_;
      }
    }
    // A NUL byte ends the input there: zero padding after a file's end
    // (as a file system can leave after a crash) is no syntax error.
    SkipWhitespace();
    if (Peek() > 0) {
      return SyntaxError("more after the top-level array", Offset());
    }
    if (read_errno_ != 0) return EndsEarly("the end of the file");
    return true;
  }

  // The input.
  int fd_ = -1;
  std::vector<char> buffer_;  // a file's bytes read so far, from base_ on
  const char* data_ = nullptr;
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t base_ = 0;
  size_t token_ = kNoToken;  // where the token being read starts
  bool done_ = false;
  int read_errno_ = 0;

  absl::string_view source_;
  ProfileEventVisitor visit_;
  absl::Status status_;
  int64_t index_ = 0;
  std::string decoded_;  // a string with escapes or non-ASCII bytes
  std::vector<bool> open_containers_;  // SkipValue's
  // The event's fields, copied as read.
  std::string category_, name_, phase_, op_name_, provider_;
};

}  // namespace

absl::Status ReadProfileFile(const std::string& path,
                             ProfileEventVisitor visit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(
        path, ": cannot open the profile: ", std::strerror(errno)));
  }
  absl::Status status = EventReader(fd, path, visit).Read();
  ::close(fd);
  return status;
}

absl::Status ReadProfileBytes(absl::string_view bytes, absl::string_view source,
                              ProfileEventVisitor visit) {
  return EventReader(bytes, source, visit).Read();
}

bool KernelEventNode(absl::string_view event_name, absl::string_view* node) {
  constexpr absl::string_view kSuffix = "_kernel_time";
  if (!absl::EndsWith(event_name, kSuffix)) return false;
  *node = event_name.substr(0, event_name.size() - kSuffix.size());
  return true;
}

}  // namespace hp
