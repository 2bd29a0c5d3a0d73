#include "hp/commands/validate.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hp/pipeline/sidecar.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"
#include "hp/view/validate.h"

namespace hp {

absl::Status RunValidate(const ValidateArgs& args, std::ostream& out,
                         std::ostream& err) {
  HP_ASSIGN_OR_RETURN(Inspection inspection,
                      InspectFromArgs(args.inspect, true, err));
  const StoredTags& stored = *inspection.stored;
  if (!inspection.trace.has_value() &&
      stored.source == HierarchySourceName(HierarchySource::kTrace)) {
    return absl::FailedPreconditionError(absl::StrCat(
        inspection.path,
        ": tagged from a scope trace, but no trace was given and none lies "
        "beside it; pass --trace"));
  }
  std::vector<std::string> problems =
      ValidateStoredTags(stored, inspection.computed);
  if (!args.sidecar.empty()) {
    HP_ASSIGN_OR_RETURN(Sidecar sidecar, LoadSidecar(args.sidecar));
    HP_ASSIGN_OR_RETURN(std::string model_sha256,
                        Sha256FileHex(inspection.path));
    for (std::string& problem :
         CompareWithSidecar(sidecar, args.sidecar, stored, inspection.computed,
                            model_sha256)) {
      problems.push_back(std::move(problem));
    }
  }
  for (const std::string& problem : problems) {
    out << inspection.path << ": " << problem << "\n";
  }
  if (!problems.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        inspection.path, ": ", problems.size(),
        problems.size() == 1 ? " problem" : " problems", " found"));
  }
  out << inspection.path << ": valid: " << inspection.computed.nodes.size()
      << " nodes, tags as hp computes them from "
      << HierarchySourceName(inspection.computed.source)
      << (inspection.trace ? " " : "") << inspection.trace_path << "\n";
  return absl::OkStatus();
}

}  // namespace hp
