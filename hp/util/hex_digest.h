// The text form of a SHA-256 digest, as Sha256::HexDigest writes it and as
// traces and tagged models record it.
#ifndef HP_UTIL_HEX_DIGEST_H_
#define HP_UTIL_HEX_DIGEST_H_

#include "absl/strings/string_view.h"

namespace hp {

// True for exactly 64 lowercase hex digits.
bool IsSha256HexDigest(absl::string_view text);

}  // namespace hp

#endif  // HP_UTIL_HEX_DIGEST_H_
