// What every view of a model starts from (analyze, validate, graphml, dot):
// the model, its trace when there is one (checked to belong to the model),
// the tags hp computes for it and, when hp tagged it, the tags it carries.
#ifndef HP_VIEW_INSPECTION_H_
#define HP_VIEW_INSPECTION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/scope_trace.h"
#include "hp/trace/trace_binding.h"
#include "hp/view/module_tree.h"
#include "hp/view/stored_tags.h"
#include "proto/onnx.pb.h"

namespace hp {

struct InspectRequest {
  std::string model_path;
  std::string trace_path;  // "": without a trace
  // Options to compute tags with; a tagged model's recorded ones win, so
  // that its tags are recomputed as they were made.
  TagOptions options;
  DigestPolicy digest_policy;
  // Fail (FailedPrecondition) unless hp tagged the model.
  bool require_tagged = false;
};

struct Inspection {
  std::string path;
  // The model as read: initializers without their data.
  onnx::ModelProto model;
  std::string trace_path;  // "" without a trace
  std::optional<ScopeTrace> trace;
  std::optional<StoredTags> stored;  // set when hp tagged the model
  TagResult computed;
  // From the trace check (DigestCheck::kWarn); the caller shows them.
  std::vector<std::string> warnings;
};

absl::StatusOr<Inspection> InspectModel(const InspectRequest& request);

// The tags to draw or count: those the model carries when hp tagged it,
// else those hp computes.
absl::StatusOr<TagsToShow> ShownTags(const Inspection& inspection);

}  // namespace hp

#endif  // HP_VIEW_INSPECTION_H_
