#include "hp/view/inspection.h"

#include <utility>

#include "hp/model/graph_walk.h"
#include "hp/tag/tag_writer.h"
#include "hp/tag/tagged_model.h"
#include "hp/tag/tagger.h"
#include "hp/util/status_macros.h"

namespace hp {

Inspection::Inspection() = default;
Inspection::Inspection(Inspection&&) = default;
Inspection& Inspection::operator=(Inspection&&) = default;
Inspection::~Inspection() = default;

const NodeList& Inspection::nodes() const {
  return splice_ != nullptr && splice_->reads_node_records() ? splice_->nodes()
                                                             : parsed_nodes_;
}

absl::StatusOr<Inspection> InspectModel(const InspectRequest& request) {
  Inspection inspection;
  inspection.path = request.model_path;
  // The views need the graph, not the weights: through the lean reader,
  // any size of model loads, node records are read as views and
  // initializers keep only their names, types and dims.
  SpliceOptions open;
  open.read_node_records = true;
  // The views read back the names and tags they keep, pass after pass.
  open.release_pages_periodically = true;
  HP_ASSIGN_OR_RETURN(ModelSplice splice,
                      ModelSplice::Open(inspection.path, open));
  inspection.splice_ = std::make_unique<ModelSplice>(std::move(splice));
  ModelSplice& reader = *inspection.splice_;
  const bool tagged = IsTagged(reader.skeleton());
  // Tags in the attribute and doc_string formats are read from messages.
  if (tagged && RecordedTagFormat(reader.skeleton()) != TagFormat::kMetadata) {
    HP_RETURN_IF_ERROR(reader.ParseAllNodes());
  }
  inspection.model = reader.SkeletonWithHeaders();
  if (!reader.reads_node_records()) {
    inspection.parsed_nodes_ = CollectNodes(inspection.model);
  }
  const NodeList& nodes = inspection.nodes();

  TagOptions options = request.options;
  if (std::optional<TagOptions> recorded =
          RecordedTagOptions(inspection.model)) {
    options = *std::move(recorded);
  }
  if (request.require_tagged || tagged) {
    HP_ASSIGN_OR_RETURN(
        inspection.stored,
        ReadStoredTags(inspection.model, nodes, inspection.path));
  }
  // A tagged model is shown as stored unless a trace is given to compare.
  inspection.trace_path = !request.trace_path.empty() || tagged
                              ? request.trace_path
                              : request.default_trace_path;
  if (!inspection.trace_path.empty()) {
    HP_ASSIGN_OR_RETURN(inspection.trace,
                        LoadScopeTrace(inspection.trace_path));
    HP_ASSIGN_OR_RETURN(inspection.warnings,
                        CheckTraceBelongsToModel(
                            inspection.trace->origin(), inspection.path,
                            {RecordedModelSha256(inspection.model),
                             RecordedModelStructureSha256(inspection.model)},
                            request.digest_policy));
  }
  if (!tagged || inspection.trace.has_value()) {
    HP_ASSIGN_OR_RETURN(
        inspection.computed,
        ComputeNodeTags(nodes, inspection.trace ? &*inspection.trace : nullptr,
                        options));
  }
  return inspection;
}

absl::StatusOr<TagsToShow> ShownTags(const Inspection& inspection) {
  if (inspection.stored.has_value()) {
    if (!inspection.computed.has_value()) {
      return StoredFactsToShow(inspection.nodes(), *inspection.stored);
    }
    return StoredTagsToShow(inspection.nodes(), *inspection.computed,
                            *inspection.stored);
  }
  return ComputedTagsToShow(inspection.nodes(), *inspection.computed);
}

}  // namespace hp
