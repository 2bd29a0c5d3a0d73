// `converter validate`: checks a tagged model's tags against those hp
// computes for it (and against a sidecar); lists every problem and fails
// when there is one.
#ifndef HP_COMMANDS_VALIDATE_H_
#define HP_COMMANDS_VALIDATE_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "hp/commands/command_args.h"

namespace hp {

struct ValidateArgs {
  InspectArgs inspect;
  std::string sidecar;  // "": no sidecar to compare
};

absl::Status RunValidate(const ValidateArgs& args, std::ostream& out,
                         std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_VALIDATE_H_
