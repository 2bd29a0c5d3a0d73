#include "hp/trace/module_path.h"

#include "absl/strings/str_cat.h"

namespace hp {

std::string JoinPath(absl::string_view parent, absl::string_view child) {
  if (parent.empty()) return std::string(child);
  if (child.empty()) return std::string(parent);
  return absl::StrCat(parent, ".", child);
}

absl::string_view ParentPath(absl::string_view path) {
  const size_t dot = path.rfind('.');
  return dot == absl::string_view::npos ? absl::string_view()
                                        : path.substr(0, dot);
}

}  // namespace hp
