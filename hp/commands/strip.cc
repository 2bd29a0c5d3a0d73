#include "hp/commands/strip.h"

#include "hp/io/model_io.h"
#include "hp/io/model_splice.h"
#include "hp/tag/tagged_model.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::Status RunStrip(const StripArgs& args, std::ostream& out,
                      std::ostream& /*err*/) {
  HP_ASSIGN_OR_RETURN(std::string model_path, RequiredFlag(args.model, "model"));
  HP_ASSIGN_OR_RETURN(auto target, OutputTarget(model_path, args.output));
  // Through the splice path: the weights are copied, never parsed, so a
  // model past protobuf's 2 GB limit strips too.
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(model_path));
  const bool was_tagged = IsTagged(splice.skeleton());
  HP_RETURN_IF_ERROR(StripTags(&splice.skeleton()));
  HP_RETURN_IF_ERROR(splice.Save(target.first, target.second));
  out << (was_tagged ? "stripped " : "no hp tags in ") << model_path << " -> "
      << target.first << "\n";
  return absl::OkStatus();
}

}  // namespace hp
