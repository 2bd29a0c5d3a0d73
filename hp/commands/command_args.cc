#include "hp/commands/command_args.h"

#include "absl/strings/str_cat.h"
#include "hp/io/atomic_writer.h"
#include "hp/pipeline/tag_file.h"
#include "hp/util/json_fields.h"
#include "hp/util/status_macros.h"

namespace hp {

absl::StatusOr<DigestPolicy> DigestPolicyFromFlag(absl::string_view value) {
  DigestPolicy policy;
  policy.override_hint = "--trace_digest=warn";
  if (value == "error") {
    policy.check = DigestCheck::kError;
  } else if (value == "warn") {
    policy.check = DigestCheck::kWarn;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--trace_digest: expected \"error\" or \"warn\", got ",
                     QuoteJson(value)));
  }
  return policy;
}

absl::StatusOr<ExternalDataPolicy> ExternalDataPolicyFromFlag(
    absl::string_view value, const std::vector<std::string>& declared) {
  ExternalDataPolicy policy;
  policy.allow_hint = "use --external_data=link or copy to place them there";
  policy.declare_hint =
      "list it in --declared_external_data (hp_tagged_model: its "
      "external_data attribute)";
  if (value == "declared") {
    policy.mode = ExternalDataMode::kDeclared;
    policy.declared = declared;
    return policy;
  }
  if (!declared.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--declared_external_data is only read with "
                     "--external_data=declared, not ",
                     QuoteJson(value)));
  }
  if (value == "link") {
    policy.mode = ExternalDataMode::kLink;
  } else if (value == "copy") {
    policy.mode = ExternalDataMode::kCopy;
  } else if (value == "error") {
    policy.mode = ExternalDataMode::kError;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--external_data: expected \"link\", \"copy\", \"error\" or "
        "\"declared\", got ",
        QuoteJson(value)));
  }
  return policy;
}

absl::StatusOr<std::string> RequiredFlag(const std::string& value,
                                         absl::string_view flag) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  }
  return value;
}

absl::Status CheckOptionalOutput(const std::string& value,
                                 absl::string_view flag) {
  if (value.empty()) return absl::OkStatus();
  const absl::Status usable = CheckOutputPath(value);
  if (usable.ok()) return usable;
  return absl::Status(usable.code(),
                      absl::StrCat("--", flag, " ", usable.message()));
}

absl::StatusOr<std::string> RequiredOutput(const std::string& value,
                                           absl::string_view flag) {
  HP_ASSIGN_OR_RETURN(std::string output, RequiredFlag(value, flag));
  HP_RETURN_IF_ERROR(CheckOptionalOutput(output, flag));
  return output;
}

std::string TracePathFor(const std::string& trace_flag,
                         const std::string& model_path) {
  if (trace_flag == "none") return "";
  if (!trace_flag.empty()) return trace_flag;
  return DefaultTracePath(model_path);
}

absl::StatusOr<std::pair<std::string, SaveOptions>> OutputTarget(
    const std::string& model_path, const OutputArgs& args) {
  SaveOptions save;
  save.input_path = model_path;
  if (args.in_place) {
    if (!args.output.empty()) {
      return absl::InvalidArgumentError(
          "--in_place and --output exclude each other");
    }
    save.overwrite_input = true;
    return std::make_pair(model_path, save);
  }
  HP_ASSIGN_OR_RETURN(std::string output,
                      RequiredOutput(args.output, "output"));
  return std::make_pair(output, save);
}

void PrintWarnings(const std::vector<std::string>& warnings,
                   std::ostream& err) {
  for (const std::string& warning : warnings) {
    err << "warning: " << warning << "\n";
  }
}

absl::StatusOr<Inspection> InspectFromArgs(const InspectArgs& args,
                                           bool require_tagged,
                                           std::ostream& err) {
  InspectRequest request;
  HP_ASSIGN_OR_RETURN(request.model_path, RequiredFlag(args.model, "model"));
  HP_ASSIGN_OR_RETURN(request.options, args.tag_options);
  HP_ASSIGN_OR_RETURN(request.digest_policy, args.digest_policy);
  // A trace beside the model computes an untagged model's tags; a tagged
  // model is recomputed only with a trace named on the command line.
  if (args.trace != "none") {
    request.trace_path = args.trace;
    request.default_trace_path = TracePathFor("", request.model_path);
  }
  request.require_tagged = require_tagged;
  HP_ASSIGN_OR_RETURN(Inspection inspection, InspectModel(request));
  PrintWarnings(inspection.warnings, err);
  return inspection;
}

}  // namespace hp
