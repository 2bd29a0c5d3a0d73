// A reader of plain JSON text: ASCII strings without escapes, integers,
// booleans and nulls, read straight into the caller's fields with no
// document built. Any other JSON makes it give up (return false), so that
// the caller can fall back to a full parser (hp/util/json_parse.h).
#ifndef HP_UTIL_PLAIN_JSON_H_
#define HP_UTIL_PLAIN_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace hp {

class PlainJsonReader {
 public:
  explicit PlainJsonReader(absl::string_view text) : text_(text) {}

  // Each reads one token after optional whitespace, or returns false (the
  // cursor is then undefined: the caller gives up).
  bool Consume(char structural) {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != structural) return false;
    ++pos_;
    return true;
  }
  bool String(absl::string_view* value) {
    if (!Consume('"')) return false;
    const size_t start = pos_;
    for (; pos_ < text_.size(); ++pos_) {
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        *value = text_.substr(start, pos_++ - start);
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
    }
    return false;
  }
  bool String(std::string* value) {
    absl::string_view view;
    if (!String(&view)) return false;
    value->assign(view.data(), view.size());
    return true;
  }
  // Up to 18 digits: always within int64_t.
  bool Integer(int64_t* value) {
    SkipSpace();
    const bool negative = pos_ < text_.size() && text_[pos_] == '-';
    if (negative) ++pos_;
    const size_t start = pos_;
    int64_t magnitude = 0;
    while (pos_ < text_.size() && absl::ascii_isdigit(text_[pos_]) &&
           pos_ - start < 18) {
      magnitude = magnitude * 10 + (text_[pos_++] - '0');
    }
    const size_t digits = pos_ - start;
    if (digits == 0 || (digits > 1 && text_[start] == '0')) return false;
    // A fraction, an exponent or a 19th digit: not plain.
    if (pos_ < text_.size() &&
        (absl::ascii_isdigit(text_[pos_]) || text_[pos_] == '.' ||
         text_[pos_] == 'e' || text_[pos_] == 'E')) {
      return false;
    }
    *value = negative ? -magnitude : magnitude;
    return true;
  }
  bool Bool(bool* value) {
    if (Word("true")) {
      *value = true;
      return true;
    }
    *value = false;
    return Word("false");
  }
  // Consumes a null if one is next.
  bool Null() { return Word("null"); }
  // Any plain value, nested at most kMaxDepth deep.
  bool Skip(int depth = 0) {
    constexpr int kMaxDepth = 64;
    SkipSpace();
    if (pos_ >= text_.size() || depth > kMaxDepth) return false;
    absl::string_view string;
    int64_t integer;
    bool boolean;
    switch (text_[pos_]) {
      case '{':
        return Object([&](absl::string_view) { return Skip(depth + 1); });
      case '[':
        return Array([&] { return Skip(depth + 1); });
      case '"':
        return String(&string);
      case 't':
      case 'f':
        return Bool(&boolean);
      case 'n':
        return Null();
      default:
        return Integer(&integer);
    }
  }
  // Calls `member(key)` with the cursor before each member's value.
  template <typename Member>
  bool Object(Member member) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    do {
      absl::string_view key;
      if (!String(&key) || !Consume(':') || !member(key)) return false;
    } while (Consume(','));
    return Consume('}');
  }
  // Calls `element()` with the cursor before each element.
  template <typename Element>
  bool Array(Element element) {
    if (!Consume('[')) return false;
    if (Consume(']')) return true;
    do {
      if (!element()) return false;
    } while (Consume(','));
    return Consume(']');
  }
  // Only whitespace is left.
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' ||
            text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  // A literal, not followed by more letters (`nullx` is not null).
  bool Word(absl::string_view word) {
    SkipSpace();
    if (!absl::StartsWith(text_.substr(pos_), word)) return false;
    pos_ += word.size();
    return pos_ == text_.size() || !absl::ascii_isalnum(text_[pos_]);
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace hp

#endif  // HP_UTIL_PLAIN_JSON_H_
