// `converter dot`: a model and its module tree in; Graphviz DOT out, one
// `subgraph cluster_N` per module instance, nested like the hierarchy and
// labelled with the tag's last component, so that `dot -Tsvg` draws each
// module as a box around its ops.
#ifndef HP_VIEW_DOT_H_
#define HP_VIEW_DOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "hp/view/module_tree.h"
#include "proto/onnx.pb.h"

namespace hp {

// Clusters are "cluster_<i>" (index into tree.modules()), op nodes "n<i>"
// (index into `nodes`, the model's nodes). Only modules holding at least one op
// (in their subtree) get a cluster: Graphviz does not draw empty ones. Fails
// when `shown` does not describe `model`'s nodes.
absl::StatusOr<std::string> DotText(const onnx::ModelProto& model,
                                    const NodeList& nodes,
                                    const TagsToShow& shown,
                                    const ModuleTree& tree);

}  // namespace hp

#endif  // HP_VIEW_DOT_H_
