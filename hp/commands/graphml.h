// `converter graphml`: writes a model's module hierarchy as hierarchical
// GraphML (one nested graph per module instance) that networkx and yEd open.
#ifndef HP_COMMANDS_GRAPHML_H_
#define HP_COMMANDS_GRAPHML_H_

#include <ostream>

#include "absl/status/status.h"
#include "hp/commands/drawing.h"

namespace hp {

using GraphmlArgs = DrawingArgs;

absl::Status RunGraphml(const GraphmlArgs& args, std::ostream& out,
                        std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_GRAPHML_H_
