// `converter validate`: a tagged model's stored tags, hp's tags computed
// for the same model (when a trace is given) and optionally a sidecar in;
// every inconsistency found, one message each, out. An empty list means the
// model is as hp tags it.
#ifndef HP_VIEW_VALIDATE_H_
#define HP_VIEW_VALIDATE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"
#include "hp/pipeline/sidecar.h"
#include "hp/tag/computed_tags.h"
#include "hp/tag/tag_types.h"
#include "hp/view/stored_tags.h"

namespace hp {

// Checks, besides the malformed entries ReadStoredTags noted:
// - every node carries a non-empty tag;
// - every tag is the tag of a module instance of `computed`;
// - the node's module path is the one hp finds for it, and that module's tag
//   is the node's tag (for nodes without a scope, which propagation may
//   move, any module's tag is accepted);
// - no two kept module instances share a tag;
// - the stored match kind is the one hp finds.
// Tags transferred onto a derived model (pkg.hp.source "transfer") belong
// to the tagged model, not to the derived model's node names: they are
// checked against a trace's modules only (tag and module path known, and
// agreeing), and not at all without a trace.
// `computed` must come from ComputeNodeTags on `nodes`, the model's nodes
// in the order of `stored`.
std::vector<std::string> ValidateStoredTags(const NodeList& nodes,
                                            const StoredTags& stored,
                                            const ComputedTags& computed);

// What the stored facts alone must satisfy, besides the malformed entries
// ReadStoredTags noted (for validate without a trace):
// - every node carries a non-empty tag and a match kind, and every tag
//   starts with the same root component;
// - a root (tag) or unplaced (transfer) node carries the root tag and no
//   module path;
// - nodes matched directly to one module path carry one tag, and no two
//   module paths share a tag (transferred tags come from the tagged
//   model's nodes, whose kinds are not stored here: not checked);
// - pkg.hp.statistics counts the nodes of each match kind as stored.
// `nodes` are the model's nodes, in the order of `stored`.
std::vector<std::string> ValidateStoredFacts(const NodeList& nodes,
                                             const StoredTags& stored);

// The sidecar must describe this model: its output_model digest equals
// `model_sha256`, and it lists the same nodes with the same tags.
std::vector<std::string> CompareWithSidecar(const Sidecar& sidecar,
                                            absl::string_view sidecar_path,
                                            const NodeList& nodes,
                                            const StoredTags& stored,
                                            absl::string_view model_sha256);

}  // namespace hp

#endif  // HP_VIEW_VALIDATE_H_
