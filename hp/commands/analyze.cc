#include "hp/commands/analyze.h"

#include "hp/util/status_macros.h"
#include "hp/view/analyze.h"
#include "hp/view/module_tree.h"

namespace hp {

absl::Status RunAnalyze(const AnalyzeArgs& args, std::ostream& out,
                        std::ostream& err) {
  HP_ASSIGN_OR_RETURN(Inspection inspection,
                      InspectFromArgs(args.inspect, false, err));
  HP_ASSIGN_OR_RETURN(TagsToShow shown, ShownTags(inspection));
  const ModuleTree tree = ModuleTree::Build(shown);
  const AnalysisContext context{inspection.path, inspection.trace_path};
  out << (args.json ? AnalysisJson(shown, tree, context)
                    : AnalysisText(shown, tree, context));
  return absl::OkStatus();
}

}  // namespace hp
