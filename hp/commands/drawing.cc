#include "hp/commands/drawing.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "hp/io/atomic_file.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::Status WriteDrawing(const DrawingArgs& args, const DrawFunction& draw,
                          std::ostream& out, std::ostream& err) {
  HP_ASSIGN_OR_RETURN(std::string output,
                      RequiredOutput(args.output, "output"));
  // Before the model is read: a mistake of the command line fails at once.
  if (SameFile(output, args.inspect.model)) {
    return absl::InvalidArgumentError(absl::StrCat(
        output, ": refusing to overwrite the input model with a drawing"));
  }
  HP_ASSIGN_OR_RETURN(Inspection inspection,
                      InspectFromArgs(args.inspect, false, err));
  HP_ASSIGN_OR_RETURN(TagsToShow shown, ShownTags(inspection));
  const ModuleTree tree = ModuleTree::Build(shown);
  HP_ASSIGN_OR_RETURN(std::string text,
                      draw(inspection.model, inspection.nodes(), shown, tree));
  HP_RETURN_IF_ERROR(WriteFileAtomically(output, text));
  int64_t drawn_modules = 0;
  for (const TreeModule& module : tree.modules()) {
    drawn_modules += module.subtree_nodes > 0 ? 1 : 0;
  }
  out << "wrote " << output << ": " << shown.nodes.size() << " nodes in "
      << drawn_modules << " module instances\n";
  return absl::OkStatus();
}

}  // namespace hp
