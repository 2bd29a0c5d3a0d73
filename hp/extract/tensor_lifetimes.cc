#include "hp/extract/tensor_lifetimes.h"

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"

namespace hp {

TensorLifetimes::TensorLifetimes(
    const onnx::GraphProto& graph, const NodeList& nodes,
    const absl::flat_hash_set<std::string>& wanted) {
  for (const onnx::ValueInfoProto& output : graph.output()) {
    kept_.insert(output.name());
  }
  for (const std::string& name : wanted) kept_.insert(name);
  // Both walks below read the nodes from copies of their records, a run
  // at a time: the run ending at the node reached, when it leaves the one
  // read (a node outside it is read through the file).
  RecordCopy records(nodes);
  // The last main-graph node making a wanted tensor, looked for from the
  // end: a cut near the end stops after a few nodes. A cut near the start
  // reads nearly every record here, holding a window of them.
  BackwardNodeReleaser searched(nodes, nodes.size());
  for (size_t i = nodes.size(); i > 0 && end_ == 0; --i) {
    searched.Reached(i - 1);
    records.ReachedGoingBack(i - 1);
    const NodeRef node = records[i - 1];
    if (node.owner >= 0) continue;
    for (absl::string_view output : node.outputs) {
      if (wanted.contains(output)) end_ = i;
    }
  }
  while (end_ > 0 && end_ < nodes.size() && nodes[end_].owner >= 0) ++end_;

  // Back from end(), one main-graph node at a time. `live` holds what a
  // later node reads and no node between makes: the tensors live at that
  // point, a few in a chain, where an index of every read would hold every
  // tensor. A node's outputs leave it (those not in it are read by no later
  // node); its inputs not in it are read for the last time there, unless
  // the node makes them again for a later reader. The walk stops at the
  // last node with bodies.
  drops_at_.assign(end_ + 1, 0);  // counts, until made offsets below
  absl::flat_hash_set<absl::string_view> live;
  // `name` kept: a copy, or a view of one.
  auto drop = [&](absl::string_view name, size_t at, bool copied) {
    if (name.empty() || kept_.contains(name)) return;
    drops_.push_back(copied ? name : names_.Store(name));
    ++drops_at_[at];
  };
  absl::InlinedVector<absl::string_view, 4> remade;
  // The walk holds a window of the records, not every page it passed.
  BackwardNodeReleaser releaser(nodes, end_);
  for (size_t i = end_; i > 0;) {
    --i;
    releaser.Reached(i);
    records.ReachedGoingBack(i);
    const NodeRef node = records[i];
    if (node.owner >= 0) continue;  // a body's, after the last owner
    if (node.owns_subgraphs) {
      // Its bodies' entries are done with it: what is live now is what
      // is read after it.
      any_owner_ = true;
      last_owner_ = i;
      read_after_last_owner_ = std::move(live);
      break;
    }
    remade.clear();
    for (absl::string_view output : node.outputs) {
      if (live.contains(output)) {
        remade.push_back(output);
      } else {
        drop(output, i, /*copied=*/false);
      }
    }
    for (absl::string_view output : node.outputs) live.erase(output);
    for (absl::string_view input : node.inputs) {
      if (live.contains(input)) continue;
      const absl::string_view kept = names_.Store(input);
      live.insert(kept);
      if (std::find(remade.begin(), remade.end(), input) == remade.end()) {
        drop(kept, i, /*copied=*/true);
      }
    }
  }
  // Made back to front: turned to graph order, and each entry's count
  // into where its drops begin.
  std::reverse(drops_.begin(), drops_.end());
  uint32_t at = 0;
  for (size_t i = 0; i < end_; ++i) {
    const uint32_t count = drops_at_[i];
    drops_at_[i] = at;
    at += count;
  }
  drops_at_[end_] = at;
}

void TensorLifetimes::Drop(absl::string_view name, InferredTypes* types) const {
  const auto type = types->types.find(name);
  if (type != types->types.end()) types->types.erase(type);
  if (!types->unknown.empty()) types->unknown.erase(name);
}

void TensorLifetimes::Forget(size_t i, InferredTypes* types) const {
  if (any_owner_ && i <= last_owner_) {
    if (i < last_owner_) return;
    // What was kept for the bodies and no later node reads.
    auto done_with = [&](const std::string& name) {
      return !read_after_last_owner_.contains(name) && !kept_.contains(name);
    };
    std::vector<std::string> done;
    for (const auto& entry : types->types) {
      if (done_with(entry.first)) done.push_back(entry.first);
    }
    for (const auto& entry : types->unknown) {
      if (done_with(entry.first)) done.push_back(entry.first);
    }
    for (const std::string& name : done) Drop(name, types);
    return;
  }
  for (uint32_t k = drops_at_[i]; k < drops_at_[i + 1]; ++k) {
    Drop(drops_[k], types);
  }
}

}  // namespace hp
