// Stage 2 of the pipeline: reads the scope trace that hp_record writes at
// export time (JSON text in; a validated ScopeTrace with parent/child links
// out). Whether it belongs to a model is trace_binding's question.
#ifndef HP_TRACE_SCOPE_TRACE_H_
#define HP_TRACE_SCOPE_TRACE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "hp/util/string_arena.h"

namespace hp {

// The `format` value every scope trace carries.
inline constexpr char kScopeTraceFormat[] = "hp-scope-trace";
// The format versions this reader understands.
inline constexpr int64_t kSupportedTraceVersions[] = {1};

// One entry of the trace's `modules`: a module of torch's named_modules().
// Its strings are views of the ScopeTrace's own copies.
struct TracedModule {
  absl::string_view path;  // dotted path, "" for the root
  absl::string_view class_name;
  absl::string_view qualified_class;
  bool is_torch_nn = false;
  bool executed = false;
  int64_t call_count = 0;
  std::optional<int64_t> first_call_order;        // set iff executed
  std::optional<absl::string_view> recorded_tag;  // the recorder's tag, if any
  int parent = -1;  // index into ScopeTrace::modules(); -1 for root
};

// One entry of the trace's `calls`: a forward call of a submodule.
struct TracedCall {
  int module = 0;   // index into ScopeTrace::modules(); never the root
  int parent = -1;  // index of the call it ran inside; -1: the root's forward
};

struct TraceProducer {
  std::string name;
  std::string torch_version;
};

// What a trace says of where it came from: all that checking it against a
// model reads (trace_binding), a few strings to keep once the modules are
// no longer needed.
struct TraceOrigin {
  std::string source;  // the file name, for messages
  std::string onnx_file;
  std::string onnx_sha256;
  std::string onnx_structure_sha256;  // "" in traces older than the field
};

// A parsed and validated trace. modules()[0] is the root; every other
// module's parent (its path minus the last dotted component) is in the trace.
class ScopeTrace {
 public:
  // The modules and the index view strings the trace owns: a move keeps
  // them in place, a copy makes its own.
  ScopeTrace(ScopeTrace&&) = default;
  ScopeTrace& operator=(ScopeTrace&&) = default;
  ScopeTrace(const ScopeTrace& other);
  ScopeTrace& operator=(const ScopeTrace& other) {
    return *this = ScopeTrace(other);
  }

  const TraceOrigin& origin() const { return origin_; }
  // Where the trace came from (a file name), for messages.
  const std::string& source() const { return origin_.source; }
  int64_t format_version() const { return format_version_; }
  const TraceProducer& producer() const { return producer_; }
  // The model the trace was recorded with.
  const std::string& onnx_file() const { return origin_.onnx_file; }
  const std::string& onnx_sha256() const { return origin_.onnx_sha256; }
  // The model's structure digest (hp/io/structure_digest.h); "" in traces
  // recorded before it was added.
  const std::string& onnx_structure_sha256() const {
    return origin_.onnx_structure_sha256;
  }
  // SHA-256 of the trace text itself, recorded in models tagged with it.
  const std::string& text_sha256() const { return text_sha256_; }
  int64_t opset() const { return opset_; }
  const std::string& root_class() const { return root_class_; }
  const std::string& root_qualified_class() const {
    return root_qualified_class_;
  }

  const std::vector<TracedModule>& modules() const { return modules_; }
  // Every call in the order the calls began. Traces recorded before the
  // field existed have none: has_calls() is false.
  bool has_calls() const { return has_calls_; }
  const std::vector<TracedCall>& calls() const { return calls_; }
  const TracedModule& root() const { return modules_.front(); }
  // Indices of the module's children, in trace order.
  absl::Span<const int> children(int index) const {
    return absl::MakeConstSpan(children_.data() + child_begin_[index],
                               child_begin_[index + 1] - child_begin_[index]);
  }
  // nullptr / -1 when no module has that path.
  const TracedModule* Find(absl::string_view path) const;
  int IndexOf(absl::string_view path) const;

  // Frees every module but the root, and the calls (has_calls() is false
  // after): for a caller that has what it needs of them (a module table of
  // its own) and keeps the trace for its origin and digests: about 12 MB
  // for 120,000 modules.
  void ForgetModulesButRoot();

  // What TakeModules moves out: the modules, the strings they view, their
  // index by path and the calls (empty unless `has_calls`).
  struct TakenModules {
    StringArena strings;
    std::vector<TracedModule> modules;
    absl::flat_hash_map<absl::string_view, int> index_by_path;
    bool has_calls = false;
    std::vector<TracedCall> calls;
  };
  // ForgetModulesButRoot, handing what it frees to the caller: for a module
  // table that views the trace's strings and reuses its index rather than
  // copying both (120,000 modules: 20 ms).
  TakenModules TakeModules();

 private:
  friend absl::StatusOr<ScopeTrace> ParseScopeTrace(absl::string_view,
                                                    absl::string_view);
  ScopeTrace() = default;

  TraceOrigin origin_;
  int64_t format_version_ = 0;
  TraceProducer producer_;
  std::string text_sha256_;
  int64_t opset_ = 0;
  std::string root_class_;
  std::string root_qualified_class_;
  // The modules' strings: each path once, each class once.
  StringArena strings_;
  std::vector<TracedModule> modules_;
  bool has_calls_ = false;
  std::vector<TracedCall> calls_;
  // Module i's children are children_[child_begin_[i], child_begin_[i+1]):
  // two arrays rather than a vector per module.
  std::vector<int> child_begin_;
  std::vector<int> children_;
  // Keyed by views of modules_[i].path: one copy of each path.
  absl::flat_hash_map<absl::string_view, int> index_by_path_;
};

// Parses and validates trace JSON. `source` (normally the file name) starts
// every error message. Unknown keys are ignored at every level so that later
// format versions can add fields. Errors are InvalidArgument.
absl::StatusOr<ScopeTrace> ParseScopeTrace(absl::string_view json_text,
                                           absl::string_view source);

// The largest trace file read. Parsing holds the JSON text and its tree in
// memory, several times the file; a trace of a million-node model is
// about 100 MB.
inline constexpr uint64_t kMaxTraceBytes = uint64_t{1} << 30;

// Reads `path` and parses it with `path` as the source. A file over
// `max_bytes` is refused, naming the limit, before anything is read.
absl::StatusOr<ScopeTrace> LoadScopeTrace(const std::string& path,
                                          uint64_t max_bytes = kMaxTraceBytes);

}  // namespace hp

#endif  // HP_TRACE_SCOPE_TRACE_H_
