#include "hp/view/inspection.h"

#include <utility>

#include "hp/io/model_splice.h"
#include "hp/tag/tag_writer.h"
#include "hp/tag/tagger.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::StatusOr<Inspection> InspectModel(const InspectRequest& request) {
  Inspection inspection;
  inspection.path = request.model_path;
  TagOptions options = request.options;
  {
    // The views need the graph, not the weights: read through the splice
    // path, any size of model loads, and initializers keep only their
    // names, types and dims.
    HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(inspection.path));
    inspection.model = splice.SkeletonWithHeaders();
  }
  if (std::optional<TagOptions> recorded =
          RecordedTagOptions(inspection.model)) {
    options = *std::move(recorded);
  }
  if (request.require_tagged || IsTagged(inspection.model)) {
    HP_ASSIGN_OR_RETURN(inspection.stored,
                        ReadStoredTags(inspection.model, inspection.path));
  }
  inspection.trace_path = request.trace_path;
  if (!inspection.trace_path.empty()) {
    HP_ASSIGN_OR_RETURN(inspection.trace,
                        LoadScopeTrace(inspection.trace_path));
    HP_ASSIGN_OR_RETURN(
        inspection.warnings,
        CheckTraceBelongsToModel(
            *inspection.trace, inspection.path,
            {RecordedModelSha256(inspection.model),
             RecordedModelStructureSha256(inspection.model)},
            request.digest_policy));
  }
  HP_ASSIGN_OR_RETURN(
      inspection.computed,
      ComputeTags(inspection.model,
                  inspection.trace ? &*inspection.trace : nullptr, options));
  return inspection;
}

absl::StatusOr<TagsToShow> ShownTags(const Inspection& inspection) {
  if (inspection.stored.has_value()) {
    return StoredTagsToShow(inspection.computed, *inspection.stored);
  }
  return ComputedTagsToShow(inspection.computed);
}

}  // namespace hp
