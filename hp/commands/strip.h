// `converter strip`: removes everything hp wrote from a model, giving back
// the bytes it had before it was tagged.
#ifndef HP_COMMANDS_STRIP_H_
#define HP_COMMANDS_STRIP_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "hp/commands/command_args.h"
#include "hp/io/atomic_writer.h"

namespace hp {

struct StripArgs {
  std::string model;
  OutputArgs output;
  Durability durability = Durability::kFsync;
};

absl::Status RunStrip(const StripArgs& args, std::ostream& out,
                      std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_STRIP_H_
