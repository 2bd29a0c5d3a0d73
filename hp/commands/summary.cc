#include "hp/commands/summary.h"

#include "absl/strings/str_format.h"
#include "hp/commands/command_args.h"
#include "hp/io/model_splice.h"
#include "hp/tag/tagged_model.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::Status RunSummary(const SummaryArgs& args, std::ostream& out,
                        std::ostream& /*err*/) {
  HP_ASSIGN_OR_RETURN(std::string path, RequiredFlag(args.model, "model"));
  // Neither the weights nor the nodes are parsed: any size of model.
  SpliceOptions open;
  open.read_node_records = true;
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(path, open));
  const onnx::ModelProto& model = splice.skeleton();
  out << absl::StrFormat(
      "%s: ir_version %d, producer %s %s, %d nodes, %d initializers, %s\n",
      path, model.ir_version(), model.producer_name(), model.producer_version(),
      splice.main_graph_node_count(), splice.dense_initializer_count(),
      IsTagged(model) ? "tagged by hp" : "not tagged by hp");
  return absl::OkStatus();
}

}  // namespace hp
