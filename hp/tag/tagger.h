// The tagging pipeline as one call: modules -> scopes -> tags ->
// propagation -> statistics -> writing. Takes a parsed model and, when
// there is one, its scope trace; gives every node's tag.
#ifndef HP_TAG_TAGGER_H_
#define HP_TAG_TAGGER_H_

#include <optional>

#include "absl/status/statusor.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {

// The options a tagged model was tagged with (pkg.hp.options and
// pkg.hp.tag_format), or nullopt when it records none.
std::optional<TagOptions> RecordedTagOptions(const onnx::ModelProto& model);

// Computes every node's tag without changing the model. `trace` may be
// null: the hierarchy then comes from dynamo metadata or node names.
absl::StatusOr<TagResult> ComputeTags(const onnx::ModelProto& model,
                                      const ScopeTrace* trace,
                                      const TagOptions& options);

// Computes the tags and writes them onto the model's nodes, replacing tags
// an earlier run wrote (so tagging twice equals tagging once). Model-level
// metadata records hp's version, the trace digest and the counts.
absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options);

}  // namespace hp

#endif  // HP_TAG_TAGGER_H_
