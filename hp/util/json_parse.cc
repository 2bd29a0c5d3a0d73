#include "hp/util/json_parse.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hp {
namespace {

using Json = nlohmann::json;

// 1-based line and column of a 0-based byte offset.
struct TextPosition {
  size_t line;
  size_t column;
};

TextPosition PositionOf(absl::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  TextPosition position{1, 1};
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else {
      ++position.column;
    }
  }
  return position;
}

// nlohmann reports the last character it read, which for an unexpected
// token is its end; people look for a token's start. Steps back over a
// string literal (from its closing quote) or a number or bare word.
size_t TokenStart(absl::string_view text, size_t offset) {
  if (offset >= text.size()) return offset;
  auto is_word = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' ||
           c == '-' || c == '.';
  };
  if (text[offset] == '"') {
    for (size_t i = offset; i-- > 0;) {
      if (text[i] != '"') continue;
      size_t backslashes = 0;
      while (backslashes < i && text[i - 1 - backslashes] == '\\')
        ++backslashes;
      if (backslashes % 2 == 0) return i;
    }
    return offset;
  }
  if (!is_word(text[offset])) return offset;
  while (offset > 0 && is_word(text[offset - 1])) --offset;
  return offset;
}

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text,
                               absl::string_view source) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& error) {
    // error.byte counts the characters read, the offending one included.
    const size_t offset = TokenStart(text, error.byte > 0 ? error.byte - 1 : 0);
    const TextPosition position = PositionOf(text, offset);
    // what() is "[json.exception.parse_error.N] parse error at ...: detail".
    absl::string_view detail = error.what();
    const size_t colon = detail.find(": ");
    if (colon != absl::string_view::npos) detail.remove_prefix(colon + 2);
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": JSON syntax error at line ", position.line, ", column ",
        position.column, " (byte offset ", offset, "): ", detail));
  } catch (const Json::exception& error) {
    // E.g. a number too large for a double, which has no position.
    absl::string_view detail = error.what();
    const size_t bracket = detail.find("] ");
    if (bracket != absl::string_view::npos) detail.remove_prefix(bracket + 2);
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: ", detail));
  }
}

}  // namespace hp
