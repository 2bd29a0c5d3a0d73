// `converter graphml`: a model and its module tree in; hierarchical GraphML
// out. Each module instance is a group node holding a nested <graph> with its
// child modules and its ops (yEd's `yfiles.foldertype="group"` convention,
// which networkx.read_graphml also follows); ops carry their op type, name
// and tag, edges the tensor's name, element type and shape.
#ifndef HP_VIEW_GRAPHML_H_
#define HP_VIEW_GRAPHML_H_

#include <string>

#include "absl/status/statusor.h"
#include "hp/view/module_tree.h"
#include "proto/onnx.pb.h"

namespace hp {

// Module nodes are "m<i>" (index into tree.modules()), op nodes "n<i>"
// (index into `nodes`, the model's nodes), edges "e<i>". Only modules holding
// at least one op (in their subtree) are drawn. Fails when `shown` does not
// describe `nodes`.
absl::StatusOr<std::string> GraphmlText(const onnx::ModelProto& model,
                                        const NodeList& nodes,
                                        const TagsToShow& shown,
                                        const ModuleTree& tree);

}  // namespace hp

#endif  // HP_VIEW_GRAPHML_H_
