#include "hp/commands/strip.h"

#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "hp/io/model_io.h"
#include "hp/io/model_splice.h"
#include "hp/tag/record_strip.h"
#include "hp/tag/tag_writer.h"
#include "hp/tag/tagged_model.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::Status RunStrip(const StripArgs& args, std::ostream& out,
                      std::ostream& /*err*/) {
  HP_ASSIGN_OR_RETURN(std::string model_path,
                      RequiredFlag(args.model, "model"));
  HP_ASSIGN_OR_RETURN(auto target, OutputTarget(model_path, args.output));
  HP_ASSIGN_OR_RETURN(const ExternalDataPolicy external_data,
                      args.output.external_data);
  // Through the splice path: the weights are copied, never parsed, so a
  // model past protobuf's 2 GB limit strips too.
  // Node records are read, not parsed: hp's entries at their ends are cut.
  SpliceOptions open;
  open.read_node_records = true;
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(model_path, open));
  const bool was_tagged = IsTagged(splice.skeleton());
  HP_RETURN_IF_ERROR(StripTags(&splice));
  SaveOptions save = target.second;
  save.durability = args.durability;
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                      splice.SaveUncommitted(target.first, save));
  // The side files before the model; removed again if it is not committed.
  HP_ASSIGN_OR_RETURN(
      PlacedExternalData placed,
      PlaceExternalData(splice.external_data_files(), model_path, target.first,
                        external_data, args.durability));
  HP_RETURN_IF_ERROR(writer.Commit(args.durability));
  placed.Keep();
  out << (was_tagged ? "stripped " : "no hp tags in ") << model_path << " -> "
      << target.first << "\n";
  const std::string placed_line =
      ExternalDataSummary(placed.counts(), target.first);
  if (!placed_line.empty()) out << placed_line << "\n";
  return absl::OkStatus();
}

}  // namespace hp
