// Which call of a module made each node, from a trace's call sequence: the
// scopes of node names, met in node order, are matched to the calls in the
// order they ran. Takes the module table's calls; gives, per node scope, the
// chain of modules of the call that made it.
//
// torch.onnx names a scope once per call, when the first node of that call
// is named, and adds "_N" to the N-th call named with the same scope string:
// so a module's second call and a real module of that name look alike
// ("relu_1"), and a call that left no node takes no number. The matcher
// follows the same rule on the recorded calls (docs/tag-rules.md, "Scopes and
// calls").
#ifndef HP_SCOPE_CALL_MATCHING_H_
#define HP_SCOPE_CALL_MATCHING_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "hp/model/module_table.h"

namespace hp {

class CallMatcher {
 public:
  // `modules` must have calls (has_calls()).
  explicit CallMatcher(const ModuleTable& modules);

  // The call chain (module indices, root first) of the call that made the
  // next node in node order, whose name has scope `scope` ("/left/proj_1",
  // "" for an op of the root's own forward) and op type `op_type`; nullptr
  // when no recorded call can have made it. Valid until the next call, and
  // `scope` must stay valid until then too.
  const std::vector<int>* Match(absl::string_view scope,
                                absl::string_view op_type);

 private:
  struct Call {
    int module = 0;
    int parent = -1;
    int depth = 0;
    std::string base;        // scope string torch gives its first naming
    std::vector<int> chain;  // modules, root first
    int nodes = 0;           // nodes matched so far
    std::string first_op;    // op type of its first node
    int kind = 0;            // its module's class, numbered
    // The last call with nodes before it of the same module, else of a
    // module of the same class: what it is likely to make again.
    int model_call = -1;
    // Its name is also one another call may take (a module named "relu_1"
    // beside relu's second call): each node of it is matched in full.
    bool contested = false;
  };

  bool IsAncestorOrSelf(int ancestor, int call) const;
  // The call not yet named that would be named `scope` now, or -1.
  int NewCall(absl::string_view scope) const;
  int NewCallOfBase(absl::string_view base, int number) const;
  // At a node that both an open call and a new call could have made: whether
  // the new call made it.
  bool PreferNew(int open, int fresh, absl::string_view op_type) const;
  void Assign(int call, absl::string_view scope, absl::string_view op_type);
  // The base scope string that "<base>_N" names, and N; false for a scope
  // without such a suffix.
  static bool SplitNumber(absl::string_view scope, absl::string_view* base,
                          int* number);

  std::vector<Call> calls_;
  absl::flat_hash_map<std::string, std::vector<int>> calls_by_base_;
  // How many calls of each base scope string have been named.
  absl::flat_hash_map<std::string, int> named_;
  // The call that holds each scope name given so far (the latest one).
  absl::flat_hash_map<std::string, int> holder_;
  absl::flat_hash_map<int, int> last_call_of_module_;
  absl::flat_hash_map<int, int> last_call_of_kind_;
  std::vector<bool> named_call_;
  int cursor_ = -1;    // the latest call known to have begun
  int previous_ = -1;  // the call of the previous scoped node; -1: the root
  absl::string_view previous_scope_;  // that node's scope
  const std::vector<int> root_chain_{0};
};

}  // namespace hp

#endif  // HP_SCOPE_CALL_MATCHING_H_
