// The sidecar metadata file (`converter tag --metadata PATH`): a tagging
// run's result and context in; JSON describing it out (schema:
// proto/sidecar.schema.json): where the model and trace came from (with
// SHA-256 digests), a model summary, the module tree, every node's tag and
// the statistics. Also read back, for `converter validate --sidecar`.
#ifndef HP_PIPELINE_SIDECAR_H_
#define HP_PIPELINE_SIDECAR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {

inline constexpr char kSidecarFormat[] = "hp-sidecar";
inline constexpr int kSidecarFormatVersion = 1;

struct FileDigest {
  std::string path;    // as given to the converter
  std::string sha256;  // lowercase hex of the file's bytes
};

struct SidecarContext {
  FileDigest input_model;
  std::optional<FileDigest> trace;  // the trace file, when one was used
  FileDigest output_model;          // the tagged model as saved
  TagOptions options;
};

// The sidecar JSON text (pretty-printed, trailing newline) for `model` (the
// tagged model), the `result` TagModel returned for it and the `trace` it
// was tagged with (may be null; gives the modules' call counts and order).
// Never throws: invalid UTF-8 in names is replaced.
std::string SidecarJson(const onnx::ModelProto& model, const TagResult& result,
                        const ScopeTrace* trace, const SidecarContext& context);

// What validate compares a model with.
struct Sidecar {
  std::string output_model_sha256;
  std::vector<NodeTag> nodes;  // graph, name, op type, module path, tag
};

// Parses sidecar JSON. `source` (the file name) starts every error, which
// names the JSON path or byte offset: "m.json: nodes[3].tag: expected a
// string". Errors are InvalidArgument.
absl::StatusOr<Sidecar> ParseSidecar(absl::string_view json_text,
                                     absl::string_view source);

// Reads `path` and parses it with `path` as the source.
absl::StatusOr<Sidecar> LoadSidecar(const std::string& path);

}  // namespace hp

#endif  // HP_PIPELINE_SIDECAR_H_
