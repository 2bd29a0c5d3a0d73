#include "hp/util/json_fields.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "hp/util/status_macros.h"

namespace hp {

using Json = nlohmann::json;

std::string QuoteJson(absl::string_view text) {
  return Json(std::string(text))
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string DescribeJson(const Json& value) {
  constexpr size_t kMaxShown = 60;
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  std::string shown =
      value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (shown.size() > kMaxShown) {
    shown = absl::StrCat(shown.substr(0, kMaxShown - 3), "...");
  }
  return shown;
}

absl::Status FieldReader::Error(absl::string_view path,
                                absl::string_view what) const {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", what));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ": ", path, ": ", what));
}

std::string FieldReader::Join(absl::string_view object_path,
                              absl::string_view key) {
  return object_path.empty() ? std::string(key)
                             : absl::StrCat(object_path, ".", key);
}

absl::StatusOr<const Json*> FieldReader::Member(const Json& object,
                                                absl::string_view object_path,
                                                const char* key) const {
  auto it = object.find(key);
  if (it == object.end()) {
    return Error(object_path, absl::StrCat("missing field \"", key, "\""));
  }
  return &*it;
}

absl::StatusOr<const Json*> FieldReader::Object(const Json& object,
                                                absl::string_view object_path,
                                                const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  if (!value->is_object()) {
    return Expected(Join(object_path, key), "an object", *value);
  }
  return value;
}

absl::StatusOr<const Json*> FieldReader::Array(const Json& object,
                                               absl::string_view object_path,
                                               const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  if (!value->is_array()) {
    return Expected(Join(object_path, key), "an array", *value);
  }
  return value;
}

absl::StatusOr<std::string> FieldReader::String(const Json& object,
                                                absl::string_view object_path,
                                                const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  if (!value->is_string()) {
    return Expected(Join(object_path, key), "a string", *value);
  }
  return value->get<std::string>();
}

absl::StatusOr<bool> FieldReader::Bool(const Json& object,
                                       absl::string_view object_path,
                                       const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  if (!value->is_boolean()) {
    return Expected(Join(object_path, key), "a boolean", *value);
  }
  return value->get<bool>();
}

absl::StatusOr<int64_t> FieldReader::Integer(const Json& object,
                                             absl::string_view object_path,
                                             const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  return ToInteger(*value, Join(object_path, key), "an integer");
}

absl::StatusOr<std::optional<int64_t>> FieldReader::NullableInteger(
    const Json& object, absl::string_view object_path, const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  if (value->is_null()) return std::optional<int64_t>();
  HP_ASSIGN_OR_RETURN(int64_t integer, ToInteger(*value, Join(object_path, key),
                                                 "an integer or null"));
  return std::optional<int64_t>(integer);
}

absl::StatusOr<std::optional<std::string>> FieldReader::NullableString(
    const Json& object, absl::string_view object_path, const char* key) const {
  HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
  if (value->is_null()) return std::optional<std::string>();
  if (!value->is_string()) {
    return Expected(Join(object_path, key), "a string or null", *value);
  }
  return std::optional<std::string>(value->get<std::string>());
}

absl::Status FieldReader::Expected(absl::string_view path,
                                   absl::string_view kind,
                                   const Json& value) const {
  return Error(path,
               absl::StrCat("expected ", kind, ", got ", DescribeJson(value)));
}

absl::StatusOr<int64_t> FieldReader::ToInteger(const Json& value,
                                               absl::string_view path,
                                               absl::string_view kind) const {
  if (value.is_number_unsigned()) {
    const uint64_t unsigned_value = value.get<uint64_t>();
    if (unsigned_value >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error(
          path, absl::StrCat("integer ", unsigned_value, " is out of range"));
    }
    return static_cast<int64_t>(unsigned_value);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return Expected(path, kind, value);
}

}  // namespace hp
