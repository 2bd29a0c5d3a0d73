// Typed access to the members of a parsed JSON document, with errors that
// say where: "<source>: <json path>: <what went wrong>". For readers of
// hp's JSON inputs (scope traces, batch manifests).
#ifndef HP_UTIL_JSON_FIELDS_H_
#define HP_UTIL_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace hp {

// A string as a JSON literal: quoted and escaped, safe to print.
std::string QuoteJson(absl::string_view text);

// A value as an error message shows it: scalars verbatim (long strings cut
// short), containers by kind.
std::string DescribeJson(const nlohmann::json& value);

class FieldReader {
 public:
  using Json = nlohmann::json;

  // `source` (a file name) starts every error.
  explicit FieldReader(absl::string_view source) : source_(source) {}

  // An InvalidArgument at `path` ("" for the document itself).
  absl::Status Error(absl::string_view path, absl::string_view what) const;
  // "<object_path>.<key>", or the key alone at the top.
  static std::string Join(absl::string_view object_path, absl::string_view key);

  // Each fails when the key is missing or its value has another type.
  absl::StatusOr<const Json*> Member(const Json& object,
                                     absl::string_view object_path,
                                     const char* key) const;
  absl::StatusOr<const Json*> Object(const Json& object,
                                     absl::string_view object_path,
                                     const char* key) const;
  absl::StatusOr<const Json*> Array(const Json& object,
                                    absl::string_view object_path,
                                    const char* key) const;
  absl::StatusOr<std::string> String(const Json& object,
                                     absl::string_view object_path,
                                     const char* key) const;
  absl::StatusOr<bool> Bool(const Json& object, absl::string_view object_path,
                            const char* key) const;
  absl::StatusOr<int64_t> Integer(const Json& object,
                                  absl::string_view object_path,
                                  const char* key) const;
  // The key must be present; its value may be null.
  absl::StatusOr<std::optional<int64_t>> NullableInteger(
      const Json& object, absl::string_view object_path, const char* key) const;
  absl::StatusOr<std::optional<std::string>> NullableString(
      const Json& object, absl::string_view object_path, const char* key) const;

  // "expected <kind>, got <value>" at `path`.
  absl::Status Expected(absl::string_view path, absl::string_view kind,
                        const Json& value) const;

 private:
  absl::StatusOr<int64_t> ToInteger(const Json& value, absl::string_view path,
                                    absl::string_view kind) const;

  std::string source_;
};

}  // namespace hp

#endif  // HP_UTIL_JSON_FIELDS_H_
