// What the converter's commands share: the arguments several of them take
// and the wording of the flags behind them. Each command is a function of
// one shape (hp/commands/<name>.h):
//
//   absl::Status Run<Name>(const <Name>Args& args, std::ostream& out,
//                          std::ostream& err);
//
// Args hold the flags as parsed by hp/converter/main.cc; a value that may
// fail to parse is held as a StatusOr, so that each command reports the
// errors in the order it meets them. Commands print results to `out` and
// warnings to `err`; the caller prints the returned error.
#ifndef HP_COMMANDS_COMMAND_ARGS_H_
#define HP_COMMANDS_COMMAND_ARGS_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/external_data.h"
#include "hp/io/model_io.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/trace_binding.h"
#include "hp/view/inspection.h"

namespace hp {

// --trace_digest's values ("error", "warn") as a policy whose messages tell
// the user about the flag.
absl::StatusOr<DigestPolicy> DigestPolicyFromFlag(absl::string_view value);

// The value of a required flag, or an InvalidArgument naming it.
absl::StatusOr<std::string> RequiredFlag(const std::string& value,
                                         absl::string_view flag);

// --trace: "none" for no trace, a path, or "" for the default file beside
// the model (DefaultTracePath). Returns the path to read, "" for none.
std::string TracePathFor(const std::string& trace_flag,
                         const std::string& model_path);

// --external_data's values ("link", "copy", "error", "declared") as a policy
// whose refusal tells the user about the flag; `declared` is
// --declared_external_data, read with "declared" only.
absl::StatusOr<ExternalDataPolicy> ExternalDataPolicyFromFlag(
    absl::string_view value, const std::vector<std::string>& declared = {});

// --output / --in_place / --external_data, for commands that write a model.
struct OutputArgs {
  std::string output;
  bool in_place = false;
  // How the side files of external data get beside an output in another
  // folder.
  absl::StatusOr<ExternalDataPolicy> external_data = ExternalDataPolicy();
};

// The path given by --`flag` for an output the command writes: required,
// and checked before the command's work (CheckOutputPath), so that a
// mistyped path fails at once rather than after the work.
absl::StatusOr<std::string> RequiredOutput(const std::string& value,
                                           absl::string_view flag);
// The same for an output that may be left out (empty: none).
absl::Status CheckOptionalOutput(const std::string& value,
                                 absl::string_view flag);

// The path to write (checked as RequiredOutput checks it) and the save
// options that go with it.
absl::StatusOr<std::pair<std::string, SaveOptions>> OutputTarget(
    const std::string& model_path, const OutputArgs& args);

// "warning: <line>" on `err`, one line each.
void PrintWarnings(const std::vector<std::string>& warnings, std::ostream& err);

// What analyze, validate, graphml and dot read: --model, --trace (as given),
// and the tag options and digest check to recompute tags with.
struct InspectArgs {
  std::string model;
  std::string trace;
  absl::StatusOr<TagOptions> tag_options = TagOptions();
  absl::StatusOr<DigestPolicy> digest_policy = DigestPolicy();
};

// InspectModel on the model the arguments name; the trace check's warnings
// go to `err`.
absl::StatusOr<Inspection> InspectFromArgs(const InspectArgs& args,
                                           bool require_tagged,
                                           std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_COMMAND_ARGS_H_
