#include "hp/trace/trace_binding.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "hp/io/structure_digest.h"
#include "hp/util/hex_digest.h"
#include "hp/util/json_fields.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

namespace hp {

DigestKind DigestToCheck(const TraceOrigin& trace) {
  return trace.onnx_structure_sha256.empty() ? DigestKind::kFile
                                             : DigestKind::kStructure;
}

std::string TraceMismatch::Describe() const {
  const char* name =
      kind == DigestKind::kStructure ? "structure sha256 " : "sha256 ";
  return absl::StrCat(
      model_path, ": ", name, model_digest, " does not match ", trace_source,
      ", which was recorded for ", QuoteJson(trace_onnx_file), " with ", name,
      recorded_digest,
      "; the trace belongs to another model (or to an earlier export of it)");
}

absl::StatusOr<std::optional<TraceMismatch>> CompareTraceDigest(
    const TraceOrigin& trace, absl::string_view model_path,
    const ModelDigests& model) {
  const bool structure =
      !trace.onnx_structure_sha256.empty() && !model.structure_sha256.empty();
  const std::string& recorded =
      structure ? trace.onnx_structure_sha256 : trace.onnx_sha256;
  const std::string& given = structure ? model.structure_sha256 : model.sha256;
  if (given.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": no digest to check ", trace.source,
        " against: the model's structure sha256 is not known and its sha256 "
        "is not given"));
  }
  const std::string model_digest = absl::AsciiStrToLower(given);
  if (!IsSha256HexDigest(model_digest)) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": expected a SHA-256 of 64 hex digits, got ",
                     QuoteJson(given)));
  }
  if (model_digest == recorded) return std::nullopt;
  return TraceMismatch{std::string(model_path),
                       trace.source,
                       trace.onnx_file,
                       structure ? DigestKind::kStructure : DigestKind::kFile,
                       model_digest,
                       recorded};
}

absl::StatusOr<std::vector<std::string>> CheckTraceDigest(
    const TraceOrigin& trace, absl::string_view model_path,
    const ModelDigests& model, const DigestPolicy& policy) {
  HP_ASSIGN_OR_RETURN(std::optional<TraceMismatch> mismatch,
                      CompareTraceDigest(trace, model_path, model));
  if (!mismatch.has_value()) return std::vector<std::string>();
  const std::string& hint = policy.override_hint;
  if (policy.check == DigestCheck::kWarn) {
    return std::vector<std::string>{
        absl::StrCat(mismatch->Describe(), "; converting anyway",
                     hint.empty() ? "" : absl::StrCat(" (", hint, ")"))};
  }
  return absl::FailedPreconditionError(absl::StrCat(
      mismatch->Describe(), "; re-record the trace for this model",
      hint.empty() ? ""
                   : absl::StrCat(", or pass ", hint, " to convert anyway")));
}

DigestPlan PlanDigestCheck(const TraceOrigin& trace,
                           const RecordedDigests& recorded,
                           const std::string& known_sha256) {
  const DigestKind kind = DigestToCheck(trace);
  DigestPlan plan;
  plan.known.sha256 =
      recorded.sha256.value_or(kind == DigestKind::kFile ? known_sha256 : "");
  plan.known.structure_sha256 = recorded.structure_sha256.value_or("");
  if (!recorded.any() &&
      (kind == DigestKind::kStructure || plan.known.sha256.empty())) {
    plan.to_hash = kind;
  }
  return plan;
}

absl::StatusOr<std::vector<std::string>> CheckTraceBelongsToModel(
    const TraceOrigin& trace, const std::string& model_path,
    const RecordedDigests& recorded, const DigestPolicy& policy) {
  DigestPlan plan = PlanDigestCheck(trace, recorded);
  if (plan.to_hash == DigestKind::kStructure) {
    HP_ASSIGN_OR_RETURN(plan.known.structure_sha256,
                        StructureSha256FileHex(model_path));
  } else if (plan.to_hash == DigestKind::kFile) {
    HP_ASSIGN_OR_RETURN(plan.known.sha256, Sha256FileHex(model_path));
  }
  return CheckTraceDigest(trace, model_path, plan.known, policy);
}

}  // namespace hp
