#include "hp/scope/call_matching.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "hp/scope/node_names.h"

namespace hp {

CallMatcher::CallMatcher(const ModuleTable& modules) {
  const std::vector<TracedCall>& traced = modules.calls();
  calls_.resize(traced.size());
  named_call_.assign(traced.size(), false);
  absl::flat_hash_map<absl::string_view, int> kinds;
  for (size_t k = 0; k < traced.size(); ++k) {
    Call& call = calls_[k];
    call.module = traced[k].module;
    call.parent = traced[k].parent;
    call.kind = kinds
                    .try_emplace(modules.at(call.module).qualified_class,
                                 static_cast<int>(kinds.size()))
                    .first->second;
    if (call.parent >= 0) {
      const Call& parent = calls_[call.parent];
      call.depth = parent.depth + 1;
      call.chain = parent.chain;
      call.base = parent.base;
    } else {
      call.depth = 1;
      call.chain = root_chain_;
    }
    call.chain.push_back(call.module);
    absl::StrAppend(&call.base, "/",
                    ScopeComponent(modules.at(call.module).path));
    calls_by_base_[call.base].push_back(static_cast<int>(k));
  }
}

bool CallMatcher::IsAncestorOrSelf(int ancestor, int call) const {
  if (ancestor < 0 || call < 0) return false;
  while (calls_[call].depth > calls_[ancestor].depth) {
    call = calls_[call].parent;
  }
  return call == ancestor;
}

int CallMatcher::NewCallOfBase(absl::string_view base, int number) const {
  auto named = named_.find(base);
  if ((named == named_.end() ? 0 : named->second) != number) return -1;
  auto list = calls_by_base_.find(base);
  if (list == calls_by_base_.end()) return -1;
  // A call still running that has made no node yet (a block whose first
  // own node follows its children's) ...
  for (int k = previous_; k >= 0; k = calls_[k].parent) {
    if (!named_call_[k] && calls_[k].base == base) return k;
  }
  // ... else the first of them to begin after the latest call seen: those
  // that began before and returned made no node, and take no number.
  const std::vector<int>& calls = list->second;
  auto next = std::upper_bound(calls.begin(), calls.end(), cursor_);
  return next == calls.end() ? -1 : *next;
}

bool CallMatcher::SplitNumber(absl::string_view scope, absl::string_view* base,
                              int* number) {
  // "/left/proj_1": the second named call whose scope string is "/left/proj".
  const absl::string_view last = scope.substr(scope.rfind('/') + 1);
  const absl::string_view stem = WithoutDedupSuffix(last);
  if (stem.empty() || !absl::SimpleAtoi(last.substr(stem.size() + 1), number) ||
      *number <= 0 || absl::StrCat(stem, "_", *number) != last) {
    return false;
  }
  *base = scope.substr(0, scope.size() - last.size() + stem.size());
  return true;
}

int CallMatcher::NewCall(absl::string_view scope) const {
  int best = NewCallOfBase(scope, 0);
  absl::string_view base;
  int number = 0;
  if (SplitNumber(scope, &base, &number)) {
    const int renamed = NewCallOfBase(base, number);
    if (renamed >= 0 && (best < 0 || renamed < best)) best = renamed;
  }
  return best;
}

bool CallMatcher::PreferNew(int open, int fresh,
                            absl::string_view op_type) const {
  // Names cannot tell these apart ("relu_1" is both a module's name and
  // another module's second call). A call is taken to be done once it has
  // made as many nodes as the last call of its module (else of its class)
  // did; without such a call, a new call of a module that ran before
  // begins as that call began.
  const Call& running = calls_[open];
  if (running.model_call >= 0) {
    return running.nodes >= calls_[running.model_call].nodes;
  }
  auto previous = last_call_of_module_.find(calls_[fresh].module);
  return previous != last_call_of_module_.end() &&
         calls_[previous->second].first_op == op_type;
}

void CallMatcher::Assign(int call, absl::string_view scope,
                         absl::string_view op_type) {
  Call& matched = calls_[call];
  if (!named_call_[call]) {
    named_call_[call] = true;
    ++named_[matched.base];
    holder_[scope] = call;
    absl::string_view base;
    int number = 0;
    matched.contested = calls_by_base_.contains(scope) &&
                        SplitNumber(scope, &base, &number) &&
                        calls_by_base_.contains(base);
    auto same_module = last_call_of_module_.find(matched.module);
    auto same_kind = last_call_of_kind_.find(matched.kind);
    if (same_module != last_call_of_module_.end()) {
      matched.model_call = same_module->second;
    } else if (same_kind != last_call_of_kind_.end()) {
      matched.model_call = same_kind->second;
    }
    last_call_of_module_[matched.module] = call;
    last_call_of_kind_[matched.kind] = call;
    matched.first_op = std::string(op_type);
  }
  ++matched.nodes;
  cursor_ = std::max(cursor_, call);
  previous_ = call;
  previous_scope_ = scope;
}

const std::vector<int>* CallMatcher::Match(absl::string_view scope,
                                           absl::string_view op_type) {
  if (scope.empty()) {  // the root's own forward: every call has returned
    previous_ = -1;
    previous_scope_ = scope;
    return &root_chain_;
  }
  // The common case, the next node of the same call: no other call can take
  // a name that is not contested.
  if (previous_ >= 0 && scope == previous_scope_ &&
      !calls_[previous_].contested) {
    ++calls_[previous_].nodes;
    return &calls_[previous_].chain;
  }
  auto held = holder_.find(scope);
  // The call holding this name is still running when the previous node's
  // call is it or runs inside it.
  const int open =
      held != holder_.end() && IsAncestorOrSelf(held->second, previous_)
          ? held->second
          : -1;
  const int fresh = NewCall(scope);
  int chosen = -1;
  if (open >= 0 && fresh >= 0) {
    chosen = PreferNew(open, fresh, op_type) ? fresh : open;
  } else if (open >= 0) {
    chosen = open;
  } else if (fresh >= 0) {
    chosen = fresh;
  } else if (held != holder_.end()) {
    // A node out of call order (the exporter moved it): its name's holder.
    chosen = held->second;
  } else {
    return nullptr;
  }
  Assign(chosen, scope, op_type);
  return &calls_[chosen].chain;
}

}  // namespace hp
