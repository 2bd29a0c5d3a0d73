#include "hp/extract/tensor_lifetimes.h"

#include <algorithm>
#include <vector>

namespace hp {

TensorLifetimes::TensorLifetimes(const onnx::GraphProto& graph,
                                 const NodeList& nodes,
                                 const absl::flat_hash_set<std::string>& wanted)
    : nodes_(nodes) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].owner >= 0) continue;
    for (absl::string_view output : nodes[i].outputs) {
      if (wanted.contains(output)) end_ = i + 1;
    }
  }
  while (end_ > 0 && end_ < nodes.size() && nodes[end_].owner >= 0) ++end_;
  // Reads from end() on do not matter: no node there is read. Sized once:
  // growing would hash every name again at each step.
  size_t reads = 0;
  for (size_t i = 0; i < end_; ++i) reads += nodes[i].inputs.size();
  last_read_.reserve(reads);
  for (size_t i = 0; i < end_; ++i) {
    const NodeRef& node = nodes[i];
    for (absl::string_view input : node.inputs) last_read_[input] = i;
    if (node.owner < 0 && node.owns_subgraphs) last_owner_ = i;
  }
  for (auto& [name, at] : last_read_) at = std::max(at, last_owner_);
  for (const onnx::ValueInfoProto& output : graph.output()) {
    kept_.insert(output.name());
  }
  for (const std::string& name : wanted) kept_.insert(name);
}

bool TensorLifetimes::ReadAfter(absl::string_view name, size_t next) const {
  const auto found = last_read_.find(name);
  return found != last_read_.end() && found->second >= next;
}

void TensorLifetimes::Drop(absl::string_view name,
                           InferredTypes* types) const {
  if (name.empty()) return;
  const auto type = types->types.find(name);
  const bool any_unknown = !types->unknown.empty();
  if ((type == types->types.end() && !any_unknown) || kept_.contains(name)) {
    return;
  }
  if (type != types->types.end()) types->types.erase(type);
  if (any_unknown) types->unknown.erase(name);
}

void TensorLifetimes::Forget(size_t i, size_t next,
                             InferredTypes* types) const {
  for (size_t k = i; k < next; ++k) {
    for (absl::string_view input : nodes_[k].inputs) {
      if (!ReadAfter(input, next)) Drop(input, types);
    }
  }
  if (i < last_owner_) return;
  if (i == last_owner_ && nodes_[i].owns_subgraphs) {
    // What was kept for the bodies and no later node reads.
    std::vector<std::string> done;
    for (const auto& entry : types->types) {
      if (!ReadAfter(entry.first, next)) done.push_back(entry.first);
    }
    for (const auto& entry : types->unknown) {
      if (!ReadAfter(entry.first, next)) done.push_back(entry.first);
    }
    for (const std::string& name : done) Drop(name, types);
  }
  // Made here and read by no node.
  for (absl::string_view output : nodes_[i].outputs) {
    if (!last_read_.contains(output)) Drop(output, types);
  }
}

}  // namespace hp
