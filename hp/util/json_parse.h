// Parsing JSON text into nlohmann::json, the one place nlohmann's parse
// exceptions are caught: every error becomes a Status that says where.
#ifndef HP_UTIL_JSON_PARSE_H_
#define HP_UTIL_JSON_PARSE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace hp {

// Parses `text`; `source` (a file name) starts the errors, all
// InvalidArgument: "<source>: JSON syntax error at line L, column C (byte
// offset N): <detail>", the position being the start of the offending token,
// or "<source>: invalid JSON: <detail>" for errors without a position (a
// number too large for a double).
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text,
                                         absl::string_view source);

}  // namespace hp

#endif  // HP_UTIL_JSON_PARSE_H_
