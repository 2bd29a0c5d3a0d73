// The model's module instances, from whichever source the model offers: a
// scope trace (paths and classes), the dynamo exporter's node metadata, or
// the module paths in node names alone.
#ifndef HP_MODEL_MODULE_TABLE_H_
#define HP_MODEL_MODULE_TABLE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "hp/model/hierarchy_source.h"
#include "hp/trace/scope_trace.h"
#include "hp/util/string_arena.h"

namespace hp {

// In a table, the strings are views of the table's own copies; passed to
// Add, views of the caller's, which Add copies.
struct Module {
  absl::string_view path;             // dotted; "" for the root
  absl::string_view class_name;       // "" when unknown (no trace)
  absl::string_view qualified_class;  // module.Class; "" when unknown
  bool is_torch_nn = false;
  int64_t call_count = 1;
  int parent = -1;  // index of the nearest ancestor in the table; -1 for root
};

class ModuleTable {
 public:
  // A table holding only the root module.
  ModuleTable(HierarchySource source, absl::string_view root_class,
              absl::string_view root_qualified_class);

  HierarchySource source() const { return source_; }
  bool classes_known() const { return source_ != HierarchySource::kNodeNames; }

  // Adds a module (or returns the existing one with that path). Its parent
  // is the nearest dotted-prefix ancestor already in the table, so add
  // ancestors first.
  int Add(Module module);
  // Adds a module whose path is not in the table yet, its parent being the
  // module `parent` of this table: for a caller that knows both, as a trace
  // does (its paths are unique, each parent a module of its own).
  int AddUnder(Module module, int parent);

  // Room for `count` modules in all, so that adding them moves nothing.
  void Reserve(int count);

  // Index of the module with this path, or -1.
  int Find(absl::string_view path) const;

  const Module& at(int index) const { return modules_[index]; }
  int size() const { return static_cast<int>(modules_.size()); }
  const std::vector<Module>& modules() const { return modules_; }

  // The trace's calls in the order they began, `module` indexing this
  // table; has_calls() is false for tables from anything but a trace that
  // records them.
  bool has_calls() const { return has_calls_; }
  const std::vector<TracedCall>& calls() const { return calls_; }
  void SetCalls(std::vector<TracedCall> calls) {
    has_calls_ = true;
    calls_ = std::move(calls);
  }

 private:
  friend ModuleTable ModuleTableFromTrace(ScopeTrace* trace);
  // The table of a trace's taken modules (ScopeTrace::TakeModules), each
  // listed after its parent: module i of the trace is module i here.
  ModuleTable(absl::string_view root_class,
              absl::string_view root_qualified_class,
              ScopeTrace::TakenModules taken);

  HierarchySource source_;
  // Every path of modules_ and each distinct class once: the index and the
  // modules view them.
  StringArena strings_;
  std::vector<Module> modules_;
  bool has_calls_ = false;
  std::vector<TracedCall> calls_;
  absl::flat_hash_map<absl::string_view, int> index_;
};

// Every module of the trace, with its class and call count.
ModuleTable ModuleTableFromTrace(const ScopeTrace& trace);

// The same, for a caller done with the trace's modules: the trace keeps its
// root alone (ScopeTrace::ForgetModulesButRoot), and the table views the
// strings and reuses the index the trace had rather than copying them.
ModuleTable ModuleTableFromTrace(ScopeTrace* trace);

}  // namespace hp

#endif  // HP_MODEL_MODULE_TABLE_H_
