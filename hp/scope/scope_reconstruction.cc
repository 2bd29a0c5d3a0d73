#include "hp/scope/scope_reconstruction.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "hp/scope/call_matching.h"
#include "hp/scope/node_names.h"
#include "hp/util/parallel.h"
#include "hp/util/string_arena.h"

namespace hp {
namespace {

absl::string_view ClassNameOf(absl::string_view qualified_class) {
  return LastAtom(qualified_class);
}

// A scope component resolved against the table.
struct Resolution {
  int module = -1;  // -1: the table has none and may not grow
  // Every module that fitted, when several did (`module` is the first).
  std::vector<int> candidates;
};

// Each module of a trace that ran, under the nearest ancestor that ran,
// sorted by that ancestor, then its scope component, then table order: torch
// leaves containers that never ran (nn.ModuleDict ...) out of scopes. One
// flat array (24 bytes a module, the component a view of the table's path),
// where a map per ancestor cost 180; built once and only read, by every
// core's walk.
class ReachedModules {
 public:
  explicit ReachedModules(const ModuleTable& modules) : modules_(modules) {
    // Each module that ran, under the nearest of its ancestors that ran.
    const int count = modules.size();
    std::vector<int> ran_under(static_cast<size_t>(count), -1);
    // Entries are placed by that ancestor first, counted out, then each
    // group (mostly a module's few children) is sorted by component: a
    // whole sort by strings took 10-20 ms for 120,002 modules.
    std::vector<size_t> group_at(static_cast<size_t>(count) + 1, 0);
    for (int i = 1; i < count; ++i) {
      const Module& module = modules.at(i);
      if (module.call_count <= 0) continue;
      int ran = module.parent;
      while (ran > 0 && modules.at(ran).call_count <= 0) {
        ran = modules.at(ran).parent;
      }
      ran_under[static_cast<size_t>(i)] = ran;
      ++group_at[static_cast<size_t>(ran) + 1];
    }
    for (size_t g = 1; g < group_at.size(); ++g) group_at[g] += group_at[g - 1];
    reached_.resize(group_at.back());
    std::vector<size_t> next(group_at.begin(), group_at.end() - 1);
    for (int i = 1; i < count; ++i) {
      const int ran = ran_under[static_cast<size_t>(i)];
      if (ran < 0) continue;
      reached_[next[static_cast<size_t>(ran)]++] = {
          ran, ScopeComponent(modules.at(i).path), i};
    }
    for (size_t g = 0; g + 1 < group_at.size(); ++g) {
      if (group_at[g + 1] - group_at[g] < 2) continue;
      // Within a group modules are in table order: sorted stably by
      // component, they stay so among equals.
      std::stable_sort(reached_.begin() + group_at[g],
                       reached_.begin() + group_at[g + 1],
                       [](const Entry& a, const Entry& b) {
                         return a.component < b.component;
                       });
    }
  }

  // The modules called `min_calls` times or more whose ScopeComponent is
  // `component` and whose nearest ancestor that ran is `current`.
  Resolution Find(int current, absl::string_view component,
                  int64_t min_calls) const {
    Resolution resolution;
    auto it = std::lower_bound(
        reached_.begin(), reached_.end(), std::make_pair(current, component),
        [](const Entry& entry, const std::pair<int, absl::string_view>& key) {
          return std::make_pair(entry.ran, entry.component) < key;
        });
    // Candidates are listed only when there are several (rare): most
    // lookups allocate nothing.
    for (; it != reached_.end() && it->ran == current &&
           it->component == component;
         ++it) {
      const int module = it->module;
      if (modules_.at(module).call_count < min_calls) continue;
      if (resolution.module < 0) {
        resolution.module = module;
        continue;
      }
      if (resolution.candidates.empty()) {
        resolution.candidates.push_back(resolution.module);
      }
      resolution.candidates.push_back(module);
    }
    return resolution;
  }

 private:
  struct Entry {
    int ran;
    absl::string_view component;
    int module;
  };
  const ModuleTable& modules_;
  std::vector<Entry> reached_;
};

// Resolves node-name scopes against a module table, one component at a time.
class ComponentResolver {
 public:
  // `reached` is set for a table from a trace, which is then only read.
  ComponentResolver(ModuleTable* modules, const ReachedModules* reached)
      : modules_(modules), reached_(reached) {}

  // The module the component names, called from `current` (reached through
  // the component `previous`).
  Resolution Resolve(int current, absl::string_view previous,
                     absl::string_view component) {
    const absl::string_view current_path = modules_->at(current).path;
    const bool traced = reached_ != nullptr;
    absl::string_view base = WithoutDedupSuffix(component);
    if (traced) {
      // A module that ran, reached from `current` through containers that
      // never ran. A module really named "relu_1" wins over a second "relu"
      // call; the trace says which modules ran twice.
      Resolution found = reached_->Find(current, component, 1);
      if (found.module < 0 && !base.empty()) {
        found = reached_->Find(current, base, 2);
      }
      if (found.module >= 0) return found;
    }
    for (bool overlap : {true, false}) {
      int found = modules_->Find(
          CandidatePath(current_path, previous, component, overlap));
      if (found >= 0) return {found};
    }
    // A trace says which modules ran more than once; without one, a "_N"
    // name whose base module already ran is taken as its next call, since
    // the exporter numbers repeated scopes in call order.
    if (!base.empty()) {
      for (bool overlap : {true, false}) {
        int found = modules_->Find(
            CandidatePath(current_path, previous, base, overlap));
        if (found >= 0 && (!traced || modules_->at(found).call_count > 1)) {
          return {found};
        }
      }
    }
    if (traced) return {};
    return {modules_->Add(
        {CandidatePath(current_path, previous, component, true)})};
  }

 private:
  // nn.Sequential / nn.ModuleList children repeat their parent's component
  // ("/layer1/layer1.0"): such a component replaces the previous one.
  static std::string CandidatePath(absl::string_view current_path,
                                   absl::string_view previous,
                                   absl::string_view component,
                                   bool allow_overlap) {
    if (allow_overlap && !previous.empty() &&
        absl::StartsWith(component, absl::StrCat(previous, "."))) {
      absl::string_view stem = current_path.substr(
          0,
          current_path.size() - std::min(previous.size(), current_path.size()));
      absl::ConsumeSuffix(&stem, ".");
      return JoinPath(stem, component);
    }
    return JoinPath(current_path, component);
  }

  ModuleTable* modules_;
  const ReachedModules* reached_;
};

// The call chain (root first) named by a node's dynamo metadata, adding its
// modules to the table when it may grow. A table that may not grow cuts the
// chain before the first path it lacks, which goes to `missing`.
bool DynamoChain(const NodeRef& node, ModuleTable* modules,
                 std::vector<int>* chain, std::string* missing) {
  const std::optional<absl::string_view> scopes =
      node.FindMetadata(kDynamoNameScopesKey);
  if (!scopes.has_value()) return false;
  std::optional<std::vector<std::string>> paths =
      ParsePythonStringList(*scopes);
  if (!paths || paths->empty()) return false;
  std::vector<std::string> classes;
  if (const std::optional<absl::string_view> hierarchy =
          node.FindMetadata(kDynamoClassHierarchyKey)) {
    classes =
        ParsePythonStringList(*hierarchy).value_or(std::vector<std::string>{});
  }
  chain->assign(1, 0);
  // The last entry is the FX node, not a module.
  for (size_t i = 1; i + 1 < paths->size(); ++i) {
    int index = modules->Find((*paths)[i]);
    if (index < 0 && modules->source() != HierarchySource::kTrace) {
      Module module;
      module.path = (*paths)[i];
      if (i < classes.size()) {
        module.qualified_class = classes[i];
        module.class_name = ClassNameOf(classes[i]);
        module.is_torch_nn = absl::StartsWith(classes[i], "torch.nn.");
      }
      index = modules->Add(std::move(module));
    }
    if (index < 0) {
      *missing = (*paths)[i];
      break;
    }
    chain->push_back(index);
  }
  return true;
}

// What resolving a scope found wrong; most scopes have nothing, and a
// graph has a hundred thousand scopes, so it is kept apart.
struct ScopeProblem {
  // The first component the table lacks (origin kNearestAncestor).
  absl::string_view unknown_component;
  // The first component that fitted several modules (the chain took the
  // first), the module it was met under, and the modules.
  absl::string_view ambiguous_component;
  int ambiguous_under = -1;
  std::vector<int> candidates;
};

// A scope of node names resolved against the table: the call chain (root
// first) and how it was found.
struct NamedScope {
  // Held inline: a scope is copied from its parent's as it is resolved,
  // tens of thousands of times in a large graph, without allocating.
  absl::InlinedVector<int, 8> chain{0};
  // The last component resolved; views a node name.
  absl::string_view last_component;
  // Shared by the scopes below this one, which inherit it; null: none.
  std::shared_ptr<const ScopeProblem> problem;
  ScopeOrigin origin = ScopeOrigin::kNodeName;
  // The table's size when this resolution started. It holds while the
  // table keeps that size: one that added modules is redone once, against
  // the grown table, as the next node with that scope would have been.
  int table_size = -1;

  bool ambiguous() const {
    return problem != nullptr && !problem->candidates.empty();
  }
  // The problem to change, copied first: others may share it.
  ScopeProblem& EditProblem() {
    auto copy = problem != nullptr ? std::make_shared<ScopeProblem>(*problem)
                                   : std::make_shared<ScopeProblem>();
    ScopeProblem& edited = *copy;
    problem = std::move(copy);
    return edited;
  }
};

// Node-name scopes resolved once each. A module's ops all carry its scope
// ("/layers.3/attn/q/MatMul", ".../Add") and scopes share their prefixes,
// so a big graph has far fewer scopes than nodes: a scope is its parent
// scope's result plus one component (empty components are skipped, as
// ParseNodeName skips them).
class NamedScopes {
 public:
  NamedScopes(ModuleTable* modules, const ReachedModules* reached)
      : modules_(modules), resolver_(modules, reached) {
    recent_.fill({absl::string_view(), -1});
  }

  // How often what is kept was forgotten: a result stays valid until then.
  size_t forgotten() const { return forgotten_; }
  // Whether a result still holds: the table has not grown since it was
  // resolved.
  bool Holds(const NamedScope& resolved) const {
    return resolved.table_size == modules_->size();
  }

  // The result stays valid until the next call. Scopes are kept as copies:
  // the node names they come from lie in a file whose pages a walk gives
  // back, and a key viewing them would read them all in again. Without
  // `recent_first`, for a caller that looked among the scopes it met last
  // already (KeptScopes), the latest ones are not compared first.
  const NamedScope& Resolve(absl::string_view scope, bool recent_first = true) {
    // A deep graph goes through its scopes layer after layer and rarely
    // comes back: past a bound, what is kept is forgotten, and a scope met
    // again is resolved again, to the same result (a result is only reused
    // while the table keeps the size it was resolved against).
    if (scopes_.size() >= kMaxScopes) Forget();
    // Nodes in graph order cycle through a few scopes (a layer's q, k, v,
    // ... once per call): those are found among the latest ones without
    // hashing, by comparing strings already in cache. The search starts
    // at the last one found (a module's ops come in a run), then goes on
    // after it, where the cycle goes on.
    for (size_t k = 0; recent_first && k < recent_.size(); ++k) {
      const size_t slot = (last_found_ + k) % recent_.size();
      const auto& [recent, at] = recent_[slot];
      if (at >= 0 && recent == scope && Holds(scopes_[at])) {
        last_found_ = slot;
        return scopes_[at];
      }
    }
    // Walk back to the longest prefix known for the table as it is now.
    // Prefix lengths still to resolve; a scope a few components deep needs
    // no allocation.
    absl::InlinedVector<size_t, 8> pending;
    const NamedScope* known = &root_;
    for (size_t end = scope.size(); end > 0; end = scope.rfind('/', end - 1)) {
      auto it = index_.find(scope.substr(0, end));
      if (it != index_.end() && Holds(scopes_[it->second])) {
        known = &scopes_[it->second];
        if (end == scope.size()) Remember(it->first, it->second);
        break;
      }
      pending.push_back(end);
    }
    if (pending.empty()) return *known;
    // New prefixes are kept: from here on, the scope is the copy.
    scope = owned_.Store(scope);
    // Then forward, one component per prefix, as ParseNodeName + Resolve
    // would have walked them.
    const int table_size = modules_->size();
    NamedScope resolved = *known;
    int index = -1;
    for (auto end = pending.rbegin(); end != pending.rend(); ++end) {
      absl::string_view prefix = scope.substr(0, *end);
      absl::string_view component = prefix.substr(prefix.rfind('/') + 1);
      if (!component.empty() && resolved.origin == ScopeOrigin::kNodeName) {
        Resolution resolution = resolver_.Resolve(
            resolved.chain.back(), resolved.last_component, component);
        const int next = resolution.module;
        if (!resolution.candidates.empty() && !resolved.ambiguous()) {
          ScopeProblem& problem = resolved.EditProblem();
          problem.ambiguous_component = component;
          problem.ambiguous_under = resolved.chain.back();
          problem.candidates = std::move(resolution.candidates);
        }
        if (next < 0) {
          resolved.origin = ScopeOrigin::kNearestAncestor;
          resolved.EditProblem().unknown_component = component;
        } else {
          resolved.chain.push_back(next);
          resolved.last_component = component;
        }
      }
      resolved.table_size = table_size;
      auto [it, inserted] =
          index_.try_emplace(prefix, static_cast<int>(scopes_.size()));
      index = it->second;
      if (inserted) {
        scopes_.push_back(resolved);
      } else {
        scopes_[index] = resolved;
      }
    }
    Remember(scope, index);
    return scopes_[index];  // the last prefix resolved is `scope` itself
  }

 private:
  // About 150 bytes a scope with its key and copy: under a MB.
  static constexpr size_t kMaxScopes = size_t{1} << 12;

  void Forget() {
    ++forgotten_;
    index_.clear();
    scopes_.clear();
    owned_ = StringArena();
    recent_.fill({absl::string_view(), -1});
    next_recent_ = 0;
    last_found_ = 0;
  }

  void Remember(absl::string_view scope, int at) {
    last_found_ = next_recent_;
    recent_[next_recent_] = {scope, at};
    next_recent_ = (next_recent_ + 1) % recent_.size();
  }

  ModuleTable* modules_;
  ComponentResolver resolver_;
  const NamedScope root_;  // "": the root's own ops
  StringArena owned_;      // the scopes the keys and views view
  absl::flat_hash_map<absl::string_view, int> index_;  // into scopes_
  // A deque: it grows without copying what it holds.
  std::deque<NamedScope> scopes_;
  // The scopes resolved last (-1: none yet) and their entries, oldest
  // overwritten first.
  std::array<std::pair<absl::string_view, int>, 16> recent_;
  size_t next_recent_ = 0;
  size_t last_found_ = 0;
  size_t forgotten_ = 0;
};

// The scopes a node list kept by id (NameScope), resolved by `named`: the
// last few found again by id, without reading or comparing their text,
// while the table keeps the size they were resolved against (one that
// grows from node names resolves a scope again once it has grown).
class KeptScopes {
 public:
  KeptScopes(const NodeList& nodes, NamedScopes* named)
      : nodes_(nodes), named_(named) {
    recent_.fill({kNoKey, nullptr});
  }

  const NamedScope& Resolve(NameScope scope) {
    const uint64_t key = uint64_t{scope.segment} << 32 | scope.id;
    if (forgotten_ != named_->forgotten()) {
      // Results are views into `named`, which dropped them.
      forgotten_ = named_->forgotten();
      recent_.fill({kNoKey, nullptr});
    }
    for (size_t k = 0; k < recent_.size(); ++k) {
      const size_t slot = (last_found_ + k) % recent_.size();
      if (recent_[slot].first == key && named_->Holds(*recent_[slot].second)) {
        last_found_ = slot;
        return *recent_[slot].second;
      }
    }
    const NamedScope& resolved =
        named_->Resolve(nodes_.NameScopeText(scope), /*recent_first=*/false);
    if (forgotten_ != named_->forgotten()) {
      forgotten_ = named_->forgotten();
      recent_.fill({kNoKey, nullptr});
    }
    last_found_ = next_;
    recent_[next_] = {key, &resolved};
    next_ = (next_ + 1) % recent_.size();
    return resolved;
  }

 private:
  static constexpr uint64_t kNoKey = ~uint64_t{0};
  const NodeList& nodes_;
  NamedScopes* named_;
  size_t forgotten_ = 0;
  std::array<std::pair<uint64_t, const NamedScope*>, 16> recent_;
  size_t next_ = 0;
  size_t last_found_ = 0;
};

// What a node's scope is read from, gathered a window of nodes ahead of a
// walk (on all cores for a serial walk over every node: a table that may
// grow, or calls met in order): the walk then reads these in order instead
// of node messages scattered through memory, and reads a node itself only
// for dynamo metadata. The scope is a prefix of the node's name, so only
// its length is kept.
struct NodeFacts {
  absl::string_view name;
  absl::string_view op_type;
  int owner = -1;
  bool dynamo = false;     // carries pkg.torch.onnx.name_scopes
  bool has_scope = false;  // ScopeOfName has one
  uint32_t scope_size = 0;

  std::optional<absl::string_view> Scope() const {
    if (!has_scope) return std::nullopt;
    return name.substr(0, scope_size);
  }
};

// The facts of nodes [first, first + facts->size()), on all cores ahead of
// a serial walk, else on this one. With `records` (this core only), read
// from a copy of the nodes' records, which the facts then view until the
// next window: the file's pages were given back when the nodes were read,
// and copying them again costs less than mapping them again. Otherwise
// the pages they are read from stay in for the walk, which gives them
// back.
void GatherFacts(const NodeList& nodes, size_t first, bool on_all_cores,
                 RecordCopy* records, std::vector<NodeFacts>* facts) {
  auto fill = [](const NodeRef& node, NodeFacts* fact) {
    fact->name = node.name;
    fact->op_type = node.op_type;
    fact->owner = node.owner;
    fact->dynamo = node.FindMetadata(kDynamoNameScopesKey).has_value();
    const std::optional<absl::string_view> scope = ScopeOfName(node.name);
    fact->has_scope = scope.has_value();
    fact->scope_size = scope ? static_cast<uint32_t>(scope->size()) : 0;
  };
  if (records != nullptr) {
    records->Read(first, first + facts->size());
    for (size_t k = 0; k < facts->size(); ++k) {
      fill((*records)[first + k], &(*facts)[k]);
    }
    return;
  }
  auto gather = [&](size_t begin, size_t end) {
    NodeList::const_iterator it = nodes.At(first + begin);
    for (size_t k = begin; k < end; ++k, ++it) fill(*it, &(*facts)[k]);
  };
  if (on_all_cores) {
    ForSlices(facts->size(), kNodesPerSlice, gather);
  } else {
    gather(0, facts->size());
  }
}

// The error (or, when the first candidate is taken, the warning) for a node
// whose scope segment fits several modules.
std::string AmbiguityMessage(absl::string_view name, absl::string_view op_type,
                             const NamedScope& named,
                             const ModuleTable& modules, bool take_first) {
  const ScopeProblem& problem = *named.problem;
  const absl::string_view under = modules.at(problem.ambiguous_under).path;
  const std::string candidates = absl::StrJoin(
      problem.candidates, ", ", [&](std::string* out, int module) {
        absl::StrAppend(out, "'", modules.at(module).path, "'");
      });
  return absl::StrCat(
      "node '", name, "' (", op_type, "): scope segment '",
      problem.ambiguous_component, "' under ",
      under.empty() ? std::string("the root") : absl::StrCat("'", under, "'"),
      " could be any of the modules ", candidates,
      " (reached through containers that never ran), and the trace cannot "
      "tell which; ",
      take_first ? absl::StrCat("took the first, '",
                                modules.at(problem.candidates.front()).path,
                                "' (option first_candidate)")
                 : "record the trace again with an hp_record that writes the "
                   "call sequence, or take the first of them (option "
                   "first_candidate)");
}

// The walk over a range of nodes [begin, end): each node's scope in
// `placed`, and what the range adds to the result.
class RangeWalk {
 public:
  explicit RangeWalk(size_t begin) : begin_(begin) {}

  // `reached` is set for a table from a trace, `calls` for a trace with
  // its call sequence; facts are gathered on all cores for a walk that has
  // them to itself.
  void Walk(const NodeList& nodes, size_t end, ModuleTable* modules,
            const ReachedModules* reached, CallMatcher* calls,
            const ScopeOptions& options, bool facts_on_all_cores,
            std::vector<NodeScope>* placed) {
    // The stack starts at the root in each range: Align leaves it holding
    // exactly the chain it was given, so what it held before a range does
    // not matter.
    ScopeStack stack(0);
    NamedScopes named_scopes(modules, reached);
    std::vector<int> chain;
    // Facts a window at a time: a million nodes' would be 48 MB more. A
    // window gathered on all cores is large enough to share out; one this
    // core gathers only keeps its reads together.
    const size_t facts_window =
        facts_on_all_cores ? size_t{1} << 15 : size_t{1} << 12;
    std::vector<NodeFacts> window;
    size_t window_at = begin_;
    // A walk of its own range has no calls to match (which would keep the
    // last node's scope past a window): its facts view record copies.
    RecordCopy records(nodes);
    RecordCopy* copy = facts_on_all_cores ? nullptr : &records;
    const NamedScope call_scope;  // a scope a call resolved: origin only

    // Where a node's scope depends on its name and the table alone (no
    // calls to match), a list that kept the nodes' name scopes spares
    // reading them: a node without metadata entries (so without dynamo
    // ones) is placed from its scope's id.
    const bool by_kept_scope = calls == nullptr;
    KeptScopes kept_scopes(nodes, &named_scopes);

    NodeList::const_iterator it = nodes.At(begin_);
    NodeReleaser releaser(nodes, begin_);
    for (size_t i = begin_; i < end; ++i, ++it) {
      releaser.Reached(i);
      NodeScope& scope = (*placed)[i];
      chain.assign(1, 0);
      // The chain the stack takes: `chain` (set below for dynamo metadata),
      // unless a named scope or a call gives one.
      absl::Span<const int> aligned;
      // The node's scope, if it has one, and the call that made it (a
      // trace's calls); the facts, where they were read.
      const NamedScope* named = nullptr;
      const std::vector<int>* call_chain = nullptr;
      const NodeFacts* fact = nullptr;
      const NameScope kept = it.name_scope();
      if (by_kept_scope && kept.id != NameScope::kNotKept &&
          (!kept.had_metadata || (*it).metadata.empty())) {
        if (kept.id != NameScope::kNone) {
          named = &kept_scopes.Resolve(kept);
        } else if (const int owner = (*it).owner; owner >= 0) {
          // Its owner may lie in another range: placed after them all.
          scope.origin = ScopeOrigin::kEnclosingNode;
          enclosed_.emplace_back(i, owner);
        }
      } else {
        if (i < window_at || i >= window_at + window.size()) {
          window_at = i;
          window.resize(std::min(facts_window, end - i));
          GatherFacts(nodes, window_at, facts_on_all_cores, copy, &window);
        }
        fact = &window[i - window_at];
        std::string missing;
        if (fact->dynamo && DynamoChain(*it, modules, &chain, &missing)) {
          scope.origin = ScopeOrigin::kDynamoMetadata;
          any_scope_ = true;
          if (!missing.empty()) {
            scope.origin = ScopeOrigin::kNearestAncestor;
            warnings_.push_back(absl::StrCat(
                "node '", fact->name, "' (", fact->op_type, "): module '",
                missing, "' of ", kDynamoNameScopesKey,
                " is not a module of the trace; tagged as its nearest traced "
                "ancestor '",
                modules->at(chain.back()).path, "'"));
          }
        } else if (const std::optional<absl::string_view> node_scope =
                       fact->Scope()) {
          call_chain = calls != nullptr
                           ? calls->Match(*node_scope, fact->op_type)
                           : nullptr;
          named = call_chain != nullptr ? &call_scope
                                        : &named_scopes.Resolve(*node_scope);
        } else if (fact->owner >= 0) {
          scope.origin = ScopeOrigin::kEnclosingNode;
          enclosed_.emplace_back(i, fact->owner);
        }
      }
      if (named != nullptr) {
        any_scope_ = true;
        scope.origin = named->origin;
        aligned = call_chain != nullptr ? absl::Span<const int>(*call_chain)
                                        : absl::Span<const int>(named->chain);
        // Read for a message only: a node placed from its scope's id has
        // its name read from the file.
        auto name = [&] { return fact != nullptr ? fact->name : (*it).name; };
        auto op_type = [&] {
          return fact != nullptr ? fact->op_type : (*it).op_type;
        };
        if (named->ambiguous()) {
          std::string what = AmbiguityMessage(
              name(), op_type(), *named, *modules, options.first_candidate);
          if (!options.first_candidate) {
            status_ = absl::InvalidArgumentError(what);
            return;
          }
          warnings_.push_back(std::move(what));
        }
        if (named->origin == ScopeOrigin::kNearestAncestor) {
          warnings_.push_back(absl::StrCat(
              "node '", name(), "' (", op_type(), "): scope '",
              named->problem->unknown_component, "' under '",
              modules->at(named->chain.back()).path,
              "' is not a module of the trace; tagged as its nearest traced "
              "ancestor"));
        }
      }
      stack.Align(named != nullptr ? aligned : absl::Span<const int>(chain));
      scope.module = stack.top();
    }
  }

  size_t begin() const { return begin_; }
  // The first scope segment the trace leaves ambiguous, unless the first
  // candidate is taken: the walk stopped there.
  const absl::Status& status() const { return status_; }
  bool any_scope() const { return any_scope_; }
  std::vector<std::string>& warnings() { return warnings_; }
  // Subgraph nodes without a scope, and the node owning their subgraph.
  const std::vector<std::pair<size_t, int>>& enclosed() const {
    return enclosed_;
  }

 private:
  size_t begin_;
  absl::Status status_;
  bool any_scope_ = false;
  std::vector<std::string> warnings_;
  std::vector<std::pair<size_t, int>> enclosed_;
};

}  // namespace

void ScopeStack::Align(absl::Span<const int> chain) {
  size_t common = 1;  // The root is shared by every chain.
  while (common < stack_.size() && common < chain.size() &&
         stack_[common] == chain[common]) {
    ++common;
  }
  stack_.resize(common);
  stack_.insert(stack_.end(), chain.begin() + common, chain.end());
}

absl::StatusOr<ScopeReconstruction> ReconstructScopes(
    const NodeList& nodes, ModuleTable* modules, const ScopeOptions& options) {
  ScopeReconstruction result;
  result.nodes.resize(nodes.size());
  std::optional<ReachedModules> reached;
  if (modules->source() == HierarchySource::kTrace) reached.emplace(*modules);
  std::optional<CallMatcher> calls;
  if (modules->has_calls()) calls.emplace(*modules);
  // A trace's table is only read, and without its calls (which are met in
  // order) a node's scope depends on the node alone: ranges of nodes are
  // then walked on all cores.
  const bool by_ranges = reached.has_value() && !calls.has_value();
  std::vector<RangeWalk> walks;
  std::mutex walks_mutex;
  auto walk = [&](size_t begin, size_t end) {
    RangeWalk range(begin);
    range.Walk(nodes, end, modules, reached ? &*reached : nullptr,
               calls ? &*calls : nullptr, options, !by_ranges, &result.nodes);
    std::lock_guard<std::mutex> lock(walks_mutex);
    walks.push_back(std::move(range));
  };
  if (by_ranges) {
    // In pieces handed out as cores come free: the trace's module tags are
    // resolved on a third thread meanwhile (TagModel), which would hold
    // back the core it shares with one half of an even split.
    constexpr size_t kWalkPiecesPerThread = 8;
    ForPieces(nodes.size(), kNodesPerSlice, kWalkPiecesPerThread, walk);
  } else {
    walk(0, nodes.size());
  }
  absl::c_sort(walks, [](const RangeWalk& a, const RangeWalk& b) {
    return a.begin() < b.begin();
  });
  for (const RangeWalk& range : walks) {
    if (!range.status().ok()) return range.status();
  }
  // In node order, each body node without a scope takes the module of its
  // If/Loop/Scan: the top of the stack that node left, as one walk over all
  // nodes would have had it. An owner met later (none is) gives the root.
  for (RangeWalk& range : walks) {
    result.any_scope = result.any_scope || range.any_scope();
    std::vector<std::string>& warnings = range.warnings();
    result.warnings.insert(result.warnings.end(),
                           std::make_move_iterator(warnings.begin()),
                           std::make_move_iterator(warnings.end()));
    for (const auto& [node, owner] : range.enclosed()) {
      const bool met = owner >= 0 && static_cast<size_t>(owner) < node &&
                       nodes[static_cast<size_t>(owner)].owns_subgraphs;
      result.nodes[node].module = met ? result.nodes[owner].module : 0;
    }
  }
  return result;
}

namespace {

// The root class a node's dynamo class hierarchy names, if it names one.
std::optional<std::string> RootClassOf(const NodeRef& node) {
  const std::optional<absl::string_view> hierarchy =
      node.FindMetadata(kDynamoClassHierarchyKey);
  if (!hierarchy.has_value()) return std::nullopt;
  std::optional<std::vector<std::string>> classes =
      ParsePythonStringList(*hierarchy);
  if (!classes || classes->empty()) return std::nullopt;
  return classes->front();
}

}  // namespace

std::optional<std::string> DynamoRootClass(const NodeList& nodes) {
  // The first node in graph order that names one. A graph without dynamo
  // metadata is read to its end, so it is looked for on all cores, a
  // slice giving up once an earlier node has been found.
  std::atomic<size_t> first{nodes.size()};
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    NodeList::const_iterator it = nodes.At(begin);
    for (size_t i = begin; i < end && i < first.load(std::memory_order_relaxed);
         ++i, ++it) {
      if (!RootClassOf(*it).has_value()) continue;
      size_t found = first.load();
      while (i < found && !first.compare_exchange_weak(found, i)) {
      }
      return;
    }
  });
  if (first == nodes.size()) return std::nullopt;
  return RootClassOf(*nodes.At(first));
}

std::optional<std::vector<std::string>> ParsePythonStringList(
    absl::string_view text) {
  std::vector<std::string> items;
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) ++pos;
  };
  skip_space();
  if (pos >= text.size() || text[pos] != '[') return std::nullopt;
  ++pos;
  skip_space();
  if (pos < text.size() && text[pos] == ']') return items;
  while (pos < text.size()) {
    const char quote = text[pos];
    if (quote != '\'' && quote != '"') return std::nullopt;
    ++pos;
    std::string item;
    while (pos < text.size() && text[pos] != quote) {
      if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
      item.push_back(text[pos++]);
    }
    if (pos >= text.size()) return std::nullopt;
    ++pos;  // closing quote
    items.push_back(std::move(item));
    skip_space();
    if (pos < text.size() && text[pos] == ']') return items;
    if (pos >= text.size() || text[pos] != ',') return std::nullopt;
    ++pos;
    skip_space();
  }
  return std::nullopt;
}

}  // namespace hp
