#include "hp/commands/dot.h"

#include "hp/view/dot.h"

namespace hp {

absl::Status RunDot(const DotArgs& args, std::ostream& out, std::ostream& err) {
  return WriteDrawing(args, DotText, out, err);
}

}  // namespace hp
