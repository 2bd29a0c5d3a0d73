// The tag of every module instance, by the rule in docs/tag-rules.md: class
// chains from the root, torch.nn modules left out unless kept, collisions
// between instances written as Class[relative.path].
#ifndef HP_TAG_MODULE_TAGS_H_
#define HP_TAG_MODULE_TAGS_H_

#include <string>
#include <vector>

#include "hp/model/module_table.h"

namespace hp {

struct TagRules {
  // Keep every torch.nn module in tags.
  bool keep_all_torch_nn = false;
  // Keep torch.nn modules of these classes (class names, e.g. "LayerNorm").
  std::vector<std::string> keep_torch_nn_classes;
};

struct ModuleTags {
  // Per module of the table, by index.
  std::vector<bool> kept;
  // The nearest kept module: the module itself when kept.
  std::vector<int> owner;
  // The tag of `owner`: what a node run by this module is tagged with.
  std::vector<std::string> tag;
};

ModuleTags ResolveModuleTags(const ModuleTable& modules, const TagRules& rules);

}  // namespace hp

#endif  // HP_TAG_MODULE_TAGS_H_
