// What graphml and dot share: a drawing of a model's module hierarchy,
// written atomically to --output.
#ifndef HP_COMMANDS_DRAWING_H_
#define HP_COMMANDS_DRAWING_H_

#include <functional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hp/commands/command_args.h"
#include "hp/view/module_tree.h"
#include "proto/onnx.pb.h"

namespace hp {

struct DrawingArgs {
  InspectArgs inspect;
  std::string output;
};

// Draws the model with `draw` and writes the text to args.output; prints
// what was written.
using DrawFunction = std::function<absl::StatusOr<std::string>(
    const onnx::ModelProto&, const NodeList&, const TagsToShow&,
    const ModuleTree&)>;
absl::Status WriteDrawing(const DrawingArgs& args, const DrawFunction& draw,
                          std::ostream& out, std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_DRAWING_H_
