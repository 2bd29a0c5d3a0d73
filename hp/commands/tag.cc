#include "hp/commands/tag.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hp/batch/batch_inputs.h"
#include "hp/batch/batch_tagger.h"
#include "hp/batch/progress.h"
#include "hp/io/atomic_file.h"
#include "hp/io/external_data.h"
#include "hp/pipeline/sidecar.h"
#include "hp/pipeline/tag_file.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// --metadata: the sidecar is written after the model (it records the saved
// model's digest). Everything that can be checked is checked before the
// model is written; the input's digest is taken now because --in_place
// replaces the input.
struct MetadataRequest {
  std::string path;
  FileDigest input_model;
};

absl::StatusOr<std::optional<MetadataRequest>> PrepareMetadata(
    const std::string& path, const std::string& model_path,
    const std::string& output_path) {
  if (path.empty()) return std::nullopt;
  const std::filesystem::path target(path);
  if (target.lexically_normal() ==
          std::filesystem::path(output_path).lexically_normal() ||
      SameFile(path, output_path) || SameFile(path, model_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metadata ", path, " names the model; choose another path"));
  }
  HP_RETURN_IF_ERROR(CheckOptionalOutput(path, "metadata"));
  MetadataRequest request{path, {model_path, ""}};
  HP_ASSIGN_OR_RETURN(request.input_model.sha256, Sha256FileHex(model_path));
  return request;
}

absl::Status WriteMetadata(const MetadataRequest& request,
                           const std::string& output_path,
                           const TagFileResult& tagged,
                           const std::string& trace_path, std::ostream& out) {
  SidecarContext context;
  context.input_model = request.input_model;
  if (tagged.trace.has_value()) {
    // The trace's digest is that of the file's text, as read.
    context.trace = FileDigest{trace_path, tagged.trace->text_sha256()};
  }
  context.output_model.path = output_path;
  context.options = tagged.options;
  absl::Status written = [&]() -> absl::Status {
    HP_ASSIGN_OR_RETURN(context.output_model.sha256,
                        Sha256FileHex(output_path));
    return WriteFileAtomically(
        request.path,
        SidecarJson(tagged.model, tagged.tags,
                    tagged.trace ? &*tagged.trace : nullptr, context));
  }();
  if (!written.ok()) {
    return absl::Status(
        written.code(),
        absl::StrCat(output_path, " was written, but not the metadata: ",
                     written.message()));
  }
  out << "wrote metadata " << request.path << "\n";
  return absl::OkStatus();
}

absl::StatusOr<ProgressStyle> ParseProgress(const TagBatchArgs& batch) {
  const std::string& progress = batch.progress;
  if (progress == "bar" || (progress == "auto" && batch.err_is_terminal)) {
    return ProgressStyle::kBar;
  }
  if (progress == "none") return ProgressStyle::kNone;
  if (progress != "lines" && progress != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("--progress: unknown value '", progress,
                     "' (expected auto, bar, lines or none)"));
  }
  return ProgressStyle::kLines;
}

// Many models, each as one --model would be tagged, on --jobs workers.
absl::Status RunTagBatch(const TagArgs& args, std::ostream& out,
                         std::ostream& err) {
  const TagBatchArgs& batch_args = args.batch;
  const std::string& folder = batch_args.models_dir;
  const std::string& list = batch_args.models_list;
  const std::string& manifest = batch_args.manifest;
  if (!folder.empty() + !list.empty() + !manifest.empty() != 1) {
    return absl::InvalidArgumentError(
        "--models_dir, --models_list and --manifest exclude each other");
  }
  if (!args.model.empty() || !args.output.output.empty() ||
      !args.metadata.empty()) {
    return absl::InvalidArgumentError(
        "--model, --output and --metadata are for one model; a batch writes "
        "to --output_dir");
  }
  if (!args.trace.empty() && args.trace != "none") {
    return absl::InvalidArgumentError(
        "--trace names one model's trace; in a batch each model's trace is "
        "found beside it or named in --manifest (--trace none: no traces)");
  }
  BatchLayout layout;
  layout.output_dir = batch_args.output_dir;
  layout.in_place = args.output.in_place;
  layout.no_traces = args.trace == "none";
  if (layout.in_place && !layout.output_dir.empty()) {
    return absl::InvalidArgumentError(
        "--in_place and --output_dir exclude each other");
  }
  if (manifest.empty() && !layout.in_place && layout.output_dir.empty()) {
    return absl::InvalidArgumentError(
        "--output_dir is required for a batch (or --in_place to overwrite "
        "each model)");
  }
  HP_RETURN_IF_ERROR(
      CheckOptionalOutput(batch_args.summary_json, "summary_json"));
  HP_ASSIGN_OR_RETURN(const ProgressStyle style, ParseProgress(batch_args));
  if (batch_args.jobs < 0) {
    return absl::InvalidArgumentError(
        "--jobs must be 0 (one per core) or more");
  }

  BatchOptions options;
  HP_ASSIGN_OR_RETURN(options.tag_file.tag, args.tag_options);
  HP_ASSIGN_OR_RETURN(options.tag_file.digest_policy, args.digest_policy);
  HP_ASSIGN_OR_RETURN(options.tag_file.external_data,
                      args.output.external_data);
  options.tag_file.durability = args.durability;
  options.jobs = batch_args.jobs > 0
                     ? batch_args.jobs
                     : std::max(1u, std::thread::hardware_concurrency());
  options.overwrite_input = layout.in_place;
  std::vector<BatchItem> items;
  if (!folder.empty()) {
    HP_ASSIGN_OR_RETURN(items,
                        ItemsFromFolder(folder, batch_args.recursive, layout));
  } else if (!list.empty()) {
    HP_ASSIGN_OR_RETURN(items, ItemsFromList(list, layout));
  } else {
    HP_ASSIGN_OR_RETURN(items, ItemsFromManifest(manifest, layout));
  }

  ProgressPrinter printer(err, style);
  const BatchResult batch =
      TagBatch(items, options,
               [&printer](const BatchItemResult& result, int done, int total) {
                 printer.Report(result, done, total);
               });
  printer.Finish();
  const std::string& summary = batch_args.summary_json;
  if (!summary.empty()) {
    HP_RETURN_IF_ERROR(WriteFileAtomically(summary, BatchSummaryJson(batch)));
  }
  const int total = static_cast<int>(batch.items.size());
  out << absl::StrFormat(
      "tagged %d of %d models in %.1f s with %d job%s%s\n",
      total - batch.failed, total, batch.seconds, batch.jobs,
      batch.jobs == 1 ? "" : "s",
      summary.empty() ? "" : absl::StrCat("; summary in ", summary));
  if (batch.failed > 0) {
    return absl::AbortedError(
        absl::StrCat(batch.failed, " of ", total,
                     " models failed (each is listed above "
                     "with its reason); the others were written"));
  }
  return absl::OkStatus();
}

}  // namespace

// The result left to the OS at exit (TagArgs::exit_after). A global of
// external linkage, so the store is kept and leak checkers see it reachable.
const TagFileResult* kept_until_exit = nullptr;

absl::Status RunTag(const TagArgs& args, std::ostream& out, std::ostream& err) {
  if (!args.batch.models_dir.empty() || !args.batch.models_list.empty() ||
      !args.batch.manifest.empty()) {
    return RunTagBatch(args, out, err);
  }
  HP_ASSIGN_OR_RETURN(std::string model_path,
                      RequiredFlag(args.model, "model"));
  HP_ASSIGN_OR_RETURN(auto target, OutputTarget(model_path, args.output));
  HP_ASSIGN_OR_RETURN(std::optional<MetadataRequest> metadata,
                      PrepareMetadata(args.metadata, model_path, target.first));
  TagFileOptions options;
  HP_ASSIGN_OR_RETURN(options.tag, args.tag_options);
  HP_ASSIGN_OR_RETURN(options.digest_policy, args.digest_policy);
  HP_ASSIGN_OR_RETURN(options.external_data, args.output.external_data);
  options.durability = args.durability;
  // Through the splice path: weights are copied, never parsed
  // (hp/io/model_splice.h); the checks and warnings are those of the library.
  TagFileRequest request;
  request.model_path = model_path;
  request.trace_path = TracePathFor(args.trace, model_path);
  request.output_path = target.first;
  request.overwrite_input = target.second.overwrite_input;
  request.keep_model = metadata.has_value();
  if (metadata.has_value()) request.model_sha256 = metadata->input_model.sha256;
  HP_ASSIGN_OR_RETURN(TagFileResult tagged, TagFile(request, options));
  PrintWarnings(tagged.warnings, err);
  if (metadata.has_value()) {
    HP_RETURN_IF_ERROR(WriteMetadata(*metadata, target.first, tagged,
                                     request.trace_path, out));
  }

  const TagStatistics& s = tagged.tags.statistics;
  out << absl::StrFormat(
      "tagged %s -> %s: %d nodes (%d direct, %d parent, %d root, "
      "%d propagated), coverage %.1f%%, %d modules, %d tags, from %s\n",
      model_path, target.first, s.nodes, s.direct, s.parent, s.root,
      s.propagated, 100.0 * s.coverage, s.modules, s.tags,
      HierarchySourceName(tagged.tags.source));
  const std::string placed =
      ExternalDataSummary(tagged.external_data, target.first);
  if (!placed.empty()) out << placed << "\n";
  if (args.exit_after) {
    // Handing the tagged model's millions of small allocations back to the
    // OS at exit beats freeing them one by one.
    kept_until_exit = new TagFileResult(std::move(tagged));
  }
  return absl::OkStatus();
}

}  // namespace hp
