// A spliced model's nodes, wherever they are read from: the splice's own
// list of node records, or, once every node was parsed into the skeleton,
// a list of its messages kept here.
#ifndef HP_MODEL_SPLICE_NODES_H_
#define HP_MODEL_SPLICE_NODES_H_

#include <vector>

#include "hp/io/model_splice.h"
#include "hp/io/node_list.h"
#include "proto/onnx.pb.h"

namespace hp {

// Safe to move: the list is found on each call, never kept as a pointer
// into this object.
class SpliceNodes {
 public:
  SpliceNodes() = default;
  // The nodes of `splice`, which must outlive this and stay where it is.
  explicit SpliceNodes(ModelSplice* splice);

  const NodeList& list() const {
    return splice_ != nullptr ? splice_->nodes() : owned_;
  }
  // The skeleton's messages in list order, when every node was parsed;
  // empty when the nodes are read as records.
  const std::vector<onnx::NodeProto*>& messages() const { return messages_; }

  // NodeList::ForgetMetadata on whichever list holds the nodes, once what
  // is needed of their metadata entries is read.
  void ForgetMetadata();

 private:
  ModelSplice* splice_ = nullptr;  // when it reads node records
  NodeList owned_;
  std::vector<onnx::NodeProto*> messages_;
};

}  // namespace hp

#endif  // HP_MODEL_SPLICE_NODES_H_
