// Escaping for the text formats the views write (GraphML's XML, Graphviz
// DOT). Node and value names come from the model unchecked: ONNX does not
// require valid UTF-8 or printable characters, and both formats reject some.
#ifndef HP_VIEW_TEXT_ESCAPE_H_
#define HP_VIEW_TEXT_ESCAPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace hp {

// What a UTF-8 sequence's first byte says of it (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF): its length in bytes, 0
// when the byte cannot start one, 1 for ASCII, and the range the second
// byte must be in (the others are 0x80-0xBF).
struct Utf8Lead {
  size_t length = 0;
  uint8_t low = 0x80;
  uint8_t high = 0xBF;
};
Utf8Lead Utf8LeadOf(uint8_t lead);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string ValidUtf8(absl::string_view text);

// Character data or an attribute value for XML 1.0: markup characters as
// entities; control characters XML 1.0 cannot hold become U+FFFD.
std::string XmlEscape(absl::string_view text);

// The inside of a DOT double-quoted string: `"` and `\` escaped, line breaks
// as DOT's centred-line escape `\n`, other control characters dropped.
std::string DotEscape(absl::string_view text);

}  // namespace hp

#endif  // HP_VIEW_TEXT_ESCAPE_H_
