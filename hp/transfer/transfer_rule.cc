// The transfer rule, in its order of precedence: kept, replacing, inserted
// (propagation), unplaced. docs/transfer.md.
#include "hp/transfer/transfer_rule.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "hp/tag/propagation.h"

namespace hp {
namespace {

// A new tensor stands for at most this many original ones: a long chain
// of new tensors (a layout region) must not make the union quadratic.
constexpr size_t kMaxStandsFor = 256;

absl::string_view Domain(absl::string_view domain) {
  return domain == "ai.onnx" ? absl::string_view() : domain;
}

bool SameSpan(const NodeValueNames& a, const NodeValueNames& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

void MergeInto(const std::vector<int>& more, std::vector<int>* into) {
  if (more.empty()) return;
  std::vector<int> merged;
  merged.reserve(into->size() + more.size());
  std::set_union(into->begin(), into->end(), more.begin(), more.end(),
                 std::back_inserter(merged));
  if (merged.size() > kMaxStandsFor) merged.resize(kMaxStandsFor);
  *into = std::move(merged);
}

// The original graph's tensors and nodes, indexed for the rule.
class OriginalGraph {
 public:
  explicit OriginalGraph(const TaggedNodes& from) : nodes_(*from.nodes) {
    tensor_id_.reserve(nodes_.size() + from.values.inputs.size() +
                       from.values.initializers.size());
    producer_.reserve(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (absl::string_view output : nodes_[i].outputs) {
        if (output.empty()) continue;
        const int id = Intern(output);
        if (producer_[id] < 0) producer_[id] = static_cast<int>(i);
      }
    }
    for (const std::string& name : from.values.inputs) Intern(name);
    for (const std::string& name : from.values.initializers) Intern(name);
  }

  const NodeList& nodes() const { return nodes_; }
  int tensor_count() const { return static_cast<int>(producer_.size()); }
  // -1 when the original graph has no tensor of that name.
  int TensorId(absl::string_view name) const {
    if (name.empty()) return -1;
    auto it = tensor_id_.find(name);
    return it == tensor_id_.end() ? -1 : it->second;
  }
  int Producer(int tensor) const { return producer_[tensor]; }
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
  int Intern(absl::string_view name) {
    auto [it, added] =
        tensor_id_.try_emplace(name, static_cast<int>(producer_.size()));
    if (added) producer_.push_back(-1);
    return it->second;
  }

  const NodeList& nodes_;
  absl::flat_hash_map<absl::string_view, int> tensor_id_;
  std::vector<int> producer_;  // per tensor id: its node, -1 for none
  absl::flat_hash_map<absl::string_view, int> node_by_name_;
};

// Distinct (tag, module path) pairs; 0 is the root.
class Placements {
 public:
  Placements(absl::string_view root_tag, TransferResult* result)
      : result_(result) {
    Add(root_tag, "");
  }
  int Add(absl::string_view tag, absl::string_view module_path) {
    auto [it, added] = ids_.try_emplace(std::make_pair(tag, module_path),
                                        static_cast<int>(result_->tags.size()));
    if (added) {
      result_->tags.push_back(tag);
      result_->module_paths.push_back(module_path);
    }
    return it->second;
  }

 private:
  TransferResult* result_;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, int>
      ids_;
};

class Transfer {
 public:
  Transfer(const TaggedNodes& from, const NodeList& derived,
           const GraphValueNames& derived_values, TransferResult* result)
      : from_(from),
        original_(from),
        derived_(derived),
        result_(result),
        placements_(RootTag(from.tags.front()), result) {
    const size_t count = derived_.size();
    result_->kinds.assign(count, MatchKind::kUnplaced);
    result_->placement.assign(count, 0);
    kept_source_.assign(count, -1);
    stands_for_.assign(count, {});
    kept_.assign(original_.nodes().size(), false);
    walked_.assign(original_.nodes().size(), 0);
    reached_.assign(original_.nodes().size(), 0);
    input_mark_.assign(original_.tensor_count(), 0);
    present_.assign(original_.tensor_count(), false);
    original_placement_.resize(original_.nodes().size());
    for (size_t i = 0; i < original_.nodes().size(); ++i) {
      original_placement_[i] =
          placements_.Add(from.tags[i], from.module_paths[i]);
    }
    auto mark_present = [&](absl::string_view name) {
      const int id = original_.TensorId(name);
      if (id >= 0) present_[id] = true;
    };
    producer_.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      for (absl::string_view output : derived_[i].outputs) {
        if (output.empty()) continue;
        mark_present(output);
        producer_.try_emplace(output, static_cast<int>(i));
      }
    }
    for (const std::string& name : derived_values.inputs) mark_present(name);
    for (const std::string& name : derived_values.initializers) {
      mark_present(name);
    }
  }

  void Run() {
    // Kept first: the walks of replacing nodes stop at original nodes that
    // are still there.
    for (size_t i = 0; i < derived_.size(); ++i) MatchKept(i);
    std::vector<bool> pending(derived_.size(), false);
    for (size_t i = 0; i < derived_.size(); ++i) {
      if (result_->kinds[i] == MatchKind::kKept) continue;
      pending[i] = !MatchReplacing(i);
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
    // The sources, one flat list.
    result_->source_offsets.reserve(derived_.size() + 1);
    result_->source_offsets.push_back(0);
    for (size_t i = 0; i < derived_.size(); ++i) {
      if (kept_source_[i] >= 0) {
        result_->source_nodes.push_back(kept_source_[i]);
      } else if (auto it = replaced_.find(static_cast<int>(i));
                 it != replaced_.end()) {
        result_->source_nodes.insert(result_->source_nodes.end(),
                                     it->second.begin(), it->second.end());
      }
      result_->source_offsets.push_back(
          static_cast<int>(result_->source_nodes.size()));
    }
    TransferStatistics& statistics = result_->statistics;
    statistics.nodes = static_cast<int64_t>(derived_.size());
    for (MatchKind kind : result_->kinds) {
      ++statistics.counts[static_cast<size_t>(kind)];
    }
  }

 private:
  static absl::string_view RootTag(absl::string_view tag) {
    const size_t end = tag.find('/', 1);
    return end == absl::string_view::npos ? tag : tag.substr(0, end);
  }

  void MatchKept(size_t i) {
    const NodeRef& node = derived_[i];
    if (node.outputs.empty()) return;
    const int tensor = original_.TensorId(node.outputs.front());
    if (tensor < 0) return;
    const int at = original_.Producer(tensor);
    if (at < 0) return;
    const NodeRef& original = original_.nodes()[at];
    if (original.op_type != node.op_type ||
        Domain(original.domain) != Domain(node.domain) ||
        !SameSpan(original.inputs, node.inputs) ||
        !SameSpan(original.outputs, node.outputs)) {
      return;
    }
    kept_[at] = true;
    result_->kinds[i] = MatchKind::kKept;
    result_->placement[i] = original_placement_[at];
    kept_source_[i] = at;
  }

  // The original tensors a derived tensor stands for: itself when it is
  // one, else what its producer stands for; a new initializer none.
  const std::vector<int>* StandsFor(absl::string_view name, int* single) {
    *single = original_.TensorId(name);
    if (*single >= 0) return nullptr;
    auto it = producer_.find(name);
    return it == producer_.end() ? &kNone : &stands_for_[it->second];
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
        for (absl::string_view output : original_.nodes()[node].outputs) {
          const int id = original_.TensorId(output);
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
  bool MatchReplacing(size_t i) {
    const NodeRef& node = derived_[i];
    std::vector<int> inputs;  // the original tensors its inputs stand for
    for (absl::string_view input : node.inputs) {
      if (input.empty()) continue;
      int single = -1;
      const std::vector<int>* many = StandsFor(input, &single);
      if (many == nullptr) {
        MergeInto({single}, &inputs);
      } else {
        MergeInto(*many, &inputs);
      }
    }
    std::vector<int> outputs;  // original tensors it produces
    for (absl::string_view output : node.outputs) {
      const int id = original_.TensorId(output);
      if (id >= 0 && original_.Producer(id) >= 0) outputs.push_back(id);
    }
    std::sort(outputs.begin(), outputs.end());
    const bool hinted = outputs.empty();
    if (hinted) outputs = NameHint(node.name);
    // Its new outputs stand for what it produces, or else for its inputs.
    stands_for_[i] = outputs.empty() ? inputs : outputs;
    if (outputs.empty()) return false;
    std::vector<int> replaced = Replaced(outputs, inputs);
    if (replaced.empty()) return false;  // a layout change: inserted
    if (hinted) replaced = InModuleOf(original_.Producer(outputs.front()), replaced);
    absl::string_view tag = from_.tags[replaced.front()];
    absl::string_view module_path = from_.module_paths[replaced.front()];
    for (int at : replaced) {
      tag = CommonSegments(tag, from_.tags[at], '/');
      module_path = CommonSegments(module_path, from_.module_paths[at], '.');
    }
    if (tag.empty()) tag = result_->tags[0];
    result_->kinds[i] = MatchKind::kReplacing;
    result_->placement[i] = placements_.Add(tag, module_path);
    replaced_[static_cast<int>(i)] = std::move(replaced);
    return true;
  }

  // Where a name placed the node, data flow may still span modules (an
  // NCHWc convolution fused with the previous block's Add and Relu, whose
  // layout tensor stands for the previous Conv's output): the name decides,
  // keeping those of `replaced` in the named node's module (its tag a
  // prefix of theirs), unless none is.
  std::vector<int> InModuleOf(int named, const std::vector<int>& replaced) const {
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
  // (all of them when none is). In graph order.
  std::vector<int> Replaced(const std::vector<int>& outputs,
                            const std::vector<int>& inputs) {
    ++stamp_;
    for (int id : inputs) input_mark_[id] = stamp_;
    std::vector<int> stack;
    for (int id : outputs) {
      if (input_mark_[id] == stamp_) continue;
      const int at = original_.Producer(id);
      if (at >= 0 && !kept_[at]) stack.push_back(at);
    }
    std::vector<int> walked;
    while (!stack.empty()) {
      const int at = stack.back();
      stack.pop_back();
      if (walked_[at] == stamp_) continue;
      walked_[at] = stamp_;
      walked.push_back(at);
      for (absl::string_view input : original_.nodes()[at].inputs) {
        const int id = original_.TensorId(input);
        if (id < 0 || input_mark_[id] == stamp_ || present_[id]) continue;
        const int producer = original_.Producer(id);
        if (producer >= 0 && !kept_[producer]) stack.push_back(producer);
      }
    }
    std::sort(walked.begin(), walked.end());
    // Producers come first in graph order: one pass finds what the inputs
    // reach.
    std::vector<int> reached;
    for (int at : walked) {
      bool from_input = false;
      for (absl::string_view input : original_.nodes()[at].inputs) {
        const int id = original_.TensorId(input);
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
    return reached.empty() ? walked : reached;
  }

  static const std::vector<int> kNone;

  const TaggedNodes& from_;
  OriginalGraph original_;
  const NodeList& derived_;
  TransferResult* result_;
  Placements placements_;
  std::vector<int> original_placement_;
  std::vector<bool> kept_;     // per original node: a derived node keeps it
  std::vector<bool> present_;  // per original tensor: the derived graph has it
  absl::flat_hash_map<absl::string_view, int> producer_;  // derived tensors
  std::vector<std::vector<int>> stands_for_;  // per derived node's new outputs
  std::vector<int> kept_source_;  // per derived node: the original it keeps
  absl::flat_hash_map<int, std::vector<int>> replaced_;  // replacing nodes
  // Per original node or tensor: the walk that last marked it.
  int stamp_ = 0;
  std::vector<int> walked_;
  std::vector<int> reached_;
  std::vector<int> input_mark_;
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
