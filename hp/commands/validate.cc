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
  // With a trace, the tags are checked against what hp computes; without,
  // the stored facts are checked against each other.
  std::vector<std::string> problems =
      inspection.computed.has_value()
          ? ValidateStoredTags(inspection.nodes(), stored, *inspection.computed)
          : ValidateStoredFacts(inspection.nodes(), stored);
  if (!args.sidecar.empty()) {
    HP_ASSIGN_OR_RETURN(Sidecar sidecar, LoadSidecar(args.sidecar));
    HP_ASSIGN_OR_RETURN(std::string model_sha256,
                        Sha256FileHex(inspection.path));
    for (std::string& problem : CompareWithSidecar(
             sidecar, args.sidecar, inspection.nodes(), stored, model_sha256)) {
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
  out << inspection.path << ": valid: " << inspection.nodes().size()
      << " nodes, ";
  if (inspection.computed.has_value()) {
    out << "tags as hp computes them from "
        << HierarchySourceName(inspection.computed->summary.source)
        << (inspection.trace ? " " : "") << inspection.trace_path << "\n";
  } else {
    out << "stored tags and match kinds consistent (hierarchy from "
        << stored.source << "; pass --trace to recompute them)\n";
  }
  return absl::OkStatus();
}

}  // namespace hp
