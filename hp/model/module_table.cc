#include "hp/model/module_table.h"

#include <utility>

#include "hp/trace/module_path.h"

namespace hp {
namespace {

// A traced module as the table holds it, its parent left to the caller.
Module ModuleOf(const TracedModule& traced) {
  Module module;
  module.path = traced.path;
  module.class_name = traced.class_name;
  module.qualified_class = traced.qualified_class;
  module.is_torch_nn = traced.is_torch_nn;
  module.call_count = traced.call_count;
  return module;
}

}  // namespace

ModuleTable::ModuleTable(HierarchySource source, absl::string_view root_class,
                         absl::string_view root_qualified_class)
    : source_(source) {
  Module root;
  root.class_name = strings_.StoreOnce(root_class);
  root.qualified_class = strings_.StoreOnce(root_qualified_class);
  modules_.push_back(std::move(root));
  index_[""] = 0;
}

ModuleTable::ModuleTable(absl::string_view root_class,
                         absl::string_view root_qualified_class,
                         ScopeTrace::TakenModules taken)
    : source_(HierarchySource::kTrace),
      strings_(std::move(taken.strings)),
      has_calls_(taken.has_calls),
      calls_(std::move(taken.calls)),
      index_(std::move(taken.index_by_path)) {
  modules_.reserve(taken.modules.size());
  Module root;
  root.class_name = strings_.StoreOnce(root_class);
  root.qualified_class = strings_.StoreOnce(root_qualified_class);
  modules_.push_back(root);
  for (size_t i = 1; i < taken.modules.size(); ++i) {
    Module module = ModuleOf(taken.modules[i]);
    module.parent = taken.modules[i].parent;
    modules_.push_back(module);
  }
}

int ModuleTable::Add(Module module) {
  if (int existing = Find(module.path); existing >= 0) return existing;
  absl::string_view ancestor = ParentPath(module.path);
  int parent = Find(ancestor);
  while (parent < 0) {
    ancestor = ParentPath(ancestor);
    parent = Find(ancestor);
  }
  return AddUnder(std::move(module), parent);
}

int ModuleTable::AddUnder(Module module, int parent) {
  module.parent = parent;
  module.path = strings_.Store(module.path);
  module.class_name = strings_.StoreOnce(module.class_name);
  module.qualified_class = strings_.StoreOnce(module.qualified_class);
  const int index = size();
  index_.emplace(module.path, index);
  modules_.push_back(module);
  return index;
}

void ModuleTable::Reserve(int count) {
  modules_.reserve(count);
  index_.reserve(count);
}

int ModuleTable::Find(absl::string_view path) const {
  auto it = index_.find(path);
  return it == index_.end() ? -1 : it->second;
}

ModuleTable ModuleTableFromTrace(const ScopeTrace& trace) {
  ModuleTable table(HierarchySource::kTrace, trace.root_class(),
                    trace.root_qualified_class());
  const std::vector<TracedModule>& traced_modules = trace.modules();
  table.Reserve(static_cast<int>(traced_modules.size()));
  // Per traced module, its index in the table; the root (traced first) is
  // there already. A module listed after its parent, as named_modules()
  // lists them, is added under it without looking either up.
  std::vector<int> in_table(traced_modules.size(), -1);
  for (size_t i = 0; i < traced_modules.size(); ++i) {
    const TracedModule& traced = traced_modules[i];
    if (traced.path.empty()) {
      in_table[i] = 0;
      continue;
    }
    Module module = ModuleOf(traced);
    const int parent = traced.parent >= 0 ? in_table[traced.parent] : -1;
    in_table[i] = parent >= 0 ? table.AddUnder(std::move(module), parent)
                              : table.Add(std::move(module));
  }
  if (trace.has_calls()) {
    std::vector<TracedCall> calls = trace.calls();
    for (TracedCall& call : calls) call.module = in_table[call.module];
    table.SetCalls(std::move(calls));
  }
  return table;
}

ModuleTable ModuleTableFromTrace(ScopeTrace* trace) {
  // Taken over where the copy would give each module the trace's index:
  // the root first (as traces have it), every other module after its
  // parent, as named_modules() lists them.
  const std::vector<TracedModule>& traced = trace->modules();
  bool same_indices = !traced.empty() && traced.front().path.empty();
  for (size_t i = 1; same_indices && i < traced.size(); ++i) {
    same_indices = !traced[i].path.empty() && traced[i].parent >= 0 &&
                   static_cast<size_t>(traced[i].parent) < i;
  }
  if (!same_indices) {
    ModuleTable table = ModuleTableFromTrace(*trace);
    trace->ForgetModulesButRoot();
    return table;
  }
  ScopeTrace::TakenModules taken = trace->TakeModules();
  return ModuleTable(trace->root_class(), trace->root_qualified_class(),
                     std::move(taken));
}

}  // namespace hp
