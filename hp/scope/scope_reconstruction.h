// Scope reconstruction: which module ran each node. Nodes are walked in
// graph order with a stack of modules seeded with the root (ADR-001): the
// stack is aligned with each node's call chain, so it is never empty and a
// node without a scope lands on the root.
#ifndef HP_SCOPE_SCOPE_RECONSTRUCTION_H_
#define HP_SCOPE_SCOPE_RECONSTRUCTION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "hp/model/graph_walk.h"
#include "hp/model/module_table.h"

namespace hp {

// Node metadata keys of torch's dynamo exporter.
inline constexpr char kDynamoNameScopesKey[] = "pkg.torch.onnx.name_scopes";
inline constexpr char kDynamoClassHierarchyKey[] =
    "pkg.torch.onnx.class_hierarchy";

// How a node's module was found.
enum class ScopeOrigin {
  kNodeName,         // the scope in its name resolved to a module
  kDynamoMetadata,   // pkg.torch.onnx.name_scopes named the module
  kNearestAncestor,  // its scope names no known module: nearest ancestor
  kEnclosingNode,    // a subgraph node without scope: its If/Loop/Scan's
  kNone,             // no scope at all: the root
};

struct NodeScope {
  int module = 0;
  ScopeOrigin origin = ScopeOrigin::kNone;
};

// The stack of ADR-001, holding module indices; the root is never popped.
class ScopeStack {
 public:
  explicit ScopeStack(int root) : stack_{root} {}
  // Pops to the longest common prefix with `chain` (root first), then pushes
  // the rest of `chain`.
  void Align(absl::Span<const int> chain);
  int top() const { return stack_.back(); }
  const std::vector<int>& frames() const { return stack_; }

 private:
  std::vector<int> stack_;
};

struct ScopeOptions {
  // A scope segment that names no module directly is looked for through
  // the containers that never ran (nn.ModuleDict, an indexed nn.ModuleList,
  // a bare nn.Module): where several modules fit and the trace cannot tell
  // which, reconstruction fails, unless this is set: then the first of them
  // in trace order is taken, with a warning.
  bool first_candidate = false;
};

struct ScopeReconstruction {
  std::vector<NodeScope> nodes;  // parallel to the walked nodes
  std::vector<std::string> warnings;
  // False when no node carried any scope (exports older than torch 1.13).
  bool any_scope = false;
};

// Finds each node's module in `modules`. With a table from node names or
// dynamo metadata, modules met in the nodes are added to it; a table from a
// trace is only read, and scopes it lacks resolve to their nearest ancestor.
// A trace's call sequence, when it has one, places each node in the call
// that made it (hp/scope/call_matching.h). Fails (InvalidArgument) on the
// first scope segment the trace leaves ambiguous
// (ScopeOptions::first_candidate). With a trace but no call sequence, ranges
// of nodes are walked on all cores: same result, warnings in node order.
absl::StatusOr<ScopeReconstruction> ReconstructScopes(
    const NodeList& nodes, ModuleTable* modules, const ScopeOptions& options);

// The root's qualified class as the dynamo exporter's metadata names it
// (first entry of pkg.torch.onnx.class_hierarchy), or nullopt when no node
// carries that metadata.
std::optional<std::string> DynamoRootClass(const NodeList& nodes);

// Parses a Python list of string literals as repr() writes it:
// "['', 'blocks.0']". nullopt on anything else.
std::optional<std::vector<std::string>> ParsePythonStringList(
    absl::string_view text);

}  // namespace hp

#endif  // HP_SCOPE_SCOPE_RECONSTRUCTION_H_
