#include "hp/util/hex_digest.h"

#include <algorithm>

namespace hp {

bool IsSha256HexDigest(absl::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace hp
