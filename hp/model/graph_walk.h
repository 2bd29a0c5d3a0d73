// Every node of a model in graph order, subgraph bodies (If/Loop/Scan
// attributes) right after the node that owns them.
#ifndef HP_MODEL_GRAPH_WALK_H_
#define HP_MODEL_GRAPH_WALK_H_

#include <string>
#include <vector>

#include "proto/onnx.pb.h"

namespace hp {

struct NodeRef {
  const onnx::NodeProto* node = nullptr;
  // "main" for the model's graph; "main/<node name>/<attribute>" for a
  // subgraph, with "[i]" appended for the i-th graph of a GRAPHS attribute.
  std::string graph_path;
  // Index into the same vector of the node owning this subgraph; -1 at the
  // top level.
  int owner = -1;
};

std::vector<NodeRef> CollectNodes(const onnx::ModelProto& model);

// Whether the node holds subgraph bodies (If/Loop/Scan graph attributes).
bool OwnsSubgraphs(const onnx::NodeProto& node);

// The same nodes in the same order, for writing.
std::vector<onnx::NodeProto*> MutableNodes(onnx::ModelProto* model);

}  // namespace hp

#endif  // HP_MODEL_GRAPH_WALK_H_
