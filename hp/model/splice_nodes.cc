#include "hp/model/splice_nodes.h"

#include "hp/model/graph_walk.h"

namespace hp {

SpliceNodes::SpliceNodes(ModelSplice* splice) {
  if (splice->reads_node_records()) {
    splice_ = splice;
    return;
  }
  owned_ = CollectNodes(splice->skeleton());
  messages_ = MutableNodes(&splice->skeleton());
}

void SpliceNodes::ForgetMetadata() {
  if (splice_ != nullptr) {
    splice_->ForgetNodeMetadata();
  } else {
    owned_.ForgetMetadata();
  }
}

}  // namespace hp
