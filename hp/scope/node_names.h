// What a node name says about the module that ran the node, as torch.onnx's
// TorchScript exporter (torch >= 1.13) writes names: scope components joined
// by "/", then the op: "/encoder/layer.0/attention/self/query/MatMul".
#ifndef HP_SCOPE_NODE_NAMES_H_
#define HP_SCOPE_NODE_NAMES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hp/trace/module_path.h"

namespace hp {

struct NodeNameScope {
  // False for names without a leading "/" ("Constant_50", "MatMul_12"):
  // nodes the exporter made outside any module, or exports older than 1.13.
  bool has_scope = false;
  // The scope components, outermost first; empty for an op of the root's
  // own forward ("/Cast").
  std::vector<std::string> components;
};

NodeNameScope ParseNodeName(absl::string_view name);

// True for a dotted-path atom that is a list index ("0", "12").
bool IsListIndex(absl::string_view atom);

// The last atom of a dotted path ("encoder.layer.0" -> "0").
absl::string_view LastAtom(absl::string_view path);

// torch's scope component for a module path: its last non-numeric atom and
// any numeric tail ("encoder.layer.0" -> "layer.0", "a.b" -> "b").
absl::string_view ScopeComponent(absl::string_view path);

// The exporter makes repeated scope names unique by appending "_N" to the
// last component ("relu" called twice gives "relu_1"). Returns the component
// without that suffix, or an empty view when there is none.
absl::string_view WithoutDedupSuffix(absl::string_view component);

}  // namespace hp

#endif  // HP_SCOPE_NODE_NAMES_H_
