// `converter summary`: one line about a model (IR version, producer, node
// and initializer counts, whether hp tagged it).
#ifndef HP_COMMANDS_SUMMARY_H_
#define HP_COMMANDS_SUMMARY_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace hp {

struct SummaryArgs {
  std::string model;
};

absl::Status RunSummary(const SummaryArgs& args, std::ostream& out,
                        std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_SUMMARY_H_
