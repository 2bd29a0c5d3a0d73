// The transfer rule, in its order of precedence: kept, replacing, inserted
// (propagation), unplaced. docs/transfer.md.
#include "hp/transfer/transfer_rule.h"

#include <algorithm>
#include <cstdint>
#include <future>
#include <mutex>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "hp/tag/propagation.h"
#include "hp/util/parallel.h"

namespace hp {
namespace {

// A new tensor stands for at most this many original ones: a long chain
// of new tensors (a layout region) must not make the union quadratic.
constexpr size_t kMaxStandsFor = 256;

absl::string_view Domain(absl::string_view domain) {
  return domain == "ai.onnx" ? absl::string_view() : domain;
}

// A node's op type and domain hashed: nodes whose hashes differ differ in
// one of them. Kept to 4 bytes a node of a million-node graph.
uint32_t OpHash(const NodeRef& node) {
  return static_cast<uint32_t>(absl::HashOf(node.op_type, Domain(node.domain)));
}

bool SameSpan(const NodeValueNames& a, const NodeValueNames& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// `merged` is scratch space, kept from call to call (a replacing walk per
// node would otherwise allocate and free several vectors each).
void MergeInto(absl::Span<const int> more, std::vector<int>* into,
               std::vector<int>* merged) {
  if (more.empty()) return;
  merged->clear();
  std::set_union(into->begin(), into->end(), more.begin(), more.end(),
                 std::back_inserter(*merged));
  if (merged->size() > kMaxStandsFor) merged->resize(kMaxStandsFor);
  into->swap(*merged);
}

// Per node of a list, in its order, the tensor ids of its inputs and of
// its outputs (-1 for an empty name or one the original graph lacks):
// read from flat arrays, where looking names up again would hash them and
// compare them with names anywhere in the tagged file.
class NodeValueIds {
 public:
  NodeValueIds() : inputs_at_{0}, outputs_at_{0} {}

  void Reserve(size_t nodes) {
    inputs_at_.reserve(nodes + 1);
    outputs_at_.reserve(nodes + 1);
  }
  // Room for every node of `nodes`, each id -1 until set by its slot.
  // Counted on all cores (a million nodes' records), then summed.
  void Allocate(const NodeList& nodes) {
    inputs_at_.assign(nodes.size() + 1, 0);
    outputs_at_.assign(nodes.size() + 1, 0);
    ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
      NodeList::const_iterator it = nodes.At(begin);
      for (size_t i = begin; i < end; ++i, ++it) {
        const NodeRef node = *it;
        inputs_at_[i + 1] = static_cast<int>(node.inputs.size());
        outputs_at_[i + 1] = static_cast<int>(node.outputs.size());
      }
    });
    std::partial_sum(inputs_at_.begin(), inputs_at_.end(), inputs_at_.begin());
    std::partial_sum(outputs_at_.begin(), outputs_at_.end(),
                     outputs_at_.begin());
    input_ids_.assign(inputs_at_.back(), -1);
    output_ids_.assign(outputs_at_.back(), -1);
  }
  size_t FirstInputSlot(size_t node) const { return inputs_at_[node]; }
  size_t FirstOutputSlot(size_t node) const { return outputs_at_[node]; }
  // The next node's ids: its inputs and outputs, then EndNode.
  size_t AddInput(int id) {
    input_ids_.push_back(id);
    return input_ids_.size() - 1;
  }
  size_t AddOutput(int id) {
    output_ids_.push_back(id);
    return output_ids_.size() - 1;
  }
  void EndNode() {
    inputs_at_.push_back(static_cast<int>(input_ids_.size()));
    outputs_at_.push_back(static_cast<int>(output_ids_.size()));
  }
  // `slot` is what AddInput returned.
  void SetInput(size_t slot, int id) { input_ids_[slot] = id; }
  void SetOutput(size_t slot, int id) { output_ids_[slot] = id; }
  int OutputAt(size_t slot) const { return output_ids_[slot]; }
  size_t input_slots() const { return input_ids_.size(); }
  size_t output_slots() const { return output_ids_.size(); }

  absl::Span<const int> Inputs(size_t node) const {
    return Slice(input_ids_, inputs_at_, node);
  }
  absl::Span<const int> Outputs(size_t node) const {
    return Slice(output_ids_, outputs_at_, node);
  }

 private:
  static absl::Span<const int> Slice(const std::vector<int>& ids,
                                     const std::vector<int>& at, size_t node) {
    return absl::MakeConstSpan(ids).subspan(at[node], at[node + 1] - at[node]);
  }

  std::vector<int> inputs_at_;  // per node where its ids start; one past
  std::vector<int> input_ids_;
  std::vector<int> outputs_at_;
  std::vector<int> output_ids_;
};

// Where `name` is among `names` (a node's outputs), names.size() when it
// is not: nodes mostly read what the node before them wrote, and comparing
// with its names, just read, is cheaper than a lookup.
size_t PositionIn(absl::string_view name, const NodeValueNames& names) {
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) -
                             names.begin());
}

// The original graph's tensors and nodes, indexed for the rule. The
// tensor index is built on first use: a derived graph whose nodes are all
// kept in order (a version conversion, a renaming) never needs it.
class OriginalGraph {
 public:
  explicit OriginalGraph(const TaggedNodes& from)
      : from_(from), nodes_(*from.nodes) {}
  OriginalGraph(const OriginalGraph&) = delete;
  OriginalGraph& operator=(const OriginalGraph&) = delete;

  const NodeList& nodes() const { return nodes_; }
  int tensor_count() {
    Index();
    return static_cast<int>(producer_.size());
  }
  // -1 when the original graph has no tensor of that name.
  int TensorId(absl::string_view name) {
    if (name.empty()) return -1;
    Index();
    return Find(name, Hash(name));
  }
  // Fetches where TensorId(name) will look, for a lookup some steps
  // later: a million lookups in a table of a million names each wait for
  // memory otherwise. Only once indexed (a walk that looked up already).
  void Prefetch(absl::string_view name) const {
    if (!indexed_ || name.empty()) return;
    const size_t hash = Hash(name);
    tables_[TableOf(hash)].prefetch(name);
  }
  // `tensor` is an id TensorId gave.
  int Producer(int tensor) const { return producer_[tensor]; }
  // False when original node `at` cannot be the same node as `node`: its
  // op type, domain or number of inputs or outputs differ. Told from
  // what the index kept, without reading `at`'s record: a fusing
  // optimizer's nodes are looked up by their first output and each differs
  // from the node found, whose record a read would copy for nothing.
  // Only once indexed.
  bool MayBeSame(int at, const NodeRef& node) const {
    return op_hashes_[at] == OpHash(node) &&
           value_ids_.Inputs(at).size() == node.inputs.size() &&
           value_ids_.Outputs(at).size() == node.outputs.size();
  }
  // Original node `node`'s input and output ids: the walks back through
  // original nodes read these, not the tagged file's names.
  const NodeValueIds& ValueIds() {
    Index();
    return value_ids_;
  }
  // The rule reads original nodes (the kept check compares them with
  // derived ones) in the derived graph's order, which mostly keeps the
  // original's: giving the tagged file's pages back every so many steps of
  // a walk holds about a window of it, where the reads would fault all of
  // it in.
  void GiveBackEvery(size_t step) const {
    constexpr size_t kWindow = size_t{1} << 16;
    if (step % kWindow == kWindow - 1) nodes_.Release(0, nodes_.size());
  }
  // Names are looked up only for nodes data flow leaves open: the map is
  // built on the first lookup.
  int NodeNamed(absl::string_view name) {
    if (node_by_name_.empty()) {
      node_by_name_.reserve(nodes_.size());
      for (size_t i = 0; i < nodes_.size(); ++i) {
        node_by_name_.try_emplace(nodes_[i].name, static_cast<int>(i));
      }
    }
    auto it = node_by_name_.find(name);
    return it == node_by_name_.end() ? -1 : it->second;
  }

 private:
  using NameHash = absl::Hash<absl::string_view>;
  static size_t Hash(absl::string_view name) { return NameHash()(name); }

  // Per tensor id, its name (a copy) and that name's hash.
  struct Names {
    std::vector<absl::string_view> names;
    std::vector<size_t> hashes;
  };
  // The tables hold tensor ids alone, hashed and compared through their
  // names: 4 bytes a slot where a name's view and an id took 24, and on
  // this machine memory first touched costs more than the indirection
  // (tens of megabytes for a million names). Looked up by name.
  struct IdHash {
    using is_transparent = void;
    const Names* names;
    size_t operator()(uint32_t id) const { return names->hashes[id]; }
    size_t operator()(absl::string_view name) const { return Hash(name); }
  };
  struct IdEq {
    using is_transparent = void;
    const Names* names;
    bool operator()(uint32_t a, uint32_t b) const {
      return a == b || names->names[a] == names->names[b];
    }
    bool operator()(uint32_t id, absl::string_view name) const {
      return names->names[id] == name;
    }
    bool operator()(absl::string_view name, uint32_t id) const {
      return names->names[id] == name;
    }
  };
  using Table = absl::flat_hash_set<uint32_t, IdHash, IdEq>;

  // An input to set once every name has its id, by looking its name up:
  // one the node before did not write (most inputs are its outputs, and
  // take their ids from its slots instead).
  struct PendingLookUp {
    size_t slot;
    absl::string_view name;
    size_t hash;
  };

  // Which table holds a name: high bits, where each table's own slot
  // choice and control bytes read the low ones.
  size_t TableOf(size_t hash) const { return (hash >> 32) % tables_.size(); }
  int Find(absl::string_view name, size_t hash) const {
    const Table& table = tables_[TableOf(hash)];
    auto it = table.find(name, hash);
    return it == table.end() ? -1 : static_cast<int>(*it);
  }

  // A tensor's id is the output slot (value_ids_) of the node output that
  // first writes its name, in graph order; graph inputs and initializers
  // no node writes come after the last slot, in that order. Ids so sort
  // in order of first production, as the walks need, and no slot waits
  // for the ones before it. Two passes on all cores: each core copies and
  // hashes the output names of a slice of the nodes (lookups then compare
  // with the copies, in memory that stays, not with the tagged file's
  // pages given back), then interns the names whose hash falls to its
  // table, in slot order.
  void Index() {
    if (indexed_) return;
    indexed_ = true;
    value_ids_.Allocate(nodes_);
    const size_t slots = value_ids_.output_slots();
    // A table per slice of ForSlices' split: one below two slices, where
    // threads would cost more than they save.
    const size_t table_count = SliceCount(nodes_.size(), kNodesPerSlice);
    for (size_t t = 0; t < table_count; ++t) {
      tables_.emplace_back(0, IdHash{&names_}, IdEq{&names_});
    }
    producer_.assign(slots, -1);
    op_hashes_.resize(nodes_.size());
    std::vector<absl::string_view>& names = names_.names;
    std::vector<size_t>& hashes = names_.hashes;
    names.assign(slots, {});
    hashes.assign(slots, 0);
    // Per input slot, the output slot of the node before that writes its
    // name, -1 for none: a flat array sized once, where a list of pending
    // inputs grew by doubling through tens of megabytes.
    std::vector<int> from_output(value_ids_.input_slots(), -1);
    std::vector<std::vector<PendingLookUp>> pending;
    // The names pending inputs look up, copied: the nodes are read from
    // copies of their records (RecordCopy), reused run after run.
    std::vector<StringArena> pending_names;
    std::mutex slice_done;
    ForSlices(nodes_.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
      NodeReleaser releaser(nodes_, begin);
      RecordCopy records(nodes_);
      StringArena copies(kNameBlockBytes);
      StringArena looked_up(size_t{64} << 10);
      std::vector<PendingLookUp> inputs;
      NodeRef previous;
      for (size_t i = begin; i < end; ++i) {
        if (records.Reached(i, end) && i > 0) {
          // Outside the run read: views into the file, not the copy.
          previous = records[i - 1];
        }
        releaser.Reached(i);
        const NodeRef node = records[i];
        op_hashes_[i] = OpHash(node);
        size_t slot = value_ids_.FirstInputSlot(i);
        for (absl::string_view input : node.inputs) {
          if (!input.empty()) {
            const size_t k = PositionIn(input, previous.outputs);
            if (k < previous.outputs.size()) {
              from_output[slot] =
                  static_cast<int>(value_ids_.FirstOutputSlot(i - 1) + k);
            } else {
              inputs.push_back({slot, looked_up.Store(input), Hash(input)});
            }
          }
          ++slot;
        }
        slot = value_ids_.FirstOutputSlot(i);
        for (absl::string_view output : node.outputs) {
          if (!output.empty()) {
            // A slot whose name an earlier one wrote is no id: its
            // producer is never read.
            producer_[slot] = static_cast<int>(i);
            names[slot] = copies.Store(output);
            hashes[slot] = Hash(names[slot]);
          }
          ++slot;
        }
        previous = node;
      }
      const std::lock_guard<std::mutex> lock(slice_done);
      name_copies_.push_back(std::move(copies));
      pending.push_back(std::move(inputs));
      pending_names.push_back(std::move(looked_up));
    });
    // Names are hashed this far ahead of their insert, so that the
    // table's memory is fetched by the time it is read.
    constexpr size_t kAhead = 8;
    ForSlices(tables_.size(), 1, [&](size_t first, size_t last) {
      std::vector<uint32_t> mine;
      for (size_t t = first; t < last; ++t) {
        mine.clear();
        for (size_t slot = 0; slot < slots; ++slot) {
          if (!names[slot].empty() && TableOf(hashes[slot]) == t) {
            mine.push_back(static_cast<uint32_t>(slot));
          }
        }
        Table& table = tables_[t];
        table.reserve(mine.size());
        for (size_t k = 0; k < mine.size(); ++k) {
          if (k + kAhead < mine.size()) table.prefetch(mine[k + kAhead]);
          const uint32_t slot = mine[k];
          value_ids_.SetOutput(slot,
                               static_cast<int>(*table.insert(slot).first));
        }
      }
    });
    for (const std::string& name : from_.values.inputs) InternUnwritten(name);
    for (const std::string& name : from_.values.initializers) {
      InternUnwritten(name);
    }
    // The tables are complete: inputs are set on all cores, each slot
    // once.
    ForSlices(
        from_output.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
          for (size_t slot = begin; slot < end; ++slot) {
            if (from_output[slot] >= 0) {
              value_ids_.SetInput(slot, value_ids_.OutputAt(from_output[slot]));
            }
          }
        });
    ForSlices(pending.size(), 1, [&](size_t first, size_t last) {
      for (size_t list = first; list < last; ++list) {
        const std::vector<PendingLookUp>& inputs = pending[list];
        for (size_t k = 0; k < inputs.size(); ++k) {
          if (k + kAhead < inputs.size()) {
            const PendingLookUp& ahead = inputs[k + kAhead];
            tables_[TableOf(ahead.hash)].prefetch(ahead.name);
          }
          const PendingLookUp& input = inputs[k];
          value_ids_.SetInput(input.slot, Find(input.name, input.hash));
        }
      }
    });
  }

  // A graph input or initializer: an id past the slots, unless a node
  // output or an earlier one has the name.
  // `name` outlives the tables (from_'s).
  void InternUnwritten(absl::string_view name) {
    const size_t hash = Hash(name);
    names_.names.push_back(name);
    names_.hashes.push_back(hash);
    if (tables_[TableOf(hash)]
            .insert(static_cast<uint32_t>(producer_.size()))
            .second) {
      producer_.push_back(-1);
    } else {
      names_.names.pop_back();
      names_.hashes.pop_back();
    }
  }

  // Large enough for huge pages: the names of a million nodes are tens of
  // megabytes.
  static constexpr size_t kNameBlockBytes = size_t{4} << 20;

  const TaggedNodes& from_;
  const NodeList& nodes_;
  bool indexed_ = false;
  std::vector<StringArena> name_copies_;  // what names_ views
  // Per tensor id; the tables point to it (OriginalGraph is not moved:
  // copying and moving are deleted).
  Names names_;
  std::vector<Table> tables_;        // by TableOf: the ids
  std::vector<int> producer_;        // per tensor id: its node, -1 for none
  std::vector<uint32_t> op_hashes_;  // per node: OpHash
  NodeValueIds value_ids_;
  absl::flat_hash_map<absl::string_view, int> node_by_name_;
};

// Distinct (tag, module path) pairs; 0 is the root. The result keeps
// copies, so that writing the tags reads none of the tagged file.
class Placements {
 public:
  Placements(absl::string_view root_tag, TransferResult* result)
      : result_(result) {
    Add(root_tag, "");
  }
  int Add(absl::string_view tag, absl::string_view module_path) {
    // Nodes of one module come in runs.
    if (last_ >= 0 && tag == result_->tags[last_] &&
        module_path == result_->module_paths[last_]) {
      return last_;
    }
    auto it = ids_.find(std::make_pair(tag, module_path));
    if (it == ids_.end()) {
      StringArena& kept = result_->placement_strings;
      const absl::string_view kept_tag = kept.StoreOnce(tag);
      const absl::string_view kept_path = kept.StoreOnce(module_path);
      it = ids_.try_emplace(std::make_pair(kept_tag, kept_path),
                            static_cast<int>(result_->tags.size()))
               .first;
      result_->tags.push_back(kept_tag);
      result_->module_paths.push_back(kept_path);
    }
    last_ = it->second;
    return last_;
  }

 private:
  TransferResult* result_;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, int>
      ids_;
  int last_ = -1;
};

class Transfer {
 public:
  Transfer(const TaggedNodes& from, const NodeList& derived,
           const GraphValueNames& derived_values, TransferResult* result)
      : from_(from),
        original_(from),
        derived_(derived),
        derived_values_(derived_values),
        result_(result),
        placements_(RootTag(from.tags.front()), result) {
    const size_t count = derived_.size();
    result_->kinds.assign(count, MatchKind::kUnplaced);
    result_->placement.assign(count, 0);
    kept_source_.assign(count, -1);
    first_output_id_.assign(count, kUnknown);
    kept_.assign(original_.nodes().size(), false);
  }

  void Run() {
    // Kept first: the walks of replacing nodes stop at original nodes that
    // are still there. Both lists are read in order here, from copies of
    // their records a run at a time (RecordCopy): the original's run
    // starts at the node after the last kept one. What is read off those
    // runs is mapped, and its pages given back behind the walk.
    bool all_kept = true;
    {
      const NodeList& originals = original_.nodes();
      // The later slices are matched in order on the other cores
      // meanwhile, each from a guess of where it starts (InOrderRun).
      std::vector<std::future<InOrderRun>> ahead = MatchSlicesInOrder();
      size_t next_run = 0;
      // Where the next run begins: past the last node once none is left.
      auto next_run_begin = [&] {
        return next_run < ahead.size() ? SliceBegin(next_run + 1)
                                       : derived_.size();
      };
      size_t run_begin = next_run_begin();
      NodeReleaser derived_pages(derived_, 0);
      NodeReleaser original_pages(originals, 0);
      RecordCopy derived_records(derived_);
      RecordCopy original_records(originals);
      // The original nodes found by name, read from runs of their own:
      // where no node is kept (a fusing optimizer) they move on while the
      // next in order stays put.
      RecordCopy found_records(originals);
      size_t passed = 0;  // original nodes the kept ones went past
      for (size_t i = 0; i < derived_.size(); ++i) {
        // A run taken may end the graph, where run_begin then points too.
        while (i == run_begin && next_run < ahead.size()) {
          const InOrderRun run = ahead[next_run++].get();
          if (run.start == next_) i = Adopt(run, &all_kept);
          run_begin = next_run_begin();
        }
        if (i == derived_.size()) break;
        derived_records.Reached(i, derived_.size());
        if (next_ < originals.size()) {
          original_records.Reached(next_, originals.size());
        }
        derived_pages.Reached(i);
        original_.GiveBackEvery(i);  // what lookups off the order read
        all_kept =
            MatchKept(i, derived_records, original_records, &found_records) &&
            all_kept;
        if (next_ > passed) {
          passed = next_;
          original_pages.Reached(passed - 1);
        }
      }
    }
    result_->source_offsets.reserve(derived_.size() + 1);
    result_->source_offsets.push_back(0);
    if (all_kept) {
      result_->source_nodes = std::move(kept_source_);
      for (size_t i = 1; i <= derived_.size(); ++i) {
        result_->source_offsets.push_back(static_cast<int>(i));
      }
    } else {
      MatchTheRest();
    }
    TransferStatistics& statistics = result_->statistics;
    statistics.nodes = static_cast<int64_t>(derived_.size());
    for (MatchKind kind : result_->kinds) {
      ++statistics.counts[static_cast<size_t>(kind)];
    }
  }

 private:
  // Replacing, then inserted, for the nodes not kept; each node's sources
  // (the original it keeps, or those it replaced), one flat list.
  void MatchTheRest() {
    IndexDataFlow();
    std::vector<bool> pending(derived_.size(), false);
    std::vector<int> replaced;
    NodeReleaser derived_pages(derived_, 0);
    RecordCopy derived_records(derived_);
    for (size_t i = 0; i < derived_.size(); ++i) {
      derived_records.Reached(i, derived_.size());
      derived_pages.Reached(i);
      original_.GiveBackEvery(i);
      std::vector<int>& sources = result_->source_nodes;
      if (result_->kinds[i] == MatchKind::kKept) {
        sources.push_back(kept_source_[i]);
      } else if (MatchReplacing(i, derived_records[i], &replaced)) {
        sources.insert(sources.end(), replaced.begin(), replaced.end());
      } else {
        pending[i] = true;
      }
      result_->source_offsets.push_back(static_cast<int>(sources.size()));
    }
    // Inserted: the tag the neighbours agree on, as --propagate does.
    const bool any_pending =
        std::find(pending.begin(), pending.end(), true) != pending.end();
    const std::vector<bool> moved =
        any_pending ? PropagateTags(derived_, pending, &result_->placement)
                    : std::vector<bool>(derived_.size(), false);
    for (size_t i = 0; i < derived_.size(); ++i) {
      if (!pending[i]) continue;
      if (moved[i]) {
        result_->kinds[i] = MatchKind::kInserted;
      } else if (derived_[i].owner >= 0) {
        // A body node as tag places it: in the node owning the body.
        result_->kinds[i] = MatchKind::kInserted;
        result_->placement[i] = result_->placement[derived_[i].owner];
      }
    }
  }

  // Which original tensors the derived graph still has, who writes its new
  // ones, and each derived node's tensor ids: what the walks of replacing
  // nodes read.
  void IndexDataFlow() {
    const int tensors = original_.tensor_count();
    walked_.assign(original_.nodes().size(), 0);
    reached_.assign(original_.nodes().size(), 0);
    input_mark_.assign(tensors, 0);
    present_.assign(tensors, false);
    auto mark_present = [&](absl::string_view name) {
      const int id = original_.TensorId(name);
      if (id >= 0) present_[id] = true;
      return id >= 0;
    };
    const NodeValueIds& originals = original_.ValueIds();
    derived_ids_.Reserve(derived_.size());
    NodeReleaser derived_pages(derived_, 0);
    RecordCopy derived_records(derived_);
    NodeRef previous;
    for (size_t i = 0; i < derived_.size(); ++i) {
      if (derived_records.Reached(i, derived_.size()) && i > 0) {
        // Outside the run read: views into the file, not the copy.
        previous = derived_records[i - 1];
      }
      derived_pages.Reached(i);
      original_.GiveBackEvery(i);
      const NodeRef node = derived_records[i];
      if (kept_source_[i] >= 0) {
        // The same names as the original node it keeps.
        for (int id : originals.Inputs(kept_source_[i])) {
          derived_ids_.AddInput(id);
        }
        for (int id : originals.Outputs(kept_source_[i])) {
          if (id >= 0) present_[id] = true;
          derived_ids_.AddOutput(id);
        }
      } else {
        const absl::Span<const int> previous_ids =
            i > 0 ? derived_ids_.Outputs(i - 1) : absl::Span<const int>();
        for (absl::string_view input : node.inputs) {
          const size_t k = PositionIn(input, previous.outputs);
          derived_ids_.AddInput(k < previous.outputs.size()
                                    ? previous_ids[k]
                                    : original_.TensorId(input));
        }
        for (size_t k = 0; k < node.outputs.size(); ++k) {
          const absl::string_view output = node.outputs[k];
          const int id = k == 0 && first_output_id_[i] != kUnknown
                             ? first_output_id_[i]
                             : original_.TensorId(output);
          derived_ids_.AddOutput(id);
          if (id >= 0) {
            present_[id] = true;
          } else if (!output.empty() && !producer_.contains(output)) {
            // The key is kept: a copy, not a view of the record's copy.
            producer_.emplace(new_names_.Store(output), static_cast<int>(i));
          }
        }
      }
      derived_ids_.EndNode();
      previous = node;
    }
    for (const std::string& name : derived_values_.inputs) mark_present(name);
    for (const std::string& name : derived_values_.initializers) {
      mark_present(name);
    }
  }

  static absl::string_view RootTag(absl::string_view tag) {
    const size_t end = tag.find('/', 1);
    return end == absl::string_view::npos ? tag : tag.substr(0, end);
  }

  // Whether derived node i is an original node unchanged: the next one
  // after the last kept (derived graphs keep the order), read from
  // `in_order`, else the one writing its first output, read from `found`.
  bool MatchKept(size_t i, const RecordCopy& derived,
                 const RecordCopy& in_order, RecordCopy* found) {
    const NodeRef node = derived[i];
    if (node.outputs.empty()) return false;
    int at = -1;
    const size_t originals = original_.nodes().size();
    if (next_ < originals && Same(in_order[next_], node)) {
      at = static_cast<int>(next_);
    } else {
      // Lookups come in runs (the nodes an optimizer changed): the one
      // some nodes on is fetched while this one waits.
      constexpr size_t kAhead = 8;
      if (i + kAhead < derived_.size()) {
        const NodeRef ahead = derived[i + kAhead];
        if (!ahead.outputs.empty()) original_.Prefetch(ahead.outputs.front());
      }
      const int tensor = original_.TensorId(node.outputs.front());
      first_output_id_[i] = tensor;
      if (tensor < 0) return false;
      at = original_.Producer(tensor);
      if (at < 0 || !original_.MayBeSame(at, node)) return false;
      found->ReachedSkipping(static_cast<size_t>(at), originals);
      if (!Same((*found)[at], node)) return false;
    }
    Keep(i, at);
    return true;
  }

  // Derived node i keeps original node `at`.
  void Keep(size_t i, int at) {
    next_ = static_cast<size_t>(at) + 1;
    kept_[at] = true;
    result_->kinds[i] = MatchKind::kKept;
    result_->placement[i] =
        placements_.Add(from_.tags[at], from_.module_paths[at]);
    kept_source_[i] = at;
  }

  // Derived nodes [begin, stop) matched in order on a core of their own,
  // from the guess that original node `start` is the next in order at
  // node `begin`: each node with outputs keeps the original after the
  // last kept one, as MatchKept finds first, up to the first that does
  // not (MatchKept would look that one up: the index is built on one
  // thread). The pass in order takes the run when it reaches `begin` with
  // `start` as its next original: it would then have matched the same
  // nodes the same way.
  struct InOrderRun {
    size_t begin = 0;
    size_t stop = 0;
    size_t start = 0;
    // Per node of [begin, stop): the original it keeps, -1 for a node
    // without outputs (kept by none).
    std::vector<int> kept;
  };

  // The derived graph in ForSlices' slices: those after the first are
  // matched in order on threads of their own; none for a graph under two
  // slices.
  size_t SliceCount() const {
    return hp::SliceCount(derived_.size(), kNodesPerSlice);
  }
  size_t SliceBegin(size_t slice) const {
    return hp::SliceBegin(derived_.size(), SliceCount(), slice);
  }
  std::vector<std::future<InOrderRun>> MatchSlicesInOrder() const {
    std::vector<std::future<InOrderRun>> runs;
    const size_t slices = SliceCount();
    const size_t originals = original_.nodes().size();
    for (size_t slice = 1; slice < slices; ++slice) {
      const size_t begin = SliceBegin(slice);
      const size_t end = SliceBegin(slice + 1);
      // Where a graph keeps every node, node i keeps original i; else
      // about the same share of the original graph (MatchInOrder looks
      // around it).
      const size_t guess =
          originals == derived_.size()
              ? begin
              : static_cast<size_t>(static_cast<double>(begin) /
                                    static_cast<double>(derived_.size()) *
                                    static_cast<double>(originals));
      runs.push_back(std::async(std::launch::async, [this, begin, end, guess] {
        return MatchInOrder(begin, end, guess);
      }));
    }
    return runs;
  }
  InOrderRun MatchInOrder(size_t begin, size_t end, size_t guess) const {
    InOrderRun run;
    run.begin = run.stop = begin;
    const NodeList& originals = original_.nodes();
    NodeReleaser derived_pages(derived_, begin);
    RecordCopy derived_records(derived_);
    RecordCopy original_records(originals);
    run.start =
        FindStart(begin, end, guess, &derived_records, &original_records);
    NodeReleaser original_pages(originals, run.start);
    size_t next = run.start;
    for (size_t i = begin; i < end; ++i) {
      derived_records.Reached(i, end);
      derived_pages.Reached(i);
      const NodeRef node = derived_records[i];
      int kept = -1;
      if (!node.outputs.empty()) {
        if (next >= originals.size()) break;
        original_records.Reached(next, originals.size());
        original_pages.Reached(next);
        if (!Same(original_records[next], node)) break;
        kept = static_cast<int>(next++);
      }
      run.kept.push_back(kept);
      run.stop = i + 1;
    }
    return run;
  }
  // Where derived node `begin` starts in order, from a guess off by the
  // nodes an optimizer removed or added before it: the original within
  // kWindow of `guess` that the first derived node with outputs from
  // `begin` on is the same as (Same); `guess` where none is.
  size_t FindStart(size_t begin, size_t end, size_t guess, RecordCopy* derived,
                   RecordCopy* originals_read) const {
    constexpr size_t kWindow = 64;
    const size_t originals = original_.nodes().size();
    for (size_t i = begin; i < end; ++i) {
      derived->Reached(i, end);
      const NodeRef node = (*derived)[i];
      if (node.outputs.empty()) continue;
      const size_t first = guess > kWindow ? guess - kWindow : 0;
      const size_t last = std::min(originals, guess + kWindow + 1);
      for (size_t k = first; k < last; ++k) {
        originals_read->Reached(k, originals);
        if (Same((*originals_read)[k], node)) return k;
      }
      break;
    }
    return guess;
  }

  // Takes what `run` matched, as MatchKept would have; returns the node
  // after it, where the pass in order goes on.
  size_t Adopt(const InOrderRun& run, bool* all_kept) {
    for (size_t i = run.begin; i < run.stop; ++i) {
      const int at = run.kept[i - run.begin];
      if (at < 0) {
        *all_kept = false;
      } else {
        Keep(i, at);
      }
    }
    return run.stop;
  }

  static bool Same(const NodeRef& original, const NodeRef& node) {
    return original.op_type == node.op_type &&
           Domain(original.domain) == Domain(node.domain) &&
           SameSpan(original.inputs, node.inputs) &&
           SameSpan(original.outputs, node.outputs);
  }

  // The original tensors a derived tensor (`name`, of id `id`) stands
  // for: itself when it is one (nullptr), else what its producer stands
  // for; a new initializer none.
  const std::vector<int>* StandsFor(absl::string_view name, int id) {
    if (id >= 0) return nullptr;
    auto it = producer_.find(name);
    if (it == producer_.end()) return &kNone;
    auto stands = stands_for_.find(it->second);
    return stands == stands_for_.end() ? &kNone : &stands->second;
  }

  // Where data flow leaves a choice (a node whose outputs are all new),
  // its name may say which original tensors it stands for: the longest
  // prefix, cut before a '/' or '_', that names an original node or
  // tensor gone from the derived graph (`.../Relu_output_0_nchwc`); else
  // the longest naming one a layout node writes back, whose original
  // writer no derived node keeps (the tensor is present, its computation
  // is not).
  std::vector<int> NameHint(absl::string_view name) {
    std::vector<int> named = NamedTensors(name, /*gone_only=*/true);
    return named.empty() ? NamedTensors(name, /*gone_only=*/false) : named;
  }

  std::vector<int> NamedTensors(absl::string_view name, bool gone_only) {
    auto fits = [&](int id) {
      if (id < 0) return false;
      const int producer = original_.Producer(id);
      if (producer < 0) return false;
      return gone_only ? !present_[id] : !kept_[producer];
    };
    for (size_t end = name.size(); end > 0; --end) {
      if (end < name.size() && name[end] != '/' && name[end] != '_') continue;
      const absl::string_view prefix = name.substr(0, end);
      std::vector<int> named;
      const int node = original_.NodeNamed(prefix);
      if (node >= 0) {
        for (int id : original_.ValueIds().Outputs(node)) {
          if (fits(id)) named.push_back(id);
        }
      } else {
        const int id = original_.TensorId(prefix);
        if (fits(id)) named.push_back(id);
      }
      if (!named.empty()) {
        std::sort(named.begin(), named.end());
        return named;
      }
    }
    return {};
  }

  // False when node i is neither kept nor replacing.
  // Sets `replaced` to the original nodes it replaced, in graph order.
  bool MatchReplacing(size_t i, const NodeRef& node,
                      std::vector<int>* replaced) {
    const absl::Span<const int> input_ids = derived_ids_.Inputs(i);
    // The original tensors its inputs stand for.
    std::vector<int>& inputs = scratch_.inputs;
    inputs.clear();
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      if (node.inputs[k].empty()) continue;
      const std::vector<int>* many = StandsFor(node.inputs[k], input_ids[k]);
      MergeInto(many == nullptr ? input_ids.subspan(k, 1)
                                : absl::MakeConstSpan(*many),
                &inputs, &scratch_.merged);
    }
    std::vector<int>& outputs =
        scratch_.outputs;  // original tensors it produces
    outputs.clear();
    bool writes_new = false;
    const absl::Span<const int> output_ids = derived_ids_.Outputs(i);
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      if (node.outputs[k].empty()) continue;
      const int id = output_ids[k];
      writes_new = writes_new || id < 0;
      if (id >= 0 && original_.Producer(id) >= 0) outputs.push_back(id);
    }
    std::sort(outputs.begin(), outputs.end());
    const bool hinted = outputs.empty();
    if (hinted) outputs = NameHint(node.name);
    // Its new outputs stand for what it produces, or else for its inputs.
    if (writes_new) {
      stands_for_[static_cast<int>(i)] = outputs.empty() ? inputs : outputs;
    }
    if (outputs.empty()) return false;
    Replaced(outputs, inputs, replaced);
    if (replaced->empty()) return false;  // a layout change: inserted
    if (hinted) {
      *replaced = InModuleOf(original_.Producer(outputs.front()), *replaced);
    }
    absl::string_view tag = from_.tags[replaced->front()];
    absl::string_view module_path = from_.module_paths[replaced->front()];
    for (int at : *replaced) {
      tag = CommonSegments(tag, from_.tags[at], '/');
      module_path = CommonSegments(module_path, from_.module_paths[at], '.');
    }
    if (tag.empty()) tag = result_->tags[0];
    result_->kinds[i] = MatchKind::kReplacing;
    result_->placement[i] = placements_.Add(tag, module_path);
    return true;
  }

  // Where a name placed the node, data flow may still span modules (an
  // NCHWc convolution fused with the previous block's Add and Relu, whose
  // layout tensor stands for the previous Conv's output): the name decides,
  // keeping those of `replaced` in the named node's module (its tag a
  // prefix of theirs), unless none is.
  std::vector<int> InModuleOf(int named,
                              const std::vector<int>& replaced) const {
    const absl::string_view tag = from_.tags[named];
    std::vector<int> inside;
    for (int at : replaced) {
      if (CommonSegments(tag, from_.tags[at], '/').size() == tag.size()) {
        inside.push_back(at);
      }
    }
    return inside.empty() ? replaced : inside;
  }

  // The original nodes on paths from `inputs` to `outputs` that are gone
  // from the derived graph: walked back from the outputs' producers
  // through nodes not kept, stopping at the inputs and at tensors the
  // derived graph still has; of those, the ones reached from the inputs
  // (all of them when none is). In graph order, into `replaced`.
  void Replaced(const std::vector<int>& outputs, const std::vector<int>& inputs,
                std::vector<int>* replaced) {
    ++stamp_;
    for (int id : inputs) input_mark_[id] = stamp_;
    std::vector<int>& stack = scratch_.stack;
    stack.clear();
    for (int id : outputs) {
      if (input_mark_[id] == stamp_) continue;
      const int at = original_.Producer(id);
      if (at >= 0 && !kept_[at]) stack.push_back(at);
    }
    std::vector<int>& walked = scratch_.walked;
    walked.clear();
    while (!stack.empty()) {
      const int at = stack.back();
      stack.pop_back();
      if (walked_[at] == stamp_) continue;
      walked_[at] = stamp_;
      walked.push_back(at);
      for (int id : original_.ValueIds().Inputs(at)) {
        if (id < 0 || input_mark_[id] == stamp_ || present_[id]) continue;
        const int producer = original_.Producer(id);
        if (producer >= 0 && !kept_[producer]) stack.push_back(producer);
      }
    }
    std::sort(walked.begin(), walked.end());
    // Producers come first in graph order: one pass finds what the inputs
    // reach.
    std::vector<int>& reached = *replaced;
    reached.clear();
    for (int at : walked) {
      bool from_input = false;
      for (int id : original_.ValueIds().Inputs(at)) {
        if (id < 0) continue;
        const int producer = original_.Producer(id);
        if (input_mark_[id] == stamp_ ||
            (producer >= 0 && reached_[producer] == stamp_)) {
          from_input = true;
          break;
        }
      }
      if (!from_input) continue;
      reached_[at] = stamp_;
      reached.push_back(at);
    }
    if (reached.empty()) reached.assign(walked.begin(), walked.end());
  }

  static const std::vector<int> kNone;

  // Scratch space of the replacing walks, kept from node to node.
  struct Scratch {
    std::vector<int> inputs;
    std::vector<int> outputs;
    std::vector<int> merged;
    std::vector<int> stack;
    std::vector<int> walked;
  };

  const TaggedNodes& from_;
  OriginalGraph original_;
  const NodeList& derived_;
  const GraphValueNames& derived_values_;
  TransferResult* result_;
  Placements placements_;
  size_t next_ = 0;            // the original node after the last kept one
  std::vector<bool> kept_;     // per original node: a derived node keeps it
  std::vector<bool> present_;  // per original tensor: the derived graph has it
  // The derived graph's new tensors (none of the original's): their nodes.
  absl::flat_hash_map<absl::string_view, int> producer_;
  StringArena new_names_;  // what producer_'s keys view
  // Per derived node not kept that writes new tensors: what they stand for.
  absl::flat_hash_map<int, std::vector<int>> stands_for_;
  std::vector<int> kept_source_;  // per derived node: the original it keeps
  // Per derived node: its first output's id where the kept pass looked it
  // up, else kUnknown.
  static constexpr int kUnknown = -2;
  std::vector<int> first_output_id_;
  NodeValueIds derived_ids_;  // per derived node (IndexDataFlow)
  // Per original node or tensor: the walk that last marked it.
  int stamp_ = 0;
  std::vector<int> walked_;
  std::vector<int> reached_;
  std::vector<int> input_mark_;
  Scratch scratch_;
};

const std::vector<int> Transfer::kNone;

}  // namespace

absl::string_view CommonSegments(absl::string_view a, absl::string_view b,
                                 char separator) {
  size_t same = 0;
  while (same < a.size() && same < b.size() && a[same] == b[same]) ++same;
  const auto ends_segment = [separator](absl::string_view s, size_t at) {
    return at == s.size() || s[at] == separator;
  };
  if (ends_segment(a, same) && ends_segment(b, same)) return a.substr(0, same);
  const size_t cut = a.substr(0, same).rfind(separator);
  return cut == absl::string_view::npos ? absl::string_view()
                                        : a.substr(0, cut);
}

TransferResult TransferTags(const TaggedNodes& from, const NodeList& derived,
                            const GraphValueNames& derived_values) {
  TransferResult result;
  Transfer transfer(from, derived, derived_values, &result);
  transfer.Run();
  return result;
}

}  // namespace hp
