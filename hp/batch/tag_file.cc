#include "hp/batch/tag_file.h"

#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/model_splice.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

namespace hp {

std::string DefaultTracePath(const std::string& model_path) {
  std::filesystem::path beside(model_path);
  beside.replace_extension(".trace.json");
  std::error_code error;
  return std::filesystem::is_regular_file(beside, error) ? beside.string() : "";
}

absl::StatusOr<TagFileResult> TagFile(const TagFileRequest& request,
                                      const TagFileOptions& options) {
  const std::string& model_path = request.model_path;
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(model_path));
  TagFileResult result;
  result.input_bytes = splice.file_bytes();
  TagOptions tag_options = options.tag;

  std::optional<ScopeTrace> trace;
  if (request.trace_path.empty() &&
      ModelMetadataValue(splice.skeleton(), kSourceKey) ==
          std::string("trace")) {
    result.warnings.push_back(absl::StrCat(
        model_path,
        " was tagged from a scope trace before; without --trace its tags now "
        "come from node names alone"));
  }
  if (!request.trace_path.empty()) {
    HP_ASSIGN_OR_RETURN(trace, LoadScopeTrace(request.trace_path));
    // A file hp tagged before is checked against the digest of the export
    // it came from, which it records.
    std::string model_sha256 = request.model_sha256;
    if (std::optional<std::string> recorded =
            RecordedModelSha256(splice.skeleton())) {
      model_sha256 = *recorded;
    } else if (model_sha256.empty()) {
      HP_ASSIGN_OR_RETURN(model_sha256, Sha256FileHex(model_path));
    }
    tag_options.model_sha256 = model_sha256;
    HP_ASSIGN_OR_RETURN(std::vector<std::string> digest_warnings,
                        CheckTraceDigest(*trace, model_path, model_sha256,
                                         options.digest_check));
    for (std::string& warning : digest_warnings) {
      result.warnings.push_back(std::move(warning));
    }
  }

  HP_ASSIGN_OR_RETURN(
      result.tags,
      TagModel(&splice.skeleton(), trace ? &*trace : nullptr, tag_options));
  for (const std::string& warning : result.tags.warnings) {
    result.warnings.push_back(absl::StrCat(model_path, ": ", warning));
  }
  SaveOptions save;
  save.input_path = model_path;
  save.overwrite_input = request.overwrite_input;
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                      splice.SaveUncommitted(request.output_path, save));
  HP_RETURN_IF_ERROR(writer.Commit());
  result.output_bytes = writer.bytes_written();
  result.options = std::move(tag_options);
  if (request.keep_model) {
    result.model = splice.SkeletonWithHeaders();
    result.trace = std::move(trace);
  }
  return result;
}

}  // namespace hp
