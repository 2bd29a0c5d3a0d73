// How long a walk over a graph in order must keep each tensor's type when
// only a few tensors are wanted (a cut's border): the walk ends at the last
// node that makes one, and a type is forgotten once no later node reads
// it. A cut out of a million-node chain then holds a handful of types, not
// a million. Internal to hp/extract.
#ifndef HP_EXTRACT_TENSOR_LIFETIMES_H_
#define HP_EXTRACT_TENSOR_LIFETIMES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "hp/extract/boundary_types.h"
#include "hp/io/node_list.h"
#include "hp/util/string_arena.h"
#include "proto/onnx.pb.h"

namespace hp {

class TensorLifetimes {
 public:
  // `nodes` as InferTensorTypes walks them; `wanted` and the graph's
  // outputs are kept to the end. Views into `graph` and `wanted`, which
  // must outlive this; the node names it keeps are copies.
  TensorLifetimes(const onnx::GraphProto& graph, const NodeList& nodes,
                  const absl::flat_hash_set<std::string>& wanted);

  // The entries of `nodes` to walk, [0, end()): up to the last main-graph
  // node that makes a wanted tensor, and its bodies' nodes.
  size_t end() const { return end_; }

  // Once the main-graph node at entry `i` is read, with its bodies' nodes:
  // forgets in `types` what no later node reads.
  void Forget(size_t i, InferredTypes* types) const;

 private:
  void Drop(absl::string_view name, InferredTypes* types) const;

  size_t end_ = 0;
  // What to forget after each entry, found walking back from end(): a
  // node's input that no later node reads, and its outputs that none
  // does. Entry i's are drops_[drops_at_[i], drops_at_[i + 1]); none of
  // them is kept to the end.
  std::vector<absl::string_view> drops_;
  std::vector<uint32_t> drops_at_;
  // A body may read any outer tensor, also as one of its outputs, which no
  // node input lists: nothing is forgotten before the last node with
  // bodies, and there everything that no later node reads
  // (`read_after_last_owner_`).
  bool any_owner_ = false;
  size_t last_owner_ = 0;
  absl::flat_hash_set<absl::string_view> read_after_last_owner_;
  absl::flat_hash_set<absl::string_view> kept_;
  // The tensor names of drops_ and read_after_last_owner_: the walk reads
  // the nodes from copies of their records (RecordCopy), reused run after
  // run, and views into the file would map its pages back in for every
  // forget.
  StringArena names_{size_t{1} << 20};
};

}  // namespace hp

#endif  // HP_EXTRACT_TENSOR_LIFETIMES_H_
