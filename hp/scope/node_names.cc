#include "hp/scope/node_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hp {

NodeNameScope ParseNodeName(absl::string_view name) {
  NodeNameScope scope;
  if (name.empty() || name.front() != '/') return scope;
  scope.has_scope = true;
  std::vector<std::string> parts = absl::StrSplit(name.substr(1), '/');
  // The last part is the op ("MatMul", "MatMul_1"), not a module.
  parts.pop_back();
  for (std::string& part : parts) {
    if (!part.empty()) scope.components.push_back(std::move(part));
  }
  return scope;
}

bool IsListIndex(absl::string_view atom) {
  if (atom.empty()) return false;
  for (char c : atom) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::string_view LastAtom(absl::string_view path) {
  const size_t dot = path.rfind('.');
  return dot == absl::string_view::npos ? path : path.substr(dot + 1);
}

absl::string_view ScopeComponent(absl::string_view path) {
  size_t start = path.size();
  // Walk back over the numeric tail, then over one non-numeric atom.
  while (start > 0) {
    size_t dot = path.rfind('.', start - 1);
    size_t atom_start = dot == absl::string_view::npos ? 0 : dot + 1;
    absl::string_view atom = path.substr(atom_start, start - atom_start);
    start = atom_start;
    if (!IsListIndex(atom)) break;
    if (start > 0) --start;  // Step over the dot before a numeric atom.
  }
  return path.substr(start);
}

absl::string_view WithoutDedupSuffix(absl::string_view component) {
  const size_t underscore = component.rfind('_');
  if (underscore == absl::string_view::npos || underscore == 0) return {};
  if (!IsListIndex(component.substr(underscore + 1))) return {};
  return component.substr(0, underscore);
}

}  // namespace hp
