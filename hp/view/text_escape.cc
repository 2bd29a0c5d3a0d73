#include "hp/view/text_escape.h"

#include <cstdint>

namespace hp {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const Utf8Lead lead = Utf8LeadOf(byte(i));
  if (lead.length <= 1) return lead.length;
  if (i + lead.length > text.size()) return 0;
  if (byte(i + 1) < lead.low || byte(i + 1) > lead.high) return 0;
  for (size_t k = 2; k < lead.length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return lead.length;
}

}  // namespace

Utf8Lead Utf8LeadOf(uint8_t lead) {
  Utf8Lead sequence;
  if (lead < 0x80) {
    sequence.length = 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    sequence.length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    sequence.length = 3;
    if (lead == 0xE0) sequence.low = 0xA0;
    if (lead == 0xED) sequence.high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    sequence.length = 4;
    if (lead == 0xF0) sequence.low = 0x90;
    if (lead == 0xF4) sequence.high = 0x8F;
  }
  return sequence;
}

std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  return out;
}

std::string XmlEscape(absl::string_view text) {
  std::string out;
  for (char c : ValidUtf8(text)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20 && c != '\t' && c != '\n' &&
            c != '\r') {
          out += kReplacement;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string DotEscape(absl::string_view text) {
  std::string out;
  for (char c : ValidUtf8(text)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<uint8_t>(c) >= 0x20) {
      out += c;
    }
  }
  return out;
}

}  // namespace hp
