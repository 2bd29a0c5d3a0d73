#include "hp/tag/module_tags.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "hp/scope/node_names.h"

namespace hp {
namespace {

bool IsKept(const ModuleTable& modules, int index, const TagRules& rules) {
  if (index == 0) return true;
  const Module& module = modules.at(index);
  // Without classes every module seen in node names is all we know of.
  if (!modules.classes_known()) return true;
  // A container the dynamo metadata never names has no known class.
  if (module.class_name.empty()) return false;
  if (!module.is_torch_nn || rules.keep_all_torch_nn) return true;
  const auto& keep = rules.keep_torch_nn_classes;
  return std::find(keep.begin(), keep.end(), module.class_name) != keep.end();
}

// The plain component: Class, or Class.N for a list element; without
// classes, the module's own scope component as node names show it.
std::string PlainComponent(const ModuleTable& modules, const Module& module) {
  if (!modules.classes_known()) return std::string(ScopeComponent(module.path));
  absl::string_view own_name = LastAtom(module.path);
  if (IsListIndex(own_name))
    return absl::StrCat(module.class_name, ".", own_name);
  return std::string(module.class_name);
}

std::string RelativePath(absl::string_view path, absl::string_view ancestor) {
  if (ancestor.empty()) return std::string(path);
  return std::string(path.substr(ancestor.size() + 1));
}

}  // namespace

ModuleTags ResolveModuleTags(const ModuleTable& modules,
                             const TagRules& rules) {
  const int count = modules.size();
  ModuleTags result;
  result.kept.resize(count);
  result.owner.resize(count);
  result.tag.resize(count);

  // Pass 1: which modules are kept, and the kept parent of each kept one.
  // The table lists ancestors before descendants.
  std::vector<int> kept_parent(count, -1);
  std::vector<std::string> component(count);
  for (int i = 0; i < count; ++i) {
    result.kept[i] = IsKept(modules, i, rules);
    if (i > 0) kept_parent[i] = result.owner[modules.at(i).parent];
    result.owner[i] = result.kept[i] ? i : kept_parent[i];
    if (result.kept[i] && i > 0) {
      component[i] = PlainComponent(modules, modules.at(i));
    }
  }

  // Pass 2: instances that would share a component under one kept parent
  // are told apart by their path relative to that parent.
  // Keys view `component`, which is left as it is until all are counted.
  absl::flat_hash_map<std::pair<int, absl::string_view>, int> uses;
  // Sized once: without classes, every module is kept.
  uses.reserve(std::count(result.kept.begin(), result.kept.end(), true));
  for (int i = 1; i < count; ++i) {
    if (result.kept[i]) ++uses[{kept_parent[i], component[i]}];
  }
  std::vector<int> shared;
  for (int i = 1; i < count; ++i) {
    if (result.kept[i] && uses.at({kept_parent[i], component[i]}) >= 2) {
      shared.push_back(i);
    }
  }
  uses.clear();
  for (int i : shared) {
    const Module& module = modules.at(i);
    component[i] = absl::StrCat(
        module.class_name, "[",
        RelativePath(module.path, modules.at(kept_parent[i]).path), "]");
  }

  // Pass 3: tags, parents first.
  result.tag[0] = absl::StrCat("/", modules.at(0).class_name);
  for (int i = 1; i < count; ++i) {
    result.tag[i] = result.kept[i] ? absl::StrCat(result.tag[kept_parent[i]],
                                                  "/", component[i])
                                   : result.tag[result.owner[i]];
  }
  return result;
}

}  // namespace hp
