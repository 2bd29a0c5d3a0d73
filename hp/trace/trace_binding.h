// Does this trace belong to this model? The one home of that rule, for
// `tag` and for the commands that inspect a model.
//
// A scope trace names the model it was recorded with by digest: the
// structure digest (the file without its weights, hp/io/structure_digest.h)
// or, in traces recorded before that existed, the whole file's SHA-256. A
// model hp tagged records the digests of the export it came from, so it is
// checked by those; any other model by its own file's digest, of the kind
// the trace has.
#ifndef HP_TRACE_TRACE_BINDING_H_
#define HP_TRACE_TRACE_BINDING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/trace/scope_trace.h"

namespace hp {

// What a digest mismatch between trace and model means.
enum class DigestCheck {
  kError,  // the default: the trace belongs to another model
  kWarn,   // go on anyway, reporting a warning
};

// How a mismatch is treated, and how the caller tells its user to go on
// anyway (the converter says "--trace_digest=warn"); with no hint the
// message gives no such advice.
struct DigestPolicy {
  DigestCheck check = DigestCheck::kError;
  std::string override_hint;
};

// A model's digests, lowercase or uppercase hex; "" where not known.
struct ModelDigests {
  std::string sha256;            // the whole file (Sha256FileHex)
  std::string structure_sha256;  // without the weights (StructureSha256Hex)
};

// The digest a trace is checked by: the structure digest when the trace
// has one (hashing it never reads the weights), else the file's.
enum class DigestKind { kFile, kStructure };
DigestKind DigestToCheck(const TraceOrigin& trace);

// A trace recorded for another model, with both sides' digests.
struct TraceMismatch {
  std::string model_path;
  std::string trace_source;
  std::string trace_onnx_file;  // the file the trace was recorded with
  DigestKind kind = DigestKind::kFile;
  std::string model_digest;     // lowercase
  std::string recorded_digest;  // the trace's

  // One sentence naming both files and both digests.
  std::string Describe() const;
};

// Compares the trace's digest with the model's: the structure digests
// where both are known, else the file digests. nullopt when they match. A
// model with neither digest the trace has, or a malformed one, is an
// InvalidArgument.
absl::StatusOr<std::optional<TraceMismatch>> CompareTraceDigest(
    const TraceOrigin& trace, absl::string_view model_path,
    const ModelDigests& model);

// CompareTraceDigest under a policy: the warnings to show (empty when the
// digests match); with kError a mismatch is a FailedPrecondition.
absl::StatusOr<std::vector<std::string>> CheckTraceDigest(
    const TraceOrigin& trace, absl::string_view model_path,
    const ModelDigests& model, const DigestPolicy& policy = {});

// The digests a model records from an earlier hp run (those of the export
// it came from): nullopt for a model hp never tagged from a checked trace.
struct RecordedDigests {
  std::optional<std::string> sha256;
  std::optional<std::string> structure_sha256;
  bool any() const {
    return sha256.has_value() || structure_sha256.has_value();
  }
};

// Which digest of the model file must be hashed before the check, if any:
// none when the model records its export's digests or the caller knows the
// file's SHA-256 already (`known_sha256`).
struct DigestPlan {
  ModelDigests known;  // what is known without hashing
  std::optional<DigestKind> to_hash;
};
DigestPlan PlanDigestCheck(const TraceOrigin& trace,
                           const RecordedDigests& recorded,
                           const std::string& known_sha256 = "");

// The whole rule for a model file, hashing it when needed: for commands
// that can afford to wait for the hash (tag overlaps it with its work).
absl::StatusOr<std::vector<std::string>> CheckTraceBelongsToModel(
    const TraceOrigin& trace, const std::string& model_path,
    const RecordedDigests& recorded, const DigestPolicy& policy);

}  // namespace hp

#endif  // HP_TRACE_TRACE_BINDING_H_
