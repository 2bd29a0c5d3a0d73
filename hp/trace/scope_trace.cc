#include "hp/trace/scope_trace.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "hp/io/atomic_file.h"
#include "hp/util/hex_digest.h"
#include "hp/util/json_parse.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using Json = nlohmann::json;

// A string as a JSON literal: quoted and escaped, safe to print.
std::string Quote(absl::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false,
                                      Json::error_handler_t::replace);
}

// A value as an error message shows it: scalars verbatim (long strings cut
// short), containers by kind.
std::string Describe(const Json& value) {
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

// Typed access to JSON fields with errors of the form
// "<source>: <json path>: <what went wrong>".
class FieldReader {
 public:
  explicit FieldReader(absl::string_view source) : source_(source) {}

  absl::Status Error(absl::string_view path, absl::string_view what) const {
    if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(source_, ": ", what));
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", what));
  }

  static std::string Join(absl::string_view object_path, absl::string_view key) {
    return object_path.empty() ? std::string(key)
                               : absl::StrCat(object_path, ".", key);
  }

  absl::StatusOr<const Json*> Member(const Json& object,
                                     absl::string_view object_path,
                                     const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) {
      return Error(object_path, absl::StrCat("missing field \"", key, "\""));
    }
    return &*it;
  }

  absl::StatusOr<const Json*> Object(const Json& object,
                                     absl::string_view object_path,
                                     const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    if (!value->is_object()) {
      return Expected(Join(object_path, key), "an object", *value);
    }
    return value;
  }

  absl::StatusOr<const Json*> Array(const Json& object,
                                    absl::string_view object_path,
                                    const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    if (!value->is_array()) {
      return Expected(Join(object_path, key), "an array", *value);
    }
    return value;
  }

  absl::StatusOr<std::string> String(const Json& object,
                                     absl::string_view object_path,
                                     const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    if (!value->is_string()) {
      return Expected(Join(object_path, key), "a string", *value);
    }
    return value->get<std::string>();
  }

  absl::StatusOr<bool> Bool(const Json& object, absl::string_view object_path,
                            const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    if (!value->is_boolean()) {
      return Expected(Join(object_path, key), "a boolean", *value);
    }
    return value->get<bool>();
  }

  absl::StatusOr<int64_t> Integer(const Json& object,
                                  absl::string_view object_path,
                                  const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    return ToInteger(*value, Join(object_path, key), "an integer");
  }

  // The key must be present; its value may be null.
  absl::StatusOr<std::optional<int64_t>> NullableInteger(
      const Json& object, absl::string_view object_path,
      const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    if (value->is_null()) return std::optional<int64_t>();
    HP_ASSIGN_OR_RETURN(int64_t integer, ToInteger(*value, Join(object_path, key),
                                                   "an integer or null"));
    return std::optional<int64_t>(integer);
  }

  absl::StatusOr<std::optional<std::string>> NullableString(
      const Json& object, absl::string_view object_path,
      const char* key) const {
    HP_ASSIGN_OR_RETURN(const Json* value, Member(object, object_path, key));
    if (value->is_null()) return std::optional<std::string>();
    if (!value->is_string()) {
      return Expected(Join(object_path, key), "a string or null", *value);
    }
    return std::optional<std::string>(value->get<std::string>());
  }

  absl::Status Expected(absl::string_view path, absl::string_view kind,
                        const Json& value) const {
    return Error(path, absl::StrCat("expected ", kind, ", got ", Describe(value)));
  }

 private:
  absl::StatusOr<int64_t> ToInteger(const Json& value, absl::string_view path,
                                    absl::string_view kind) const {
    if (value.is_number_unsigned()) {
      const uint64_t unsigned_value = value.get<uint64_t>();
      if (unsigned_value >
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Error(path, absl::StrCat("integer ", unsigned_value,
                                        " is out of range"));
      }
      return static_cast<int64_t>(unsigned_value);
    }
    if (value.is_number_integer()) return value.get<int64_t>();
    return Expected(path, kind, value);
  }

  std::string source_;
};

// The path of a module's parent in named_modules(): the path minus its last
// dotted component ("" for top-level children of the root).
absl::string_view ParentPath(absl::string_view path) {
  const size_t dot = path.rfind('.');
  return dot == absl::string_view::npos ? absl::string_view()
                                        : path.substr(0, dot);
}

std::string ModuleIndexPath(size_t index) {
  return absl::StrCat("modules[", index, "]");
}

// The header checks, in the order the document reader makes them.
absl::Status CheckFormat(const FieldReader& reader, const std::string& format) {
  if (format == kScopeTraceFormat) return absl::OkStatus();
  return reader.Error(
      "format", absl::StrCat("expected ", Quote(kScopeTraceFormat), ", got ",
                             Describe(Json(format)),
                             "; this file is not an hp scope trace"));
}

absl::Status CheckFormatVersion(const FieldReader& reader, int64_t version) {
  if (std::find(std::begin(kSupportedTraceVersions),
                std::end(kSupportedTraceVersions),
                version) != std::end(kSupportedTraceVersions)) {
    return absl::OkStatus();
  }
  return reader.Error(
      "format_version",
      absl::StrCat("unsupported version ", version, "; this hp reads version ",
                   absl::StrJoin(kSupportedTraceVersions, ", "),
                   " (record the trace with a matching hp_record, or "
                   "upgrade hp)"));
}

absl::Status CheckOnnxSha256(const FieldReader& reader,
                             const std::string& onnx_sha256) {
  if (IsSha256HexDigest(onnx_sha256)) return absl::OkStatus();
  return reader.Error("model.onnx_sha256",
                      absl::StrCat("expected 64 lowercase hex digits, got ",
                                   Quote(onnx_sha256)));
}

// Optional: traces recorded before it was added have none ("").
absl::Status CheckOnnxStructureSha256(const FieldReader& reader,
                                      const std::optional<std::string>& digest) {
  if (!digest.has_value() || IsSha256HexDigest(*digest)) {
    return absl::OkStatus();
  }
  return reader.Error("model.onnx_structure_sha256",
                      absl::StrCat("expected 64 lowercase hex digits, got ",
                                   Quote(*digest)));
}

absl::Status CheckOpset(const FieldReader& reader, int64_t opset) {
  if (opset >= 1) return absl::OkStatus();
  return reader.Error("model.opset",
                      absl::StrCat("expected an opset >= 1, got ", opset));
}

absl::Status CheckModulesNotEmpty(const FieldReader& reader, size_t count) {
  if (count > 0) return absl::OkStatus();
  return reader.Error("modules",
                      "expected at least the root module, got an empty array");
}

// Consistency of one entry; messages end with the module's path so that
// the user can find it without counting entries.
absl::Status CheckModule(const FieldReader& reader, const std::string& at,
                         const TracedModule& module) {
  // Built only for a message: a big trace has 100k+ modules.
  auto which = [&module] {
    return absl::StrCat(" (module ", Quote(module.path), ")");
  };
  if (!module.path.empty()) {
    for (absl::string_view component : absl::StrSplit(module.path, '.')) {
      if (component.empty()) {
        return reader.Error(
            FieldReader::Join(at, "path"),
            absl::StrCat(Quote(module.path),
                         " has an empty component; module paths are dotted "
                         "names such as \"encoder.layer.0\""));
      }
    }
  }
  if (module.call_count < 0) {
    return reader.Error(FieldReader::Join(at, "call_count"),
                        absl::StrCat("expected a count >= 0, got ",
                                     module.call_count, which()));
  }
  if (module.executed != (module.call_count > 0)) {
    return reader.Error(
        at, absl::StrCat("executed is ", module.executed ? "true" : "false",
                         " but call_count is ", module.call_count, which()));
  }
  if (module.executed && !module.first_call_order.has_value()) {
    return reader.Error(
        FieldReader::Join(at, "first_call_order"),
        absl::StrCat("expected an integer for an executed module, got null",
                     which()));
  }
  if (!module.executed && module.first_call_order.has_value()) {
    return reader.Error(
        FieldReader::Join(at, "first_call_order"),
        absl::StrCat("expected null for a module that was not executed, got ",
                     *module.first_call_order, which()));
  }
  if (module.first_call_order.has_value() && *module.first_call_order < 0) {
    return reader.Error(FieldReader::Join(at, "first_call_order"),
                        absl::StrCat("expected a value >= 0, got ",
                                     *module.first_call_order, which()));
  }
  return absl::OkStatus();
}

// Adds modules[index], read and checked, to the trace's list and index: the
// root comes first, and no path twice.
absl::Status AddModule(const FieldReader& reader, size_t index,
                       TracedModule module, const std::string& root_class,
                       const std::string& root_qualified_class,
                       std::vector<TracedModule>* modules,
                       absl::flat_hash_map<std::string, int>* index_by_path) {
  const std::string at = ModuleIndexPath(index);
  if (index == 0) {
    if (!module.path.empty()) {
      return reader.Error(
          at, absl::StrCat("the first module must be the root (path \"\"), "
                           "got path ",
                           Quote(module.path)));
    }
    if (module.class_name != root_class) {
      return reader.Error(
          FieldReader::Join(at, "class"),
          absl::StrCat(Quote(module.class_name), " differs from root.class ",
                       Quote(root_class)));
    }
    if (module.qualified_class != root_qualified_class) {
      return reader.Error(
          FieldReader::Join(at, "qualified_class"),
          absl::StrCat(Quote(module.qualified_class),
                       " differs from root.qualified_class ",
                       Quote(root_qualified_class)));
    }
  }
  const auto [it, inserted] =
      index_by_path->try_emplace(module.path, static_cast<int>(index));
  if (!inserted) {
    return reader.Error(
        FieldReader::Join(at, "path"),
        absl::StrCat("duplicate path ", Quote(module.path), " (also ",
                     ModuleIndexPath(it->second), ")"));
  }
  modules->push_back(std::move(module));
  return absl::OkStatus();
}

// Links parents once every path is known: named_modules() lists every
// prefix of a path (containers such as ModuleList are modules too).
absl::Status LinkParents(
    const FieldReader& reader,
    const absl::flat_hash_map<std::string, int>& index_by_path,
    std::vector<TracedModule>* modules) {
  for (size_t i = 1; i < modules->size(); ++i) {
    TracedModule& module = (*modules)[i];
    const absl::string_view parent_path = ParentPath(module.path);
    auto parent = index_by_path.find(parent_path);
    if (parent == index_by_path.end()) {
      return reader.Error(
          FieldReader::Join(ModuleIndexPath(i), "path"),
          absl::StrCat("parent module ", Quote(parent_path), " of ",
                       Quote(module.path),
                       " is not in the trace (every dotted prefix of a "
                       "module path must itself be a module)"));
    }
    module.parent = parent->second;
    (*modules)[parent->second].children.push_back(static_cast<int>(i));
  }
  return absl::OkStatus();
}

absl::StatusOr<TracedModule> ParseModule(const FieldReader& reader,
                                         const Json& entry, size_t index) {
  const std::string at = ModuleIndexPath(index);
  if (!entry.is_object()) return reader.Expected(at, "an object", entry);
  TracedModule module;
  HP_ASSIGN_OR_RETURN(module.path, reader.String(entry, at, "path"));
  HP_ASSIGN_OR_RETURN(module.class_name, reader.String(entry, at, "class"));
  HP_ASSIGN_OR_RETURN(module.qualified_class,
                      reader.String(entry, at, "qualified_class"));
  HP_ASSIGN_OR_RETURN(module.is_torch_nn,
                      reader.Bool(entry, at, "is_torch_nn"));
  HP_ASSIGN_OR_RETURN(module.executed, reader.Bool(entry, at, "executed"));
  HP_ASSIGN_OR_RETURN(module.call_count,
                      reader.Integer(entry, at, "call_count"));
  HP_ASSIGN_OR_RETURN(module.first_call_order,
                      reader.NullableInteger(entry, at, "first_call_order"));
  HP_ASSIGN_OR_RETURN(module.recorded_tag,
                      reader.NullableString(entry, at, "tag"));
  HP_RETURN_IF_ERROR(CheckModule(reader, at, module));
  return module;
}

// The fast path. hp_record writes plain JSON: ASCII strings without
// escapes, integers, booleans and nulls. A big model's trace holds 100k+
// modules (27 MB for a million nodes), which a JSON document takes ~0.6 s to
// build and free; plain text is read here straight into the fields. On
// anything else (escapes, non-ASCII text, fractions, a duplicate or missing
// field, a wrong type) the fast path gives up and the document reader reads
// the text again: it reads every JSON text and words every error.
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
    if (pos_ < text_.size() && (absl::ascii_isdigit(text_[pos_]) ||
                                text_[pos_] == '.' || text_[pos_] == 'e' ||
                                text_[pos_] == 'E')) {
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

// Which of an object's known fields were read: each once, all of them.
class FieldSet {
 public:
  explicit FieldSet(int count) : all_((1u << count) - 1) {}
  // False for a field read before: a duplicate key is not plain.
  bool First(int field) {
    const uint32_t bit = 1u << field;
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
  }
  // Fields numbered `count` and up are optional.
  bool Complete() const { return (seen_ & all_) == all_; }

 private:
  uint32_t all_;
  uint32_t seen_ = 0;
};

struct PlainTrace {
  std::string format;
  int64_t format_version = 0;
  TraceProducer producer;
  std::string onnx_file;
  std::string onnx_sha256;
  std::optional<std::string> onnx_structure_sha256;
  int64_t opset = 0;
  std::string root_class;
  std::string root_qualified_class;
  std::vector<TracedModule> modules;
};

bool ReadPlainModule(PlainJsonReader* json, TracedModule* module) {
  enum { kPath, kClass, kQualified, kTorchNn, kExecuted, kCalls, kOrder, kTag };
  FieldSet fields(8);
  const bool read = json->Object([&](absl::string_view key) {
    if (key == "path") {
      return fields.First(kPath) && json->String(&module->path);
    }
    if (key == "class") {
      return fields.First(kClass) && json->String(&module->class_name);
    }
    if (key == "qualified_class") {
      return fields.First(kQualified) && json->String(&module->qualified_class);
    }
    if (key == "is_torch_nn") {
      return fields.First(kTorchNn) && json->Bool(&module->is_torch_nn);
    }
    if (key == "executed") {
      return fields.First(kExecuted) && json->Bool(&module->executed);
    }
    if (key == "call_count") {
      return fields.First(kCalls) && json->Integer(&module->call_count);
    }
    if (key == "first_call_order") {
      if (!fields.First(kOrder)) return false;
      if (json->Null()) return true;
      int64_t order;
      if (!json->Integer(&order)) return false;
      module->first_call_order = order;
      return true;
    }
    if (key == "tag") {
      if (!fields.First(kTag)) return false;
      if (json->Null()) return true;
      return json->String(&module->recorded_tag.emplace());
    }
    return json->Skip();
  });
  return read && fields.Complete();
}

bool ReadPlainFields(absl::string_view text, PlainTrace* trace) {
  PlainJsonReader json(text);
  enum { kFormat, kVersion, kProducer, kModel, kRoot, kModules };
  FieldSet fields(6);
  const bool read = json.Object([&](absl::string_view key) {
    if (key == "format") {
      return fields.First(kFormat) && json.String(&trace->format);
    }
    if (key == "format_version") {
      return fields.First(kVersion) && json.Integer(&trace->format_version);
    }
    if (key == "producer") {
      FieldSet producer(2);
      return fields.First(kProducer) &&
             json.Object([&](absl::string_view key) {
               if (key == "name") {
                 return producer.First(0) && json.String(&trace->producer.name);
               }
               if (key == "torch_version") {
                 return producer.First(1) &&
                        json.String(&trace->producer.torch_version);
               }
               return json.Skip();
             }) &&
             producer.Complete();
    }
    if (key == "model") {
      FieldSet model(3);
      return fields.First(kModel) &&
             json.Object([&](absl::string_view key) {
               if (key == "onnx_file") {
                 return model.First(0) && json.String(&trace->onnx_file);
               }
               if (key == "onnx_sha256") {
                 return model.First(1) && json.String(&trace->onnx_sha256);
               }
               if (key == "opset") {
                 return model.First(2) && json.Integer(&trace->opset);
               }
               if (key == "onnx_structure_sha256") {
                 return model.First(3) &&
                        json.String(&trace->onnx_structure_sha256.emplace());
               }
               return json.Skip();
             }) &&
             model.Complete();
    }
    if (key == "root") {
      FieldSet root(2);
      return fields.First(kRoot) &&
             json.Object([&](absl::string_view key) {
               if (key == "class") {
                 return root.First(0) && json.String(&trace->root_class);
               }
               if (key == "qualified_class") {
                 return root.First(1) &&
                        json.String(&trace->root_qualified_class);
               }
               return json.Skip();
             }) &&
             root.Complete();
    }
    if (key == "modules") {
      return fields.First(kModules) && json.Array([&] {
        return ReadPlainModule(&json, &trace->modules.emplace_back());
      });
    }
    return json.Skip();
  });
  return read && fields.Complete() && json.AtEnd();
}

// The trace's fields when the text is plain JSON and passes the checks of
// the header and of each entry; nullopt otherwise.
std::optional<PlainTrace> ReadPlainTrace(absl::string_view text,
                                         const FieldReader& reader) {
  PlainTrace trace;
  if (!ReadPlainFields(text, &trace) ||
      !CheckFormat(reader, trace.format).ok() ||
      !CheckFormatVersion(reader, trace.format_version).ok() ||
      !CheckOnnxSha256(reader, trace.onnx_sha256).ok() ||
      !CheckOnnxStructureSha256(reader, trace.onnx_structure_sha256).ok() ||
      !CheckOpset(reader, trace.opset).ok() ||
      !CheckModulesNotEmpty(reader, trace.modules.size()).ok()) {
    return std::nullopt;
  }
  for (size_t i = 0; i < trace.modules.size(); ++i) {
    if (!CheckModule(reader, ModuleIndexPath(i), trace.modules[i]).ok()) {
      return std::nullopt;
    }
  }
  return trace;
}

}  // namespace

const TracedModule* ScopeTrace::Find(absl::string_view path) const {
  const int index = IndexOf(path);
  return index < 0 ? nullptr : &modules_[index];
}

int ScopeTrace::IndexOf(absl::string_view path) const {
  auto it = index_by_path_.find(path);
  return it == index_by_path_.end() ? -1 : it->second;
}

absl::StatusOr<ScopeTrace> ParseScopeTrace(absl::string_view json_text,
                                           absl::string_view source) {
  const FieldReader reader(source);
  if (std::optional<PlainTrace> plain = ReadPlainTrace(json_text, reader)) {
    ScopeTrace trace;
    trace.source_ = std::string(source);
    trace.text_sha256_ = Sha256Hex(json_text);
    trace.format_version_ = plain->format_version;
    trace.producer_ = std::move(plain->producer);
    trace.onnx_file_ = std::move(plain->onnx_file);
    trace.onnx_sha256_ = std::move(plain->onnx_sha256);
    trace.onnx_structure_sha256_ =
        std::move(plain->onnx_structure_sha256).value_or("");
    trace.opset_ = plain->opset;
    trace.root_class_ = std::move(plain->root_class);
    trace.root_qualified_class_ = std::move(plain->root_qualified_class);
    trace.modules_.reserve(plain->modules.size());
    trace.index_by_path_.reserve(plain->modules.size());
    bool added = true;
    for (size_t i = 0; added && i < plain->modules.size(); ++i) {
      added = AddModule(reader, i, std::move(plain->modules[i]),
                        trace.root_class_, trace.root_qualified_class_,
                        &trace.modules_, &trace.index_by_path_)
                  .ok();
    }
    if (added &&
        LinkParents(reader, trace.index_by_path_, &trace.modules_).ok()) {
      return trace;
    }
    // The document reader below words what is wrong.
  }

  HP_ASSIGN_OR_RETURN(const Json document, ParseJson(json_text, source));
  if (!document.is_object()) {
    return reader.Error(
        "", absl::StrCat("expected a JSON object at the top level, got ",
                         Describe(document)));
  }

  // Format and version come first: past them, the layout is version's.
  HP_ASSIGN_OR_RETURN(const std::string format,
                      reader.String(document, "", "format"));
  HP_RETURN_IF_ERROR(CheckFormat(reader, format));
  ScopeTrace trace;
  trace.source_ = std::string(source);
  trace.text_sha256_ = Sha256Hex(json_text);
  HP_ASSIGN_OR_RETURN(trace.format_version_,
                      reader.Integer(document, "", "format_version"));
  HP_RETURN_IF_ERROR(CheckFormatVersion(reader, trace.format_version_));

  HP_ASSIGN_OR_RETURN(const Json* producer,
                      reader.Object(document, "", "producer"));
  HP_ASSIGN_OR_RETURN(trace.producer_.name,
                      reader.String(*producer, "producer", "name"));
  HP_ASSIGN_OR_RETURN(trace.producer_.torch_version,
                      reader.String(*producer, "producer", "torch_version"));

  HP_ASSIGN_OR_RETURN(const Json* model, reader.Object(document, "", "model"));
  HP_ASSIGN_OR_RETURN(trace.onnx_file_,
                      reader.String(*model, "model", "onnx_file"));
  HP_ASSIGN_OR_RETURN(trace.onnx_sha256_,
                      reader.String(*model, "model", "onnx_sha256"));
  HP_RETURN_IF_ERROR(CheckOnnxSha256(reader, trace.onnx_sha256_));
  if (model->contains("onnx_structure_sha256")) {
    HP_ASSIGN_OR_RETURN(
        trace.onnx_structure_sha256_,
        reader.String(*model, "model", "onnx_structure_sha256"));
    HP_RETURN_IF_ERROR(
        CheckOnnxStructureSha256(reader, trace.onnx_structure_sha256_));
  }
  HP_ASSIGN_OR_RETURN(trace.opset_, reader.Integer(*model, "model", "opset"));
  HP_RETURN_IF_ERROR(CheckOpset(reader, trace.opset_));

  HP_ASSIGN_OR_RETURN(const Json* root, reader.Object(document, "", "root"));
  HP_ASSIGN_OR_RETURN(trace.root_class_, reader.String(*root, "root", "class"));
  HP_ASSIGN_OR_RETURN(trace.root_qualified_class_,
                      reader.String(*root, "root", "qualified_class"));

  HP_ASSIGN_OR_RETURN(const Json* modules,
                      reader.Array(document, "", "modules"));
  HP_RETURN_IF_ERROR(CheckModulesNotEmpty(reader, modules->size()));
  trace.modules_.reserve(modules->size());
  for (size_t i = 0; i < modules->size(); ++i) {
    HP_ASSIGN_OR_RETURN(TracedModule module,
                        ParseModule(reader, (*modules)[i], i));
    HP_RETURN_IF_ERROR(AddModule(reader, i, std::move(module),
                                 trace.root_class_, trace.root_qualified_class_,
                                 &trace.modules_, &trace.index_by_path_));
  }
  HP_RETURN_IF_ERROR(
      LinkParents(reader, trace.index_by_path_, &trace.modules_));
  return trace;
}

absl::StatusOr<ScopeTrace> LoadScopeTrace(const std::string& path) {
  HP_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseScopeTrace(text, path);
}

absl::StatusOr<DigestCheck> ParseDigestCheck(absl::string_view text) {
  if (text == "error") return DigestCheck::kError;
  if (text == "warn") return DigestCheck::kWarn;
  return absl::InvalidArgumentError(
      absl::StrCat("--", kDigestCheckFlag, ": expected \"error\" or \"warn\", got ",
                   Quote(text)));
}

DigestKind DigestToCheck(const ScopeTrace& trace) {
  return trace.onnx_structure_sha256().empty() ? DigestKind::kFile
                                               : DigestKind::kStructure;
}

absl::StatusOr<std::vector<std::string>> CheckTraceDigest(
    const ScopeTrace& trace, absl::string_view model_path,
    const ModelDigests& model, DigestCheck mode) {
  const bool structure = !trace.onnx_structure_sha256().empty() &&
                         !model.structure_sha256.empty();
  const std::string& recorded =
      structure ? trace.onnx_structure_sha256() : trace.onnx_sha256();
  const std::string& given = structure ? model.structure_sha256 : model.sha256;
  if (given.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": no digest to check ", trace.source(),
        " against: the model's structure sha256 is not known and its sha256 "
        "is not given"));
  }
  const std::string model_digest = absl::AsciiStrToLower(given);
  if (!IsSha256HexDigest(model_digest)) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": expected a SHA-256 of 64 hex digits, got ",
                     Quote(given)));
  }
  if (model_digest == recorded) return std::vector<std::string>();

  const char* name = structure ? "structure sha256 " : "sha256 ";
  const std::string mismatch = absl::StrCat(
      model_path, ": ", name, model_digest, " does not match ",
      trace.source(), ", which was recorded for ", Quote(trace.onnx_file()),
      " with ", name, recorded,
      "; the trace belongs to another model (or to an earlier export of it)");
  if (mode == DigestCheck::kWarn) {
    return std::vector<std::string>{absl::StrCat(
        mismatch, "; converting anyway (--", kDigestCheckFlag, "=warn)")};
  }
  return absl::FailedPreconditionError(absl::StrCat(
      mismatch, "; re-record the trace for this model, or pass --",
      kDigestCheckFlag, "=warn to convert anyway"));
}

}  // namespace hp
