// `converter transfer`: hp's tags from a tagged model onto a model derived
// from it (optimized, fused, converted), every node matched by data flow.
#ifndef HP_COMMANDS_TRANSFER_H_
#define HP_COMMANDS_TRANSFER_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "hp/commands/command_args.h"
#include "hp/io/atomic_writer.h"

namespace hp {

struct TransferArgs {
  std::string from;   // the tagged model
  std::string model;  // the derived model
  OutputArgs output;
  bool write_namespace = true;
  bool overwrite_namespace = false;
  Durability durability = Durability::kFsync;
  // Print JSON (counts and every node's match) instead of the line.
  bool json = false;
};

absl::Status RunTransfer(const TransferArgs& args, std::ostream& out,
                         std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_TRANSFER_H_
