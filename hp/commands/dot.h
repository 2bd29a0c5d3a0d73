// `converter dot`: writes a model's module hierarchy as Graphviz DOT, one
// cluster per module instance.
#ifndef HP_COMMANDS_DOT_H_
#define HP_COMMANDS_DOT_H_

#include <ostream>

#include "absl/status/status.h"
#include "hp/commands/drawing.h"

namespace hp {

using DotArgs = DrawingArgs;

absl::Status RunDot(const DotArgs& args, std::ostream& out, std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_DOT_H_
