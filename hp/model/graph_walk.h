// Every node of a model in graph order, subgraph bodies (If/Loop/Scan
// attributes) right after the node that owns them (hp/io/node_list.h).
#ifndef HP_MODEL_GRAPH_WALK_H_
#define HP_MODEL_GRAPH_WALK_H_

#include <vector>

#include "hp/io/node_list.h"
#include "proto/onnx.pb.h"

namespace hp {

// The nodes of a parsed model; the list views into `model`.
NodeList CollectNodes(const onnx::ModelProto& model);

// The same nodes in the same order, for writing.
std::vector<onnx::NodeProto*> MutableNodes(onnx::ModelProto* model);

}  // namespace hp

#endif  // HP_MODEL_GRAPH_WALK_H_
