// `converter analyze`: a model's module tree with node counts, op types and
// how nodes were matched, as text or JSON (proto/analyze.schema.json).
#ifndef HP_COMMANDS_ANALYZE_H_
#define HP_COMMANDS_ANALYZE_H_

#include <ostream>

#include "absl/status/status.h"
#include "hp/commands/command_args.h"

namespace hp {

struct AnalyzeArgs {
  InspectArgs inspect;
  bool json = false;
};

absl::Status RunAnalyze(const AnalyzeArgs& args, std::ostream& out,
                        std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_ANALYZE_H_
