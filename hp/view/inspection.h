// What every view of a model starts from (analyze, validate, graphml, dot):
// the model read by the lean reader (its nodes as views, no weights), its
// trace when there is one (checked to belong to the model), and either the
// facts a tagged model stores or the tags hp computes.
//
// A model hp tagged is shown as it stores itself: tags, module paths and
// match kinds are read, nothing is recomputed. Given a trace explicitly,
// hp recomputes the tags with it as well, to compare. An untagged model's
// tags are computed (from the trace beside it, when there is one).
#ifndef HP_VIEW_INSPECTION_H_
#define HP_VIEW_INSPECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/io/model_splice.h"
#include "hp/io/node_list.h"
#include "hp/tag/computed_tags.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/scope_trace.h"
#include "hp/trace/trace_binding.h"
#include "hp/view/module_tree.h"
#include "hp/view/stored_tags.h"
#include "proto/onnx.pb.h"

namespace hp {

struct InspectRequest {
  std::string model_path;
  // A trace given by the user: recomputes a tagged model's tags too.
  std::string trace_path;
  // The trace found beside the model: used for an untagged model only.
  std::string default_trace_path;
  // Options to compute tags with; a tagged model's recorded ones win, so
  // that its tags are recomputed as they were made.
  TagOptions options;
  DigestPolicy digest_policy;
  // Fail (FailedPrecondition) unless hp tagged the model.
  bool require_tagged = false;
};

struct Inspection {
  Inspection();
  Inspection(Inspection&&);
  Inspection& operator=(Inspection&&);
  ~Inspection();

  std::string path;
  // The model as read: its graph without main-graph nodes where those are
  // read as records, initializers without their data.
  onnx::ModelProto model;
  // Every node, subgraph bodies included, in graph order.
  const NodeList& nodes() const;

  std::string trace_path;  // "" without a trace
  std::optional<ScopeTrace> trace;
  std::optional<StoredTags> stored;  // set when hp tagged the model
  // Set when tags were computed: an untagged model, or a trace given.
  // Per node of nodes().
  std::optional<ComputedTags> computed;
  // From the trace check (DigestCheck::kWarn); the caller shows them.
  std::vector<std::string> warnings;

 private:
  friend absl::StatusOr<Inspection> InspectModel(const InspectRequest&);
  // Keeps the mapped file the nodes view.
  std::unique_ptr<ModelSplice> splice_;
  NodeList parsed_nodes_;  // when the reader could not read records
};

absl::StatusOr<Inspection> InspectModel(const InspectRequest& request);

// The tags to draw or count: those the model carries when hp tagged it,
// else those hp computes.
absl::StatusOr<TagsToShow> ShownTags(const Inspection& inspection);

}  // namespace hp

#endif  // HP_VIEW_INSPECTION_H_
