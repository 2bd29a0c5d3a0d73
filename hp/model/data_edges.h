// The data flow of a graph, for the views that draw it and the sidecar: a
// model's nodes in; one edge per node input that another node's output
// feeds (a subgraph node reading a value of an enclosing graph included),
// and the element type and shape the model declares for each value (graph
// inputs, outputs, value_info), out.
#ifndef HP_MODEL_DATA_EDGES_H_
#define HP_MODEL_DATA_EDGES_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "hp/model/graph_walk.h"
#include "proto/onnx.pb.h"

namespace hp {

struct DataEdge {
  int from = -1;  // producing node, index into the CollectNodes vector
  int to = -1;    // consuming node
  std::string tensor;
};

// Edges in consumer order, then input order. A value fed twice into one node
// (Mul(x, x)) gives two edges; graph inputs and initializers give none.
std::vector<DataEdge> CollectDataEdges(const NodeList& nodes);

struct TensorType {
  std::string elem_type;  // "FLOAT", "INT64"; "" when not declared
  std::string shape;      // "[2,8,batch]", "?" for an unknown dimension;
                          // "" when not declared
};

TensorType TensorTypeOf(const onnx::TypeProto& type);

// The declared type of every value named by a graph input, output or
// value_info entry, of the main graph and of every subgraph.
absl::flat_hash_map<std::string, TensorType> DeclaredTensorTypes(
    const onnx::ModelProto& model, const NodeList& nodes);

}  // namespace hp

#endif  // HP_MODEL_DATA_EDGES_H_
