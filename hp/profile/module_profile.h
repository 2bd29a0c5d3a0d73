// Where a model's time goes, per module: onnxruntime's node events (read
// by profile_reader, file after file) attributed to the nodes of a tagged
// model, or of the model onnxruntime optimized it into with the tags
// transfer gives that one's nodes, then summed per module instance of the
// module tree. Memory: the model's nodes and the modules; the profile's
// events only as far as they are read ahead (ProfileReadAhead, bounded).
// Part of the public API (hp/hp.h).
//
//   // The profile is parsed while the model opens.
//   hp::ProfileReadAhead reading({"onnxruntime_profile.json"});
//   HP_ASSIGN_OR_RETURN(auto graph, hp::ProfiledGraph::Open(
//       "bert.tagged.onnx", "bert.optimized.onnx"));
//   hp::NodeTimes times(*graph, /*runs_skip=*/1);
//   HP_RETURN_IF_ERROR(times.AddFiles(&reading));
//   HP_ASSIGN_OR_RETURN(hp::ModuleProfile profile,
//                       hp::ProfileModules(*graph, times));
#ifndef HP_PROFILE_MODULE_PROFILE_H_
#define HP_PROFILE_MODULE_PROFILE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/profile/profile_read_ahead.h"
#include "hp/profile/profile_reader.h"
#include "hp/util/string_arena.h"
#include "hp/view/module_tree.h"

namespace hp {

// A node events can name, with its module.
struct ProfiledNode {
  absl::string_view name;
  absl::string_view op_type;
  absl::string_view tag;
  absl::string_view module_path;  // "" when not known
  // Transfer matched it as `replacing`: a fused node, whose time goes to
  // the deepest common module of the nodes it replaced.
  bool fused = false;
};

// The nodes events are attributed to, by name, and their module tree.
class ProfiledGraph {
 public:
  ProfiledGraph(ProfiledGraph&&) = delete;
  ~ProfiledGraph();

  // The nodes of the tagged model at `model_path`, or, with
  // `optimized_path`, those of the model onnxruntime saved from it
  // (optimizedModelFilePath) with the tags transfer gives them, in memory.
  static absl::StatusOr<std::unique_ptr<ProfiledGraph>> Open(
      const std::string& model_path, const std::string& optimized_path);
  // Nodes given directly (tests); the strings are copied.
  static std::unique_ptr<ProfiledGraph> FromNodes(
      std::vector<ProfiledNode> nodes);

  const std::vector<ProfiledNode>& nodes() const { return nodes_; }
  const ModuleTree& tree() const { return tree_; }
  // The node named so, or -1. A duplicated name finds its first node.
  int Find(absl::string_view name) const;
  // The same, node `hint` compared first: events mostly come in the
  // graph's order (onnxruntime runs the nodes in an order of their
  // dependencies, mostly the graph's), and the node after the last one
  // found is read in order where a lookup in a million names waits for
  // memory.
  int Find(absl::string_view name, int hint) const;
  // Nodes without a name (events cannot name them), and names held by
  // several nodes (their events go to the first).
  int64_t unnamed_nodes() const { return unnamed_nodes_; }
  const std::vector<std::string>& duplicate_names() const {
    return duplicate_names_;
  }
  // Per module of tree(): its dotted path, when a node records it.
  const std::vector<absl::string_view>& module_paths() const {
    return module_paths_;
  }

 private:
  ProfiledGraph() = default;
  // Keeps a copy of a node.
  void Reserve(size_t count);
  void Add(const ProfiledNode& node);
  // Once every node is added: which node is the first of its name, the
  // names several nodes hold, and the module tree.
  void FindDuplicateNames();
  void BuildTree();
  // The first node of each name, by name: made at the first lookup that
  // needs it. Events mostly name the node after the last one found
  // (Find's hint), and a table of a million names took 0.28 s to make.
  const absl::flat_hash_map<absl::string_view, int>& ByName() const;

  StringArena strings_;  // every string the nodes view
  std::vector<ProfiledNode> nodes_;
  std::vector<bool> first_of_name_;  // per node: the first of its name
  mutable std::once_flag by_name_made_;
  mutable absl::flat_hash_map<absl::string_view, int> by_name_;
  int64_t unnamed_nodes_ = 0;
  std::vector<std::string> duplicate_names_;
  ModuleTree tree_;
  std::vector<absl::string_view> module_paths_;
};

struct KernelTime {
  int64_t micros = 0;
  int64_t calls = 0;
};

// Node kernel time and calls per node of a ProfiledGraph, from profile
// files read one after another.
class NodeTimes {
 public:
  // The first `runs_skip` runs of each file (warm-up) are left out: the
  // node events before a file's (runs_skip)-th model_run event.
  NodeTimes(const ProfiledGraph& graph, int64_t runs_skip);

  // Reads one profile (profile_reader's errors; InvalidArgument naming the
  // file and event for a node event without a whole "dur").
  absl::Status AddFile(const std::string& path);
  absl::Status AddBytes(absl::string_view bytes, absl::string_view source);
  // Each file `files` reads ahead, as AddFile would read it.
  absl::Status AddFiles(ProfileReadAhead* files);

  // Once every file is read: InvalidArgument when no node event was read,
  // or more than half of them name nodes the graph does not have (a
  // profile of another model, or of the optimized one without
  // --optimized), with the counts.
  absl::Status Check() const;

  const std::vector<KernelTime>& per_node() const { return per_node_; }
  // Counted node (kernel) events, all and those of unknown nodes.
  KernelTime kernel() const { return kernel_; }
  KernelTime unknown() const { return unknown_; }
  // Unknown node names with their time, first seen first; at most
  // kMaxUnknownListed names. The events of further names are counted in
  // unknown() and unlisted().
  static constexpr size_t kMaxUnknownListed = 1000;
  const std::vector<std::pair<std::string, KernelTime>>& unknown_nodes() const {
    return unknown_list_;
  }
  KernelTime unlisted() const { return unlisted_; }
  // model_run events counted (after skipping) and their summed duration.
  int64_t runs() const { return runs_; }
  int64_t runs_skipped() const { return runs_skipped_; }
  int64_t run_wall_micros() const { return run_wall_micros_; }
  // Node events in skipped runs.
  KernelTime skipped() const { return skipped_; }
  // Events that are not node kernel events: session (model_run,
  // session_initialization, ...), other categories (thread pool, API).
  int64_t session_events() const { return session_events_; }
  int64_t other_events() const { return other_events_; }
  const std::vector<std::string>& files() const { return files_; }

 private:
  absl::Status Visit(absl::string_view source, const ProfileEvent& event);
  void EndRun(bool keep);
  void EndFile();

  const ProfiledGraph& graph_;
  int64_t runs_skip_;
  std::vector<KernelTime> per_node_;
  // The current run's events, until its model_run event says whether it
  // counts.
  std::vector<KernelTime> pending_;
  std::vector<int> pending_nodes_;
  int last_found_ = -1;  // the node of the last event that named one
  // Unknown names of the current run, first seen first.
  absl::flat_hash_map<std::string, size_t> pending_unknown_index_;
  std::vector<std::pair<std::string, KernelTime>> pending_unknown_;
  KernelTime pending_unlisted_;
  KernelTime pending_total_;
  int64_t file_runs_ = 0;  // model_run events seen in the current file
  KernelTime kernel_, unknown_, skipped_;
  absl::flat_hash_map<std::string, size_t> unknown_index_;
  std::vector<std::pair<std::string, KernelTime>> unknown_list_;
  KernelTime unlisted_;
  int64_t runs_ = 0, runs_skipped_ = 0, run_wall_micros_ = 0;
  int64_t session_events_ = 0, other_events_ = 0;
  std::vector<std::string> files_;
};

struct OpTime {
  std::string op_type;
  int64_t micros = 0;
  int64_t calls = 0;
};

// One module instance of the tree, with its time.
struct ModuleTime {
  int64_t total_micros = 0;  // its nodes and its descendants'
  int64_t self_micros = 0;   // its own nodes
  int64_t total_calls = 0;
  int64_t self_calls = 0;
  int64_t fused_micros = 0;  // of its subtree's fused nodes
  std::vector<OpTime> ops;   // over the subtree, costliest first
};

struct ModuleProfile {
  std::vector<ModuleTime> modules;  // per module of the graph's tree()
  int64_t module_micros = 0;        // attributed: the roots' totals summed
  int64_t fused_micros = 0;
  // Modules by total time, children after their parent and siblings
  // costliest first (ties: tree order): the order the text shows.
  std::vector<int> tree_order;
};

// Sums the node times per module.
ModuleProfile ProfileModules(const ProfiledGraph& graph,
                             const NodeTimes& times);

}  // namespace hp

#endif  // HP_PROFILE_MODULE_PROFILE_H_
