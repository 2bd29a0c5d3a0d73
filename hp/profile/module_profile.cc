#include "hp/profile/module_profile.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hp/transfer/opened_transfer.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

constexpr absl::string_view kNodeCategory = "Node";
constexpr absl::string_view kSessionCategory = "Session";
constexpr absl::string_view kRunEvent = "model_run";

void Add(KernelTime* into, KernelTime time) {
  into->micros += time.micros;
  into->calls += time.calls;
}

}  // namespace

ProfiledGraph::~ProfiledGraph() = default;

absl::StatusOr<std::unique_ptr<ProfiledGraph>> ProfiledGraph::Open(
    const std::string& model_path, const std::string& optimized_path) {
  std::unique_ptr<ProfiledGraph> graph(new ProfiledGraph());
  ProfiledGraph& into = *graph;
  // The graph copies what it keeps of each node: the models are closed
  // when this returns, and no later pass reads their files.
  if (optimized_path.empty()) {
    // One pass over the tagged file: each node is kept as its tag is read,
    // and the pages go back behind it.
    TaggedModelReading reading;
    reading.give_back_pages = true;
    reading.visit = [&into](const NodeTagRead& read) {
      if (read.index == 0) into.Reserve(read.count);
      into.Add({read.node.name, read.node.op_type, read.tag, read.module_path,
                false});
    };
    HP_RETURN_IF_ERROR(OpenTaggedModel(model_path, reading).status());
  } else {
    HP_ASSIGN_OR_RETURN(const std::unique_ptr<OpenedTransfer> transfer,
                        OpenTransfer(model_path, optimized_path));
    const TransferResult& result = transfer->result;
    const NodeList& list = transfer->derived.list();
    into.Reserve(list.size());
    NodeReleaser releaser(list, 0);
    NodeReadAhead ahead(list);
    size_t i = 0;
    for (auto it = list.begin(); it != list.end(); ++it, ++i) {
      releaser.Reached(i);
      ahead.Reached(i);
      const NodeRef node = *it;
      into.Add({node.name, node.op_type, result.TagOf(i),
                result.ModulePathOf(i),
                result.kinds[i] == MatchKind::kReplacing});
    }
  }
  into.FindDuplicateNames();
  into.BuildTree();
  return graph;
}

std::unique_ptr<ProfiledGraph> ProfiledGraph::FromNodes(
    std::vector<ProfiledNode> nodes) {
  std::unique_ptr<ProfiledGraph> graph(new ProfiledGraph());
  graph->Reserve(nodes.size());
  for (const ProfiledNode& node : nodes) graph->Add(node);
  graph->FindDuplicateNames();
  graph->BuildTree();
  return graph;
}

void ProfiledGraph::Reserve(size_t count) { nodes_.reserve(count); }

void ProfiledGraph::Add(const ProfiledNode& node) {
  // Names are copied each (they are mostly unique); op types, tags and
  // module paths repeat, and are copied once each.
  const absl::string_view name = strings_.Store(node.name);
  nodes_.push_back({name, strings_.StoreOnce(node.op_type),
                    strings_.StoreOnce(node.tag),
                    strings_.StoreOnce(node.module_path), node.fused});
  if (name.empty()) ++unnamed_nodes_;
}

void ProfiledGraph::FindDuplicateNames() {
  first_of_name_.assign(nodes_.size(), false);
  // Named nodes grouped by their name's hash: a counting sort on its top
  // bits, then each small bucket sorted. Nodes of one name are then
  // neighbours, with the rare others of the same hash.
  constexpr int kBucketBits = 16;
  struct Keyed {
    uint64_t hash;
    uint32_t node;
  };
  const absl::Hash<absl::string_view> hash_of;
  std::vector<uint64_t> hashes(nodes_.size());
  std::vector<uint32_t> bucket_begin((size_t{1} << kBucketBits) + 1, 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name.empty()) continue;
    hashes[i] = hash_of(nodes_[i].name);
    ++bucket_begin[(hashes[i] >> (64 - kBucketBits)) + 1];
  }
  for (size_t b = 1; b < bucket_begin.size(); ++b) {
    bucket_begin[b] += bucket_begin[b - 1];
  }
  std::vector<Keyed> keyed(bucket_begin.back());
  {
    std::vector<uint32_t> next(bucket_begin.begin(), bucket_begin.end() - 1);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].name.empty()) continue;
      keyed[next[hashes[i] >> (64 - kBucketBits)]++] = {
          hashes[i], static_cast<uint32_t>(i)};
    }
  }
  // Per name held by several nodes, the node that holds it second: the
  // names are listed in that order.
  std::vector<std::pair<uint32_t, absl::string_view>> second_holders;
  auto by_hash_then_node = [](const Keyed& a, const Keyed& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.node < b.node;
  };
  for (size_t b = 0; b + 1 < bucket_begin.size(); ++b) {
    const auto first = keyed.begin() + bucket_begin[b];
    const auto last = keyed.begin() + bucket_begin[b + 1];
    std::sort(first, last, by_hash_then_node);
    for (auto run = first; run != last;) {
      auto run_end = run + 1;
      while (run_end != last && run_end->hash == run->hash) ++run_end;
      if (run_end - run > 1) {
        // Nodes of one name, in node order: the first is found by name.
        std::stable_sort(run, run_end, [&](const Keyed& a, const Keyed& c) {
          return nodes_[a.node].name < nodes_[c.node].name;
        });
      }
      for (auto at = run; at != run_end; ++at) {
        const bool first_of_name =
            at == run || nodes_[at->node].name != nodes_[(at - 1)->node].name;
        if (first_of_name) {
          first_of_name_[at->node] = true;
        } else if (at - 1 == run ||
                   nodes_[(at - 2)->node].name != nodes_[at->node].name) {
          // The node before holds the name first: this one second.
          second_holders.emplace_back(at->node, nodes_[at->node].name);
        }
      }
      run = run_end;
    }
  }
  std::sort(second_holders.begin(), second_holders.end());
  duplicate_names_.clear();
  for (const auto& [node, name] : second_holders) {
    duplicate_names_.emplace_back(name);
  }
}

const absl::flat_hash_map<absl::string_view, int>& ProfiledGraph::ByName()
    const {
  std::call_once(by_name_made_, [this] {
    by_name_.reserve(nodes_.size() - static_cast<size_t>(unnamed_nodes_));
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (first_of_name_[i]) {
        by_name_.emplace(nodes_[i].name, static_cast<int>(i));
      }
    }
  });
  return by_name_;
}

void ProfiledGraph::BuildTree() {
  tree_ = ModuleTree::FromNodeTags(nodes_.size(),
                                   [&](size_t i) { return nodes_[i].tag; });
  // Per module, the path its first node records, read in node order.
  module_paths_.assign(tree_.modules().size(), absl::string_view());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const int module = tree_.module_of_node()[i];
    if (module >= 0 && module_paths_[module].empty()) {
      module_paths_[module] = nodes_[i].module_path;
    }
  }
}

int ProfiledGraph::Find(absl::string_view name) const {
  if (name.empty()) return -1;
  const absl::flat_hash_map<absl::string_view, int>& by_name = ByName();
  auto found = by_name.find(name);
  return found == by_name.end() ? -1 : found->second;
}

int ProfiledGraph::Find(absl::string_view name, int hint) const {
  if (hint >= 0 && static_cast<size_t>(hint) < nodes_.size() &&
      first_of_name_[hint] && nodes_[hint].name == name) {
    return hint;
  }
  return Find(name);
}

NodeTimes::NodeTimes(const ProfiledGraph& graph, int64_t runs_skip)
    : graph_(graph),
      runs_skip_(runs_skip),
      per_node_(graph.nodes().size()),
      pending_(graph.nodes().size()) {}

absl::Status NodeTimes::AddFile(const std::string& path) {
  files_.push_back(path);
  HP_RETURN_IF_ERROR(ReadProfileFile(
      path, [&](const ProfileEvent& event) { return Visit(path, event); }));
  EndFile();
  return absl::OkStatus();
}

absl::Status NodeTimes::AddBytes(absl::string_view bytes,
                                 absl::string_view source) {
  files_.emplace_back(source);
  HP_RETURN_IF_ERROR(ReadProfileBytes(
      bytes, source,
      [&](const ProfileEvent& event) { return Visit(source, event); }));
  EndFile();
  return absl::OkStatus();
}

absl::Status NodeTimes::AddFiles(ProfileReadAhead* files) {
  for (const std::string& path : files->paths()) {
    files_.push_back(path);
    HP_RETURN_IF_ERROR(files->VisitNext(
        [&](const ProfileEvent& event) { return Visit(path, event); }));
    EndFile();
  }
  return absl::OkStatus();
}

absl::Status NodeTimes::Visit(absl::string_view source,
                              const ProfileEvent& event) {
  if (event.category == kSessionCategory) {
    ++session_events_;
    if (event.name == kRunEvent) {
      const bool keep = file_runs_ >= runs_skip_;
      ++file_runs_;
      if (keep) {
        ++runs_;
        run_wall_micros_ += std::max<int64_t>(event.dur, 0);
      } else {
        ++runs_skipped_;
      }
      EndRun(keep);
    }
    return absl::OkStatus();
  }
  absl::string_view node_name;
  if (event.category != kNodeCategory ||
      !KernelEventNode(event.name, &node_name)) {
    ++other_events_;
    return absl::OkStatus();
  }
  if (event.dur < 0 || event.dur_invalid) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": event ", event.index, " (byte offset ", event.byte_offset,
        ", '", event.name,
        "'): \"dur\" must be a whole, non-negative number of microseconds"));
  }
  const KernelTime time{event.dur, 1};
  Add(&pending_total_, time);
  const int node = graph_.Find(node_name, last_found_ + 1);
  if (node >= 0) last_found_ = node;
  if (node < 0) {
    // Names are kept up to the list's size (here and in the list), so
    // that a profile of another model costs no memory per name.
    auto at = pending_unknown_index_.find(node_name);
    if (at == pending_unknown_index_.end()) {
      if (pending_unknown_.size() >= kMaxUnknownListed) {
        Add(&pending_unlisted_, time);
        return absl::OkStatus();
      }
      at = pending_unknown_index_.emplace(node_name, pending_unknown_.size())
               .first;
      pending_unknown_.emplace_back(node_name, KernelTime{});
    }
    Add(&pending_unknown_[at->second].second, time);
    return absl::OkStatus();
  }
  if (pending_[node].calls == 0) pending_nodes_.push_back(node);
  Add(&pending_[node], time);
  return absl::OkStatus();
}

void NodeTimes::EndRun(bool keep) {
  if (keep) {
    Add(&kernel_, pending_total_);
    for (int node : pending_nodes_) Add(&per_node_[node], pending_[node]);
    Add(&unknown_, pending_unlisted_);
    Add(&unlisted_, pending_unlisted_);
    for (auto& [name, time] : pending_unknown_) {
      Add(&unknown_, time);
      auto at = unknown_index_.find(name);
      if (at == unknown_index_.end()) {
        if (unknown_list_.size() >= kMaxUnknownListed) {
          Add(&unlisted_, time);
          continue;
        }
        at = unknown_index_.emplace(name, unknown_list_.size()).first;
        unknown_list_.emplace_back(name, KernelTime{});
      }
      Add(&unknown_list_[at->second].second, time);
    }
  } else {
    Add(&skipped_, pending_total_);
  }
  for (int node : pending_nodes_) pending_[node] = KernelTime{};
  pending_nodes_.clear();
  pending_unknown_.clear();
  pending_unknown_index_.clear();
  pending_unlisted_ = KernelTime{};
  pending_total_ = KernelTime{};
}

void NodeTimes::EndFile() {
  // Node events after the file's last model_run (or in a file without
  // any) count, unless they would fall in a skipped run.
  EndRun(file_runs_ >= runs_skip_);
  file_runs_ = 0;
}

absl::Status NodeTimes::Check() const {
  const std::string files = absl::StrJoin(files_, ", ");
  if (kernel_.calls == 0) {
    if (skipped_.calls > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          files, ": every node event is in a skipped run (--runs_skip ",
          runs_skip_, " of ", runs_skipped_, " runs)"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        files,
        ": no node events (\"cat\": \"Node\", \"<node>_kernel_time\"): the "
        "session ran no model, or this is not an onnxruntime profile"));
  }
  if (unknown_.calls * 2 > kernel_.calls) {
    std::string example;
    if (!unknown_list_.empty()) {
      example = absl::StrCat(" (first: '", unknown_list_.front().first, "')");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        files, ": ", unknown_.calls, " of ", kernel_.calls,
        " node events name nodes the model does not have", example,
        ": a profile of another model, or of an optimized session without "
        "--optimized (the graph the session saved with "
        "optimizedModelFilePath)"));
  }
  return absl::OkStatus();
}

ModuleProfile ProfileModules(const ProfiledGraph& graph,
                             const NodeTimes& times) {
  const ModuleTree& tree = graph.tree();
  const std::vector<TreeModule>& modules = tree.modules();
  ModuleProfile profile;
  profile.modules.resize(modules.size());
  // Per module, its subtree's time per op type.
  std::vector<absl::flat_hash_map<absl::string_view, KernelTime>> ops(
      modules.size());
  for (size_t i = 0; i < graph.nodes().size(); ++i) {
    const KernelTime time = times.per_node()[i];
    const int module = tree.module_of_node()[i];
    if (time.calls == 0 || module < 0) continue;
    ModuleTime& into = profile.modules[module];
    into.self_micros += time.micros;
    into.self_calls += time.calls;
    if (graph.nodes()[i].fused) into.fused_micros += time.micros;
    Add(&ops[module][graph.nodes()[i].op_type], time);
  }
  // Children come after their parents: one backward pass sums subtrees.
  for (int m = static_cast<int>(modules.size()) - 1; m >= 0; --m) {
    ModuleTime& module = profile.modules[m];
    module.total_micros += module.self_micros;
    module.total_calls += module.self_calls;
    for (const auto& [op, time] : ops[m]) {
      module.ops.push_back({std::string(op), time.micros, time.calls});
    }
    std::sort(module.ops.begin(), module.ops.end(),
              [](const OpTime& a, const OpTime& b) {
                if (a.micros != b.micros) return a.micros > b.micros;
                return a.op_type < b.op_type;
              });
    const int parent = modules[m].parent;
    if (parent < 0) {
      profile.module_micros += module.total_micros;
      profile.fused_micros += module.fused_micros;
      continue;
    }
    ModuleTime& up = profile.modules[parent];
    up.total_micros += module.total_micros;
    up.total_calls += module.total_calls;
    up.fused_micros += module.fused_micros;
    for (const auto& [op, time] : ops[m]) Add(&ops[parent][op], time);
  }
  // Costliest first, depth first.
  auto costlier = [&](int a, int b) {
    if (profile.modules[a].total_micros != profile.modules[b].total_micros) {
      return profile.modules[a].total_micros > profile.modules[b].total_micros;
    }
    return a < b;
  };
  std::vector<int> stack(tree.roots().rbegin(), tree.roots().rend());
  std::sort(stack.begin(), stack.end(),
            [&](int a, int b) { return costlier(b, a); });
  while (!stack.empty()) {
    const int m = stack.back();
    stack.pop_back();
    profile.tree_order.push_back(m);
    std::vector<int> children = modules[m].children;
    std::sort(children.begin(), children.end(),
              [&](int a, int b) { return costlier(b, a); });
    stack.insert(stack.end(), children.begin(), children.end());
  }
  return profile;
}

}  // namespace hp
