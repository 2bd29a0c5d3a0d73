#include "hp/trace/scope_trace.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <future>
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
#include "hp/trace/module_path.h"
#include "hp/trace/plain_trace.h"
#include "hp/util/hex_digest.h"
#include "hp/util/json_fields.h"
#include "hp/util/json_parse.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using Json = nlohmann::json;

std::string ModuleIndexPath(size_t index) {
  return absl::StrCat("modules[", index, "]");
}

// The header checks, in the order the document reader makes them.
absl::Status CheckFormat(const FieldReader& reader, const std::string& format) {
  if (format == kScopeTraceFormat) return absl::OkStatus();
  return reader.Error("format",
                      absl::StrCat("expected ", QuoteJson(kScopeTraceFormat),
                                   ", got ", DescribeJson(Json(format)),
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
                                   QuoteJson(onnx_sha256)));
}

// Optional: traces recorded before it was added have none ("").
absl::Status CheckOnnxStructureSha256(
    const FieldReader& reader, const std::optional<std::string>& digest) {
  if (!digest.has_value() || IsSha256HexDigest(*digest)) {
    return absl::OkStatus();
  }
  return reader.Error("model.onnx_structure_sha256",
                      absl::StrCat("expected 64 lowercase hex digits, got ",
                                   QuoteJson(*digest)));
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
    return absl::StrCat(" (module ", QuoteJson(module.path), ")");
  };
  if (!module.path.empty()) {
    for (absl::string_view component : absl::StrSplit(module.path, '.')) {
      if (component.empty()) {
        return reader.Error(
            FieldReader::Join(at, "path"),
            absl::StrCat(QuoteJson(module.path),
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

// Indexes modules[index], read, checked and already in `modules` (whose
// storage stays put: the index holds views of its paths): the root comes
// first, and no path twice.
absl::Status IndexModule(
    const FieldReader& reader, size_t index,
    const std::vector<TracedModule>& modules, const std::string& root_class,
    const std::string& root_qualified_class,
    absl::flat_hash_map<absl::string_view, int>* index_by_path) {
  const TracedModule& module = modules[index];
  const std::string at = ModuleIndexPath(index);
  if (index == 0) {
    if (!module.path.empty()) {
      return reader.Error(
          at, absl::StrCat("the first module must be the root (path \"\"), "
                           "got path ",
                           QuoteJson(module.path)));
    }
    if (module.class_name != root_class) {
      return reader.Error(
          FieldReader::Join(at, "class"),
          absl::StrCat(QuoteJson(module.class_name),
                       " differs from root.class ", QuoteJson(root_class)));
    }
    if (module.qualified_class != root_qualified_class) {
      return reader.Error(FieldReader::Join(at, "qualified_class"),
                          absl::StrCat(QuoteJson(module.qualified_class),
                                       " differs from root.qualified_class ",
                                       QuoteJson(root_qualified_class)));
    }
  }
  const auto [it, inserted] =
      index_by_path->try_emplace(module.path, static_cast<int>(index));
  if (!inserted) {
    return reader.Error(
        FieldReader::Join(at, "path"),
        absl::StrCat("duplicate path ", QuoteJson(module.path), " (also ",
                     ModuleIndexPath(it->second), ")"));
  }
  return absl::OkStatus();
}

// Links parents once every path is known: named_modules() lists every
// prefix of a path (containers such as ModuleList are modules too).
// Children are listed in trace order, all in one array.
absl::Status LinkParents(
    const FieldReader& reader,
    const absl::flat_hash_map<absl::string_view, int>& index_by_path,
    std::vector<TracedModule>* modules, std::vector<int>* child_begin,
    std::vector<int>* children) {
  for (size_t i = 1; i < modules->size(); ++i) {
    TracedModule& module = (*modules)[i];
    const absl::string_view parent_path = ParentPath(module.path);
    auto parent = index_by_path.find(parent_path);
    if (parent == index_by_path.end()) {
      return reader.Error(
          FieldReader::Join(ModuleIndexPath(i), "path"),
          absl::StrCat("parent module ", QuoteJson(parent_path), " of ",
                       QuoteJson(module.path),
                       " is not in the trace (every dotted prefix of a "
                       "module path must itself be a module)"));
    }
    module.parent = parent->second;
  }
  // Counted, summed into starts, then placed in index order.
  child_begin->assign(modules->size() + 1, 0);
  for (size_t i = 1; i < modules->size(); ++i) {
    ++(*child_begin)[(*modules)[i].parent + 1];
  }
  for (size_t i = 1; i < child_begin->size(); ++i) {
    (*child_begin)[i] += (*child_begin)[i - 1];
  }
  children->resize(modules->size() - 1);
  std::vector<int> next(child_begin->begin(), child_begin->end() - 1);
  for (size_t i = 1; i < modules->size(); ++i) {
    (*children)[next[(*modules)[i].parent]++] = static_cast<int>(i);
  }
  return absl::OkStatus();
}

// Checks the `calls` entries against the modules and adds them: each names
// a module of the trace other than the root, and runs inside an earlier
// call or the root's forward.
absl::Status AddCalls(
    const FieldReader& reader, const std::vector<PlainCall>& entries,
    const absl::flat_hash_map<absl::string_view, int>& index_by_path,
    std::vector<TracedCall>* calls) {
  calls->reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string at = absl::StrCat("calls[", i, "]");
    const PlainCall& entry = entries[i];
    auto module = index_by_path.find(entry.path);
    if (module == index_by_path.end()) {
      return reader.Error(FieldReader::Join(at, "path"),
                          absl::StrCat(QuoteJson(entry.path),
                                       " is not the path of a module in "
                                       "modules"));
    }
    if (module->second == 0) {
      return reader.Error(FieldReader::Join(at, "path"),
                          "the root is not a call (its forward is not hooked)");
    }
    const int64_t parent = entry.parent.value_or(-1);
    if (entry.parent.has_value() &&
        (parent < 0 || parent >= static_cast<int64_t>(i))) {
      return reader.Error(
          FieldReader::Join(at, "parent"),
          absl::StrCat("expected the index of an earlier call (0 to ",
                       static_cast<int64_t>(i) - 1, ") or null, got ", parent,
                       " (call of ", QuoteJson(entry.path), ")"));
    }
    calls->push_back({module->second, static_cast<int>(parent)});
  }
  return absl::OkStatus();
}

absl::StatusOr<PlainCall> ParseCall(const FieldReader& reader,
                                    const Json& entry, size_t index) {
  const std::string at = absl::StrCat("calls[", index, "]");
  if (!entry.is_object()) return reader.Expected(at, "an object", entry);
  PlainCall call;
  HP_ASSIGN_OR_RETURN(call.path, reader.String(entry, at, "path"));
  HP_ASSIGN_OR_RETURN(call.parent, reader.NullableInteger(entry, at, "parent"));
  return call;
}

absl::StatusOr<TracedModule> ParseModule(const FieldReader& reader,
                                         const Json& entry, size_t index,
                                         StringArena* strings) {
  const std::string at = ModuleIndexPath(index);
  if (!entry.is_object()) return reader.Expected(at, "an object", entry);
  TracedModule module;
  HP_ASSIGN_OR_RETURN(const std::string path, reader.String(entry, at, "path"));
  HP_ASSIGN_OR_RETURN(const std::string class_name,
                      reader.String(entry, at, "class"));
  HP_ASSIGN_OR_RETURN(const std::string qualified_class,
                      reader.String(entry, at, "qualified_class"));
  module.path = strings->Store(path);
  module.class_name = strings->StoreOnce(class_name);
  module.qualified_class = strings->StoreOnce(qualified_class);
  HP_ASSIGN_OR_RETURN(module.is_torch_nn,
                      reader.Bool(entry, at, "is_torch_nn"));
  HP_ASSIGN_OR_RETURN(module.executed, reader.Bool(entry, at, "executed"));
  HP_ASSIGN_OR_RETURN(module.call_count,
                      reader.Integer(entry, at, "call_count"));
  HP_ASSIGN_OR_RETURN(module.first_call_order,
                      reader.NullableInteger(entry, at, "first_call_order"));
  HP_ASSIGN_OR_RETURN(const std::optional<std::string> tag,
                      reader.NullableString(entry, at, "tag"));
  if (tag.has_value()) module.recorded_tag = strings->Store(*tag);
  HP_RETURN_IF_ERROR(CheckModule(reader, at, module));
  return module;
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

ScopeTrace::ScopeTrace(const ScopeTrace& other)
    : origin_(other.origin_),
      format_version_(other.format_version_),
      producer_(other.producer_),
      text_sha256_(other.text_sha256_),
      opset_(other.opset_),
      root_class_(other.root_class_),
      root_qualified_class_(other.root_qualified_class_),
      modules_(other.modules_),
      has_calls_(other.has_calls_),
      calls_(other.calls_),
      child_begin_(other.child_begin_),
      children_(other.children_) {
  index_by_path_.reserve(modules_.size());
  for (size_t i = 0; i < modules_.size(); ++i) {
    TracedModule& module = modules_[i];
    module.path = strings_.Store(module.path);
    module.class_name = strings_.StoreOnce(module.class_name);
    module.qualified_class = strings_.StoreOnce(module.qualified_class);
    if (module.recorded_tag.has_value()) {
      module.recorded_tag = strings_.Store(*module.recorded_tag);
    }
    index_by_path_.emplace(module.path, static_cast<int>(i));
  }
}

void ScopeTrace::ForgetModulesButRoot() { TakeModules(); }

ScopeTrace::TakenModules ScopeTrace::TakeModules() {
  TakenModules taken;
  // The root views the taken strings, which stay where they are: it is
  // stored again in an arena of its own.
  TracedModule root = modules_.front();
  taken.strings = std::move(strings_);
  taken.modules = std::move(modules_);
  taken.index_by_path = std::move(index_by_path_);
  taken.has_calls = std::exchange(has_calls_, false);
  taken.calls = std::move(calls_);
  strings_ = StringArena();
  root.path = strings_.Store(root.path);
  root.class_name = strings_.StoreOnce(root.class_name);
  root.qualified_class = strings_.StoreOnce(root.qualified_class);
  if (root.recorded_tag.has_value()) {
    root.recorded_tag = strings_.Store(*root.recorded_tag);
  }
  modules_ = {root};
  calls_.clear();
  child_begin_.assign({0, 0});
  std::vector<int>().swap(children_);
  index_by_path_ = {{root.path, 0}};
  return taken;
}

const TracedModule* ScopeTrace::Find(absl::string_view path) const {
  const int index = IndexOf(path);
  return index < 0 ? nullptr : &modules_[index];
}

int ScopeTrace::IndexOf(absl::string_view path) const {
  auto it = index_by_path_.find(path);
  return it == index_by_path_.end() ? -1 : it->second;
}

namespace {

// Sha256Hex of a trace's text, which tagged models record: a large text is
// hashed on another core while it is parsed (27 MB for a million nodes).
class TextDigest {
 public:
  explicit TextDigest(absl::string_view text) : text_(text) {
    constexpr size_t kHashAsideFrom = size_t{4} << 20;
    if (text.size() >= kHashAsideFrom) {
      hashing_ =
          std::async(std::launch::async, [text] { return Sha256Hex(text); });
    }
  }

  std::string Get() {
    if (!digest_.has_value()) {
      digest_ = hashing_.valid() ? hashing_.get() : Sha256Hex(text_);
    }
    return *digest_;
  }

 private:
  absl::string_view text_;
  std::future<std::string> hashing_;
  std::optional<std::string> digest_;
};

}  // namespace

absl::StatusOr<ScopeTrace> ParseScopeTrace(absl::string_view json_text,
                                           absl::string_view source) {
  const FieldReader reader(source);
  TextDigest text_digest(json_text);
  if (std::optional<PlainTrace> plain = ReadPlainTrace(json_text, reader)) {
    ScopeTrace trace;
    trace.origin_.source = std::string(source);
    trace.text_sha256_ = text_digest.Get();
    trace.format_version_ = plain->format_version;
    trace.producer_ = std::move(plain->producer);
    trace.origin_.onnx_file = std::move(plain->onnx_file);
    trace.origin_.onnx_sha256 = std::move(plain->onnx_sha256);
    trace.origin_.onnx_structure_sha256 =
        std::move(plain->onnx_structure_sha256).value_or("");
    trace.opset_ = plain->opset;
    trace.root_class_ = std::move(plain->root_class);
    trace.root_qualified_class_ = std::move(plain->root_qualified_class);
    trace.strings_ = std::move(plain->strings);
    trace.modules_ = std::move(plain->modules);
    trace.index_by_path_.reserve(trace.modules_.size());
    bool added = true;
    for (size_t i = 0; added && i < trace.modules_.size(); ++i) {
      added = IndexModule(reader, i, trace.modules_, trace.root_class_,
                          trace.root_qualified_class_, &trace.index_by_path_)
                  .ok();
    }
    trace.has_calls_ = plain->calls.has_value();
    if (added &&
        LinkParents(reader, trace.index_by_path_, &trace.modules_,
                    &trace.child_begin_, &trace.children_)
            .ok() &&
        (!trace.has_calls_ ||
         AddCalls(reader, *plain->calls, trace.index_by_path_, &trace.calls_)
             .ok())) {
      return trace;
    }
    // The document reader below words what is wrong.
  }

  HP_ASSIGN_OR_RETURN(const Json document, ParseJson(json_text, source));
  if (!document.is_object()) {
    return reader.Error(
        "", absl::StrCat("expected a JSON object at the top level, got ",
                         DescribeJson(document)));
  }

  // Format and version come first: past them, the layout is version's.
  HP_ASSIGN_OR_RETURN(const std::string format,
                      reader.String(document, "", "format"));
  HP_RETURN_IF_ERROR(CheckFormat(reader, format));
  ScopeTrace trace;
  trace.origin_.source = std::string(source);
  trace.text_sha256_ = text_digest.Get();
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
  HP_ASSIGN_OR_RETURN(trace.origin_.onnx_file,
                      reader.String(*model, "model", "onnx_file"));
  HP_ASSIGN_OR_RETURN(trace.origin_.onnx_sha256,
                      reader.String(*model, "model", "onnx_sha256"));
  HP_RETURN_IF_ERROR(CheckOnnxSha256(reader, trace.origin_.onnx_sha256));
  if (model->contains("onnx_structure_sha256")) {
    HP_ASSIGN_OR_RETURN(
        trace.origin_.onnx_structure_sha256,
        reader.String(*model, "model", "onnx_structure_sha256"));
    HP_RETURN_IF_ERROR(
        CheckOnnxStructureSha256(reader, trace.origin_.onnx_structure_sha256));
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
  // Reserved so that adding moves no module: the index views their paths.
  trace.modules_.reserve(modules->size());
  trace.index_by_path_.reserve(modules->size());
  for (size_t i = 0; i < modules->size(); ++i) {
    HP_ASSIGN_OR_RETURN(TracedModule module,
                        ParseModule(reader, (*modules)[i], i, &trace.strings_));
    trace.modules_.push_back(std::move(module));
    HP_RETURN_IF_ERROR(IndexModule(reader, i, trace.modules_, trace.root_class_,
                                   trace.root_qualified_class_,
                                   &trace.index_by_path_));
  }
  HP_RETURN_IF_ERROR(LinkParents(reader, trace.index_by_path_, &trace.modules_,
                                 &trace.child_begin_, &trace.children_));

  // Optional: traces recorded before it was added have none.
  if (document.contains("calls")) {
    HP_ASSIGN_OR_RETURN(const Json* calls, reader.Array(document, "", "calls"));
    std::vector<PlainCall> entries;
    entries.reserve(calls->size());
    for (size_t i = 0; i < calls->size(); ++i) {
      HP_ASSIGN_OR_RETURN(PlainCall call, ParseCall(reader, (*calls)[i], i));
      entries.push_back(std::move(call));
    }
    trace.has_calls_ = true;
    HP_RETURN_IF_ERROR(
        AddCalls(reader, entries, trace.index_by_path_, &trace.calls_));
  }
  return trace;
}

absl::StatusOr<ScopeTrace> LoadScopeTrace(const std::string& path,
                                          uint64_t max_bytes) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the trace is ", size, " bytes, over hp's limit of ", max_bytes,
        " bytes for a trace (its JSON is held in memory)"));
  }
  HP_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseScopeTrace(text, path);
}

}  // namespace hp
