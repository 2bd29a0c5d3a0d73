// Dotted module paths as torch's named_modules() spells them
// ("encoder.layer.0"; "" is the root): the one home of the rules that join
// and split them.
#ifndef HP_TRACE_MODULE_PATH_H_
#define HP_TRACE_MODULE_PATH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace hp {

// Joins a dotted parent path and a relative path ("" is the root).
std::string JoinPath(absl::string_view parent, absl::string_view child);

// The dotted parent of a path ("a.b.c" -> "a.b", "a" -> ""). The root has
// no parent: returns "" for "" too.
absl::string_view ParentPath(absl::string_view path);

}  // namespace hp

#endif  // HP_TRACE_MODULE_PATH_H_
