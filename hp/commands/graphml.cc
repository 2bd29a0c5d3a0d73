#include "hp/commands/graphml.h"

#include "hp/view/graphml.h"

namespace hp {

absl::Status RunGraphml(const GraphmlArgs& args, std::ostream& out,
                        std::ostream& err) {
  return WriteDrawing(args, GraphmlText, out, err);
}

}  // namespace hp
