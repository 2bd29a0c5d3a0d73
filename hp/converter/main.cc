// converter: hp's command-line tool. Each subcommand is one entry of the
// table in main(); flags are defined here and nowhere else, and turned into
// the library's option structs.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "hp/batch/batch_inputs.h"
#include "hp/batch/batch_tagger.h"
#include "hp/batch/progress.h"
#include "hp/batch/tag_file.h"
#include "hp/hp.h"
#include "hp/io/atomic_file.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/model_io.h"
#include "hp/io/structure_digest.h"
#include "hp/trace/scope_trace.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"
#include "hp/view/analyze.h"
#include "hp/view/dot.h"
#include "hp/view/graphml.h"
#include "hp/view/module_tree.h"
#include "hp/view/sidecar.h"
#include "hp/view/stored_tags.h"
#include "hp/view/validate.h"

ABSL_FLAG(std::string, model, "", "Input ONNX model (.onnx). Required.");
ABSL_FLAG(std::string, output, "",
          "Where to write the result. Required unless --in_place. Written "
          "atomically: a failed run leaves no file behind.");
ABSL_FLAG(bool, in_place, false,
          "Overwrite --model itself instead of writing --output.");
ABSL_FLAG(bool, fsync, true,
          "tag, batch: flush each tagged model to disk (fsync) before "
          "renaming it into place, so that it survives a power loss or OS "
          "crash. --nofsync skips the flush, as cp does: the output is still "
          "written to a temporary file and renamed into place whole (never a "
          "partial file, and a failed run changes nothing), but after a power "
          "loss or OS crash soon after, it may be missing, empty or partial. "
          "Faster for large models.");
ABSL_FLAG(std::string, trace, "",
          "Scope trace written by hp_record at export time. Default: "
          "<model stem>.trace.json beside the model when that file exists, "
          "else no trace. 'none' tags without a trace: module paths from "
          "dynamo metadata or node names, no class names.");
ABSL_FLAG(std::string, trace_digest, "error",
          "What a trace recorded for another model is: 'error' (stop) or "
          "'warn' (tag anyway, with a warning). The trace's structure digest "
          "(the model file without its weights) is compared, or the whole "
          "file's SHA-256 for a trace without one.");
ABSL_FLAG(std::string, keep_torch_nn, "",
          "torch.nn modules to keep in tags: 'all', or a comma-separated list "
          "of class names (e.g. LayerNorm,Embedding). Default: none; ops in a "
          "torch.nn module get the enclosing module's tag.");
ABSL_FLAG(bool, propagate, false,
          "Give nodes without a module scope (constants, shape arithmetic) "
          "the tag all their consumers share, else the one all their "
          "producers share, instead of the root tag.");
ABSL_FLAG(std::string, tag_format, "metadata",
          "Where tags go. 'metadata': NodeProto.metadata_props keys "
          "pkg.hp.tag, pkg.hp.module_path and namespace (valid ONNX). "
          "'attribute': a string attribute hierarchy_tag on every node, as the "
          "seed system wrote it; onnx.checker and onnxruntime REJECT such "
          "models. 'doc_string': JSON in each node's doc_string.");
ABSL_FLAG(bool, namespace, true,
          "metadata format: also write the 'namespace' key Google's Model "
          "Explorer nests nodes by (the tag without its leading '/').");
ABSL_FLAG(bool, overwrite_namespace, false,
          "Replace a 'namespace' a node already has (strip restores it). By "
          "default an existing namespace is left alone.");
ABSL_FLAG(std::string, root_name, "Model",
          "Root class name for models tagged without a trace or dynamo "
          "metadata.");
ABSL_FLAG(std::string, metadata, "",
          "tag: also write sidecar metadata JSON (proto/sidecar.schema.json: "
          "digests of input model, trace and output model, model summary, "
          "module tree, node -> tag map, statistics) to this path. Written "
          "atomically after the model is saved. Default: none.");
ABSL_FLAG(bool, json, false,
          "analyze: print JSON (proto/analyze.schema.json) instead of the "
          "indented text tree.");
ABSL_FLAG(std::string, sidecar, "",
          "validate: also check that this sidecar metadata file (from tag "
          "--metadata) describes --model: same digest, same node -> tag map. "
          "Default: none.");
ABSL_FLAG(std::string, models_dir, "",
          "tag, batch: tag every *.onnx file in this folder instead of one "
          "--model; each model's trace is <stem>.trace.json beside it when "
          "that file exists (or none with --trace none). Outputs keep the "
          "relative names under --output_dir. Default: none.");
ABSL_FLAG(bool, recursive, false,
          "tag --models_dir: also tag the models in subfolders (the output "
          "folder is skipped if it is inside).");
ABSL_FLAG(std::string, models_list, "",
          "tag, batch: a text file with one model path per line ('#' starts "
          "a comment line); relative paths are relative to the list's folder "
          "and keep that relative name under --output_dir, others keep their "
          "file name. Traces as for --models_dir. Default: none.");
ABSL_FLAG(std::string, manifest, "",
          "tag, batch: a JSON file {\"models\": [{\"model\": PATH, \"trace\": "
          "PATH or null, \"output\": PATH}, ...]} pairing each model with its "
          "trace and output. Paths are relative to the manifest's folder, "
          "\"output\" to --output_dir when given. Left out: \"trace\" is found "
          "beside the model, \"output\" is the model's relative name under "
          "--output_dir. Default: none.");
ABSL_FLAG(std::string, output_dir, "",
          "tag, batch: the folder outputs go to (created if missing), under "
          "the models' relative names. Required for a batch unless --in_place.");
ABSL_FLAG(int, jobs, 0,
          "tag, batch: models tagged in parallel. Default 0: one per CPU "
          "core.");
ABSL_FLAG(std::string, summary_json, "",
          "tag, batch: also write a JSON summary here (totals; per model: "
          "status, node and match counts, coverage, error, warnings, "
          "seconds). Default: none.");
ABSL_FLAG(std::string, progress, "auto",
          "tag, batch: progress on stderr: 'bar' (redrawn line), 'lines' (a "
          "line per model), 'none' (failures and warnings only), or 'auto': "
          "bar when stderr is a terminal, else lines. Failures are always "
          "printed, naming the file and the reason; the exit status is 1 when "
          "any model failed.");

namespace {

struct Command {
  std::string name;
  std::string usage;
  std::function<absl::Status()> run;
};

absl::StatusOr<std::string> RequiredFlag(const std::string& value,
                                         absl::string_view flag) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  }
  return value;
}

// The output path and save options for commands that write a model.
absl::StatusOr<std::pair<std::string, hp::SaveOptions>> OutputTarget(
    const std::string& model_path) {
  hp::SaveOptions save;
  save.input_path = model_path;
  if (absl::GetFlag(FLAGS_in_place)) {
    if (!absl::GetFlag(FLAGS_output).empty()) {
      return absl::InvalidArgumentError(
          "--in_place and --output exclude each other");
    }
    save.overwrite_input = true;
    return std::make_pair(model_path, save);
  }
  HP_ASSIGN_OR_RETURN(std::string output,
                      RequiredFlag(absl::GetFlag(FLAGS_output), "output"));
  return std::make_pair(output, save);
}

// The trace to use: the flag, else the default file beside the model.
std::string TracePath(const std::string& model_path) {
  const std::string flag = absl::GetFlag(FLAGS_trace);
  if (flag == "none") return "";
  if (!flag.empty()) return flag;
  return hp::DefaultTracePath(model_path);
}

absl::StatusOr<hp::TagOptions> TagOptionsFromFlags() {
  hp::TagOptions options;
  const std::string keep = absl::GetFlag(FLAGS_keep_torch_nn);
  if (keep == "all") {
    options.keep_all_torch_nn = true;
  } else if (!keep.empty()) {
    options.keep_torch_nn_classes =
        absl::StrSplit(keep, ',', absl::SkipWhitespace());
  }
  options.propagate = absl::GetFlag(FLAGS_propagate);
  HP_ASSIGN_OR_RETURN(options.format,
                      hp::ParseTagFormat(absl::GetFlag(FLAGS_tag_format)));
  options.write_namespace = absl::GetFlag(FLAGS_namespace);
  options.overwrite_namespace = absl::GetFlag(FLAGS_overwrite_namespace);
  options.root_name = absl::GetFlag(FLAGS_root_name);
  return options;
}

hp::Durability DurabilityFromFlags() {
  return absl::GetFlag(FLAGS_fsync) ? hp::Durability::kFsync
                                    : hp::Durability::kNoFsync;
}

// tag --metadata: the sidecar is written after the model (it records the
// saved model's digest). Everything that can be checked is checked before
// the model is written; the input's digest is taken now because --in_place
// replaces the input.
struct MetadataRequest {
  std::string path;
  hp::FileDigest input_model;
};

absl::StatusOr<std::optional<MetadataRequest>> PrepareMetadata(
    const std::string& model_path, const std::string& output_path) {
  const std::string path = absl::GetFlag(FLAGS_metadata);
  if (path.empty()) return std::nullopt;
  const std::filesystem::path target(path);
  std::error_code error;
  if (target.lexically_normal() ==
          std::filesystem::path(output_path).lexically_normal() ||
      hp::SameFile(path, output_path) || hp::SameFile(path, model_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metadata ", path, " names the model; choose another path"));
  }
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : ".";
  if (!std::filesystem::is_directory(folder, error)) {
    return absl::NotFoundError(absl::StrCat(
        "--metadata ", path, ": folder ", folder.string(), " does not exist"));
  }
  MetadataRequest request{path, {model_path, ""}};
  HP_ASSIGN_OR_RETURN(request.input_model.sha256,
                      hp::Sha256FileHex(model_path));
  return request;
}

absl::Status WriteMetadata(const MetadataRequest& request,
                           const std::string& output_path,
                           const onnx::ModelProto& model,
                           const hp::TagResult& result,
                           const hp::ScopeTrace* trace,
                           const std::string& trace_path,
                           const hp::TagOptions& options) {
  hp::SidecarContext context;
  context.input_model = request.input_model;
  if (trace != nullptr) {
    // The trace's digest is that of the file's text, as read.
    context.trace = hp::FileDigest{trace_path, trace->text_sha256()};
  }
  context.output_model.path = output_path;
  context.options = options;
  absl::Status written = [&]() -> absl::Status {
    HP_ASSIGN_OR_RETURN(context.output_model.sha256,
                        hp::Sha256FileHex(output_path));
    return hp::WriteFileAtomically(
        request.path, hp::SidecarJson(model, result, trace, context));
  }();
  if (!written.ok()) {
    return absl::Status(
        written.code(),
        absl::StrCat(output_path, " was written, but not the metadata: ",
                     written.message()));
  }
  std::printf("wrote metadata %s\n", request.path.c_str());
  return absl::OkStatus();
}

// tag --models_dir / --models_list / --manifest: many models, each as
// `tag --model` would tag it, on --jobs workers.
absl::Status RunTagBatch() {
  const std::string folder = absl::GetFlag(FLAGS_models_dir);
  const std::string list = absl::GetFlag(FLAGS_models_list);
  const std::string manifest = absl::GetFlag(FLAGS_manifest);
  if (!folder.empty() + !list.empty() + !manifest.empty() != 1) {
    return absl::InvalidArgumentError(
        "--models_dir, --models_list and --manifest exclude each other");
  }
  if (!absl::GetFlag(FLAGS_model).empty() ||
      !absl::GetFlag(FLAGS_output).empty() ||
      !absl::GetFlag(FLAGS_metadata).empty()) {
    return absl::InvalidArgumentError(
        "--model, --output and --metadata are for one model; a batch writes "
        "to --output_dir");
  }
  const std::string trace = absl::GetFlag(FLAGS_trace);
  if (!trace.empty() && trace != "none") {
    return absl::InvalidArgumentError(
        "--trace names one model's trace; in a batch each model's trace is "
        "found beside it or named in --manifest (--trace none: no traces)");
  }
  hp::BatchLayout layout;
  layout.output_dir = absl::GetFlag(FLAGS_output_dir);
  layout.in_place = absl::GetFlag(FLAGS_in_place);
  layout.no_traces = trace == "none";
  if (layout.in_place && !layout.output_dir.empty()) {
    return absl::InvalidArgumentError(
        "--in_place and --output_dir exclude each other");
  }
  if (manifest.empty() && !layout.in_place && layout.output_dir.empty()) {
    return absl::InvalidArgumentError(
        "--output_dir is required for a batch (or --in_place to overwrite "
        "each model)");
  }
  const std::string progress = absl::GetFlag(FLAGS_progress);
  hp::ProgressStyle style = hp::ProgressStyle::kLines;
  if (progress == "bar" || (progress == "auto" && ::isatty(STDERR_FILENO))) {
    style = hp::ProgressStyle::kBar;
  } else if (progress == "none") {
    style = hp::ProgressStyle::kNone;
  } else if (progress != "lines" && progress != "auto") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--progress: unknown value '", progress,
        "' (expected auto, bar, lines or none)"));
  }
  const int jobs = absl::GetFlag(FLAGS_jobs);
  if (jobs < 0) {
    return absl::InvalidArgumentError("--jobs must be 0 (one per core) or more");
  }

  hp::BatchOptions options;
  HP_ASSIGN_OR_RETURN(options.tag_file.tag, TagOptionsFromFlags());
  HP_ASSIGN_OR_RETURN(options.tag_file.digest_check,
                      hp::ParseDigestCheck(absl::GetFlag(FLAGS_trace_digest)));
  options.tag_file.durability = DurabilityFromFlags();
  options.jobs = jobs > 0 ? jobs
                          : std::max(1u, std::thread::hardware_concurrency());
  options.overwrite_input = layout.in_place;
  std::vector<hp::BatchItem> items;
  if (!folder.empty()) {
    HP_ASSIGN_OR_RETURN(items, hp::ItemsFromFolder(
                                   folder, absl::GetFlag(FLAGS_recursive), layout));
  } else if (!list.empty()) {
    HP_ASSIGN_OR_RETURN(items, hp::ItemsFromList(list, layout));
  } else {
    HP_ASSIGN_OR_RETURN(items, hp::ItemsFromManifest(manifest, layout));
  }

  hp::ProgressPrinter printer(stderr, style);
  const hp::BatchResult batch = hp::TagBatch(
      items, options,
      [&printer](const hp::BatchItemResult& result, int done, int total) {
        printer.Report(result, done, total);
      });
  printer.Finish();
  const std::string summary = absl::GetFlag(FLAGS_summary_json);
  if (!summary.empty()) {
    HP_RETURN_IF_ERROR(
        hp::WriteFileAtomically(summary, hp::BatchSummaryJson(batch)));
  }
  const int total = static_cast<int>(batch.items.size());
  std::printf("tagged %d of %d models in %.1f s with %d job%s%s\n",
              total - batch.failed, total, batch.seconds, batch.jobs,
              batch.jobs == 1 ? "" : "s",
              summary.empty() ? "" : absl::StrCat("; summary in ", summary).c_str());
  if (batch.failed > 0) {
    return absl::AbortedError(absl::StrCat(
        batch.failed, " of ", total, " models failed (each is listed above "
        "with its reason); the others were written"));
  }
  return absl::OkStatus();
}

absl::Status RunTag() {
  if (!absl::GetFlag(FLAGS_models_dir).empty() ||
      !absl::GetFlag(FLAGS_models_list).empty() ||
      !absl::GetFlag(FLAGS_manifest).empty()) {
    return RunTagBatch();
  }
  HP_ASSIGN_OR_RETURN(std::string model_path,
                      RequiredFlag(absl::GetFlag(FLAGS_model), "model"));
  HP_ASSIGN_OR_RETURN(auto target, OutputTarget(model_path));
  HP_ASSIGN_OR_RETURN(std::optional<MetadataRequest> metadata,
                      PrepareMetadata(model_path, target.first));
  HP_ASSIGN_OR_RETURN(hp::TagOptions options, TagOptionsFromFlags());
  HP_ASSIGN_OR_RETURN(hp::DigestCheck digest_check,
                      hp::ParseDigestCheck(absl::GetFlag(FLAGS_trace_digest)));
  // Through the splice path: weights are copied, never parsed
  // (hp/io/model_splice.h); the checks and warnings are those of the library.
  hp::TagFileRequest request;
  request.model_path = model_path;
  request.trace_path = TracePath(model_path);
  request.output_path = target.first;
  request.overwrite_input = target.second.overwrite_input;
  request.keep_model = metadata.has_value();
  if (metadata.has_value()) request.model_sha256 = metadata->input_model.sha256;
  HP_ASSIGN_OR_RETURN(hp::TagFileResult tagged,
                      hp::TagFile(request, {options, digest_check,
                                            DurabilityFromFlags()}));
  for (const std::string& warning : tagged.warnings) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  const hp::TagResult& result = tagged.tags;
  if (metadata.has_value()) {
    HP_RETURN_IF_ERROR(WriteMetadata(
        *metadata, target.first, tagged.model, result,
        tagged.trace ? &*tagged.trace : nullptr, request.trace_path,
        tagged.options));
  }

  // The process ends right after this command: handing the tagged model's
  // millions of small allocations back to the OS at exit beats freeing them
  // one by one (about 0.45 s for a 1M-node graph).
  static const hp::TagFileResult* const kept_until_exit =
      new hp::TagFileResult(std::move(tagged));
  const hp::TagStatistics& s = kept_until_exit->tags.statistics;
  std::printf(
      "tagged %s -> %s: %lld nodes (%lld direct, %lld parent, %lld root, "
      "%lld propagated), coverage %.1f%%, %lld modules, %lld tags, from %s\n",
      model_path.c_str(), target.first.c_str(), static_cast<long long>(s.nodes),
      static_cast<long long>(s.direct), static_cast<long long>(s.parent),
      static_cast<long long>(s.root), static_cast<long long>(s.propagated),
      100.0 * s.coverage, static_cast<long long>(s.modules),
      static_cast<long long>(s.tags),
      std::string(hp::HierarchySourceName(kept_until_exit->tags.source)).c_str());
  return absl::OkStatus();
}

absl::Status RunStrip() {
  HP_ASSIGN_OR_RETURN(std::string model_path,
                      RequiredFlag(absl::GetFlag(FLAGS_model), "model"));
  HP_ASSIGN_OR_RETURN(auto target, OutputTarget(model_path));
  HP_ASSIGN_OR_RETURN(onnx::ModelProto model, hp::LoadModel(model_path));
  const bool was_tagged = hp::IsTagged(model);
  HP_RETURN_IF_ERROR(hp::StripTags(&model));
  HP_RETURN_IF_ERROR(hp::SaveModel(model, target.first, target.second));
  std::printf("%s %s -> %s\n", was_tagged ? "stripped" : "no hp tags in",
              model_path.c_str(), target.first.c_str());
  return absl::OkStatus();
}

absl::Status RunSummary() {
  HP_ASSIGN_OR_RETURN(std::string path,
                      RequiredFlag(absl::GetFlag(FLAGS_model), "model"));
  HP_ASSIGN_OR_RETURN(onnx::ModelProto model, hp::LoadModel(path));
  std::printf("%s: ir_version %lld, producer %s %s, %d nodes, %d initializers, %s\n",
              path.c_str(), static_cast<long long>(model.ir_version()),
              model.producer_name().c_str(), model.producer_version().c_str(),
              model.graph().node_size(), model.graph().initializer_size(),
              hp::IsTagged(model) ? "tagged by hp" : "not tagged by hp");
  return absl::OkStatus();
}

// What analyze, validate, graphml and dot start from: the model, its trace
// (--trace, else the one beside the model), the tags hp computes for it and,
// when hp tagged it, the tags it carries.
struct InspectedModel {
  std::string path;
  onnx::ModelProto model;
  std::string trace_path;  // "" without a trace
  std::optional<hp::ScopeTrace> trace;
  std::optional<hp::StoredTags> stored;
  hp::TagResult computed;
};

absl::StatusOr<InspectedModel> InspectModel(bool require_tagged) {
  InspectedModel inspected;
  HP_ASSIGN_OR_RETURN(inspected.path,
                      RequiredFlag(absl::GetFlag(FLAGS_model), "model"));
  HP_ASSIGN_OR_RETURN(hp::TagOptions options, TagOptionsFromFlags());
  HP_ASSIGN_OR_RETURN(hp::DigestCheck digest_check,
                      hp::ParseDigestCheck(absl::GetFlag(FLAGS_trace_digest)));
  HP_ASSIGN_OR_RETURN(inspected.model, hp::LoadModel(inspected.path));
  // A tagged model is recomputed with the options it was tagged with.
  if (std::optional<hp::TagOptions> recorded =
          hp::RecordedTagOptions(inspected.model)) {
    options = *std::move(recorded);
  }
  if (require_tagged || hp::IsTagged(inspected.model)) {
    HP_ASSIGN_OR_RETURN(inspected.stored,
                        hp::ReadStoredTags(inspected.model, inspected.path));
  }
  inspected.trace_path = TracePath(inspected.path);
  if (!inspected.trace_path.empty()) {
    HP_ASSIGN_OR_RETURN(inspected.trace,
                        hp::LoadScopeTrace(inspected.trace_path));
    // A tagged model records its trace's digest; an untagged one is the
    // model the trace records.
    std::vector<std::string> warnings;
    if (inspected.stored.has_value()) {
      HP_ASSIGN_OR_RETURN(
          warnings, hp::CheckTaggedModelTrace(*inspected.stored,
                                              *inspected.trace, inspected.path,
                                              digest_check));
    } else {
      hp::ModelDigests digests;
      if (hp::DigestToCheck(*inspected.trace) == hp::DigestKind::kStructure) {
        HP_ASSIGN_OR_RETURN(digests.structure_sha256,
                            hp::StructureSha256FileHex(inspected.path));
      } else {
        HP_ASSIGN_OR_RETURN(digests.sha256, hp::Sha256FileHex(inspected.path));
      }
      HP_ASSIGN_OR_RETURN(warnings,
                          hp::CheckTraceDigest(*inspected.trace, inspected.path,
                                               digests, digest_check));
    }
    for (const std::string& warning : warnings) {
      std::fprintf(stderr, "warning: %s\n", warning.c_str());
    }
  }
  HP_ASSIGN_OR_RETURN(
      inspected.computed,
      hp::ComputeTags(inspected.model,
                      inspected.trace ? &*inspected.trace : nullptr, options));
  return inspected;
}

absl::StatusOr<hp::TagsToShow> TagsToShow(const InspectedModel& inspected) {
  if (inspected.stored.has_value()) {
    return hp::StoredTagsToShow(inspected.computed, *inspected.stored);
  }
  return hp::ComputedTagsToShow(inspected.computed);
}

absl::Status RunAnalyze() {
  HP_ASSIGN_OR_RETURN(InspectedModel inspected, InspectModel(false));
  HP_ASSIGN_OR_RETURN(hp::TagsToShow shown, TagsToShow(inspected));
  const hp::ModuleTree tree = hp::ModuleTree::Build(shown);
  const hp::AnalysisContext context{inspected.path, inspected.trace_path};
  const std::string report = absl::GetFlag(FLAGS_json)
                                 ? hp::AnalysisJson(shown, tree, context)
                                 : hp::AnalysisText(shown, tree, context);
  std::fputs(report.c_str(), stdout);
  return absl::OkStatus();
}

absl::Status RunValidate() {
  HP_ASSIGN_OR_RETURN(InspectedModel inspected, InspectModel(true));
  const hp::StoredTags& stored = *inspected.stored;
  if (!inspected.trace.has_value() &&
      stored.source == hp::HierarchySourceName(hp::HierarchySource::kTrace)) {
    return absl::FailedPreconditionError(absl::StrCat(
        inspected.path,
        ": tagged from a scope trace, but no trace was given and none lies "
        "beside it; pass --trace"));
  }
  std::vector<std::string> problems =
      hp::ValidateStoredTags(stored, inspected.computed);
  const std::string sidecar_path = absl::GetFlag(FLAGS_sidecar);
  if (!sidecar_path.empty()) {
    HP_ASSIGN_OR_RETURN(hp::Sidecar sidecar, hp::LoadSidecar(sidecar_path));
    HP_ASSIGN_OR_RETURN(std::string model_sha256,
                        hp::Sha256FileHex(inspected.path));
    for (std::string& problem :
         hp::CompareWithSidecar(sidecar, sidecar_path, stored,
                                inspected.computed, model_sha256)) {
      problems.push_back(std::move(problem));
    }
  }
  for (const std::string& problem : problems) {
    std::printf("%s: %s\n", inspected.path.c_str(), problem.c_str());
  }
  if (!problems.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        inspected.path, ": ", problems.size(),
        problems.size() == 1 ? " problem" : " problems", " found"));
  }
  std::printf("%s: valid: %zu nodes, tags as hp computes them from %s%s%s\n",
              inspected.path.c_str(), inspected.computed.nodes.size(),
              std::string(hp::HierarchySourceName(inspected.computed.source))
                  .c_str(),
              inspected.trace ? " " : "", inspected.trace_path.c_str());
  return absl::OkStatus();
}

// graphml and dot: the drawing of --model's hierarchy, written to --output.
absl::Status RunDrawing(
    const std::function<absl::StatusOr<std::string>(
        const onnx::ModelProto&, const hp::TagsToShow&, const hp::ModuleTree&)>&
        draw) {
  HP_ASSIGN_OR_RETURN(std::string output,
                      RequiredFlag(absl::GetFlag(FLAGS_output), "output"));
  HP_ASSIGN_OR_RETURN(InspectedModel inspected, InspectModel(false));
  if (hp::SameFile(output, inspected.path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        output, ": refusing to overwrite the input model with a drawing"));
  }
  HP_ASSIGN_OR_RETURN(hp::TagsToShow shown, TagsToShow(inspected));
  const hp::ModuleTree tree = hp::ModuleTree::Build(shown);
  HP_ASSIGN_OR_RETURN(std::string text, draw(inspected.model, shown, tree));
  HP_RETURN_IF_ERROR(hp::WriteFileAtomically(output, text));
  int64_t drawn_modules = 0;
  for (const hp::TreeModule& module : tree.modules()) {
    drawn_modules += module.subtree_nodes > 0 ? 1 : 0;
  }
  std::printf("wrote %s: %zu nodes in %lld module instances\n", output.c_str(),
              shown.nodes.size(), static_cast<long long>(drawn_modules));
  return absl::OkStatus();
}

absl::Status RunGraphml() { return RunDrawing(hp::GraphmlText); }
absl::Status RunDot() { return RunDrawing(hp::DotText); }

std::string UsageText(const std::vector<Command>& commands) {
  std::string text =
      "converter COMMAND [flags]\n\n"
      "Puts a PyTorch model's module hierarchy back into its ONNX export.\n\n"
      "Commands:\n";
  for (const Command& command : commands) {
    absl::StrAppend(&text, absl::StrFormat("  %-9s %s\n", command.name,
                                           command.usage));
  }
  absl::StrAppend(&text,
                  "\nExamples:\n  converter tag --model m.onnx --output "
                  "m.tagged.onnx   (reads m.trace.json beside m.onnx)\n"
                  "  converter tag --models_dir exports --output_dir tagged "
                  "--jobs 4 --summary_json tagged/summary.json\n");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Command> commands = {
      {"tag",
       "tag every node of --model with its module hierarchy; write --output "
       "(or every model of --models_dir, --models_list or --manifest into "
       "--output_dir)",
       RunTag},
      {"strip", "remove everything hp wrote from --model; write --output",
       RunStrip},
      {"summary", "print a one-line summary of --model", RunSummary},
      {"analyze",
       "print --model's module tree: node counts, op types and matches per "
       "module (--json for JSON)",
       RunAnalyze},
      {"validate",
       "check the tags of a tagged --model against its trace (and "
       "--sidecar); list every problem",
       RunValidate},
      {"graphml", "write --model's hierarchy as nested GraphML to --output",
       RunGraphml},
      {"dot", "write --model's hierarchy as Graphviz DOT (a cluster per module) "
       "to --output", RunDot},
  };
  absl::SetProgramUsageMessage(UsageText(commands));
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "converter/main.cc");
  };
  absl::SetFlagsUsageConfig(config);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() != 2) {
    std::fprintf(stderr, "%s", UsageText(commands).c_str());
    return 2;
  }
  for (const Command& command : commands) {
    if (command.name != positional[1]) continue;
    absl::Status status = command.run();
    if (!status.ok()) {
      std::fprintf(stderr, "converter %s: %s\n", command.name.c_str(),
                   std::string(status.message()).c_str());
      return 1;
    }
    return 0;
  }
  std::fprintf(stderr, "converter: unknown command '%s'\n%s", positional[1],
               UsageText(commands).c_str());
  return 2;
}
