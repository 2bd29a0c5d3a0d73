#include "hp/pipeline/tag_file.h"

#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "hp/io/model_splice.h"
#include "hp/model/module_table.h"
#include "hp/tag/appended_tags.h"
#include "hp/tag/record_strip.h"
#include "hp/tag/tag_writer.h"
#include "hp/trace/trace_binding.h"
#include "hp/util/freed_memory.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

namespace hp {

std::string DefaultTracePath(const std::string& model_path) {
  std::filesystem::path beside(model_path);
  beside.replace_extension(".trace.json");
  std::error_code error;
  return std::filesystem::is_regular_file(beside, error) ? beside.string() : "";
}

TagFileResult::TagFileResult() = default;
TagFileResult::TagFileResult(TagFileResult&&) = default;
TagFileResult& TagFileResult::operator=(TagFileResult&&) = default;
TagFileResult::~TagFileResult() = default;

namespace {

// Checking the trace against the model: at once against the digests a
// model hp tagged before records (those of the export it came from), or
// against a digest hashed on a second thread while the model is tagged and
// written, and checked before the output is committed.
struct TraceCheck {
  std::vector<std::string> warnings;  // from the check, once done
  DigestKind kind = DigestKind::kFile;
  // Hashes the model's digest of `kind`; empty when the check needs none.
  std::function<absl::StatusOr<std::string>()> hash;
  // Valid once the hashing started.
  std::future<absl::StatusOr<std::string>> hashing;

  // Starts hashing on a thread of its own, if there is a digest to hash and
  // it has not started yet.
  void StartHashing() {
    if (hash && !hashing.valid()) {
      hashing = std::async(std::launch::async, hash);
    }
  }
};

// Starts the check (the digest to hash, if any, is hashed once
// TraceCheck::StartHashing is called) and sets the digests the output will
// record: with a digest to hash, the trace's own (the model is the trace's
// if the check passes). The output records the digest that was checked, and
// only that one: its bytes do not depend on whether the caller knew the file's.
absl::StatusOr<TraceCheck> StartTraceCheck(const ModelSplice& splice,
                                           const TraceOrigin& trace,
                                           const TagFileRequest& request,
                                           const DigestPolicy& policy,
                                           TagOptions* tag_options) {
  TraceCheck check;
  const DigestPlan plan =
      PlanDigestCheck(trace,
                      {RecordedModelSha256(splice.skeleton()),
                       RecordedModelStructureSha256(splice.skeleton())},
                      request.model_sha256);
  tag_options->model_sha256 = plan.known.sha256;
  tag_options->model_structure_sha256 = plan.known.structure_sha256;
  if (plan.to_hash.has_value()) check.kind = *plan.to_hash;
  if (plan.to_hash == DigestKind::kStructure) {
    check.hash = [&splice] { return splice.StructureSha256Hex(); };
    tag_options->model_structure_sha256 = trace.onnx_structure_sha256;
  } else if (plan.to_hash == DigestKind::kFile) {
    check.hash = [&request] { return Sha256FileHex(request.model_path); };
    tag_options->model_sha256 = trace.onnx_sha256;
  } else {
    HP_ASSIGN_OR_RETURN(
        check.warnings,
        CheckTraceDigest(trace, request.model_path, plan.known, policy));
  }
  return check;
}

// Waits for the hashed digest and checks it. With DigestCheck::kError a
// mismatch is the error, and the caller's uncommitted output is removed.
// Returns true when the model was tagged anyway (kWarn): the output then
// records this file's own digest, and the skeleton's entry is set to it.
absl::StatusOr<bool> FinishTraceCheck(const TraceOrigin& trace,
                                      const std::string& model_path,
                                      const DigestPolicy& policy,
                                      TraceCheck* check, ModelSplice* splice,
                                      TagOptions* tag_options) {
  HP_ASSIGN_OR_RETURN(const std::string digest, check->hashing.get());
  const bool structure = check->kind == DigestKind::kStructure;
  ModelDigests model;
  (structure ? model.structure_sha256 : model.sha256) = digest;
  HP_ASSIGN_OR_RETURN(check->warnings,
                      CheckTraceDigest(trace, model_path, model, policy));
  std::string& assumed = structure ? tag_options->model_structure_sha256
                                   : tag_options->model_sha256;
  if (digest == assumed) return false;
  assumed = digest;
  const char* key = structure ? kModelStructureSha256Key : kModelSha256Key;
  for (onnx::StringStringEntryProto& entry :
       *splice->skeleton().mutable_metadata_props()) {
    if (entry.key() == key) entry.set_value(digest);
  }
  return true;
}

// A scope trace and its module table (ModuleTableFromTrace).
struct LoadedTrace {
  ScopeTrace trace;
  std::optional<ModuleTable> modules;
};

// Without `keep_modules` the trace keeps only its root once the table is
// made (the table takes its strings and index over): tagging reads its
// origin and digests, the table the rest. Where
// the trace came from goes to `parsed` as soon as it is parsed (nullopt
// when it does not load), before the table is made.
absl::StatusOr<LoadedTrace> LoadTrace(
    const std::string& path, bool keep_modules,
    std::promise<std::optional<TraceOrigin>>* parsed) {
  absl::StatusOr<ScopeTrace> loaded = LoadScopeTrace(path);
  parsed->set_value(loaded.ok() ? std::optional<TraceOrigin>(loaded->origin())
                                : std::nullopt);
  HP_RETURN_IF_ERROR(loaded.status());
  ScopeTrace trace = *std::move(loaded);
  std::optional<ModuleTable> modules(keep_modules
                                         ? ModuleTableFromTrace(trace)
                                         : ModuleTableFromTrace(&trace));
  return LoadedTrace{std::move(trace), std::move(modules)};
}

}  // namespace

absl::StatusOr<TagFileResult> TagFile(const TagFileRequest& request,
                                      const TagFileOptions& options) {
  const std::string& model_path = request.model_path;
  // The trace and its module table do not depend on the model: made on a
  // second thread while the model is opened. A model error still comes
  // first. `parsed` is declared before the thread that sets it, so that it
  // outlives the thread on every return.
  std::promise<std::optional<TraceOrigin>> parsed;
  std::future<std::optional<TraceOrigin>> parsed_origin = parsed.get_future();
  std::future<absl::StatusOr<LoadedTrace>> loading_trace;
  if (!request.trace_path.empty()) {
    loading_trace = std::async(std::launch::async, [&request, &parsed] {
      return LoadTrace(request.trace_path, request.keep_model, &parsed);
    });
  }
  // Nodes are read as records and tagged without being parsed, unless the
  // caller wants the tagged model itself.
  SpliceOptions open;
  open.read_node_records = !request.keep_model;
  open.keep_name_scopes = true;
  // The trace is parsed on the other core meanwhile: for a caller keeping
  // the model, whose nodes are parsed, a second finder of the node records
  // there only takes turns with it (nodes_1m, --nofsync: 0.38 s with it,
  // 0.355 s without).
  if (!request.trace_path.empty()) {
    open.node_run_ahead_after = kNoNodeRunAhead;
  }
  HP_ASSIGN_OR_RETURN(ModelSplice opened, ModelSplice::Open(model_path, open));
  TagFileResult result;
  result.splice = std::make_unique<ModelSplice>(std::move(opened));
  ModelSplice& splice = *result.splice;
  result.input_bytes = splice.file_bytes();
  TagOptions tag_options = options.tag;

  if (request.trace_path.empty() &&
      ModelMetadataValue(splice.skeleton(), kSourceKey) ==
          std::string("trace")) {
    result.warnings.push_back(absl::StrCat(
        model_path,
        " was tagged from a scope trace before; without --trace its tags now "
        "come from node names alone"));
  }
  std::optional<ScopeTrace> trace;
  std::optional<ModuleTable> traced_modules;
  TraceCheck check;
  // Where the trace came from: all the check reads, before and after the
  // save.
  std::optional<TraceOrigin> origin;
  if (!request.trace_path.empty()) {
    // The check starts as soon as the trace is parsed.
    origin = parsed_origin.get();
    if (origin.has_value()) {
      HP_ASSIGN_OR_RETURN(check,
                          StartTraceCheck(splice, *origin, request,
                                          options.digest_policy, &tag_options));
    }
    // Where the save copies into the page cache, it keeps every core busy:
    // the model's digest is hashed now, while the trace's module table is
    // still being made, on the core this thread would idle on. A durable
    // save waits on the disk instead, and hashes then (below), leaving
    // both cores to the scope walk.
    if (options.durability == Durability::kNoFsync) check.StartHashing();
    // A trace that did not load says why here.
    HP_ASSIGN_OR_RETURN(LoadedTrace loaded, loading_trace.get());
    trace = std::move(loaded.trace);
    traced_modules = std::move(loaded.modules);
  }

  // Node tags are appended to the node records as read, which are copied
  // rather than serialized again, unless the caller wants the tagged
  // model itself (its nodes then carry their tags).
  AppendedNodeTags& appended = result.node_tags;
  const ScopeTrace* traced = trace ? &*trace : nullptr;
  // A model tagged before keeps the export digests it records (TagModel
  // would read them before stripping).
  const TagOptions kept_digests =
      WithRecordedDigests(splice.skeleton(), tag_options);
  // Read as records, it loses its old tags first: mostly by cutting them
  // off the node records they were appended to, else by parsing its nodes
  // (after which it is tagged as parsed).
  if (splice.reads_node_records()) HP_RETURN_IF_ERROR(StripTags(&splice));
  if (splice.reads_node_records()) {
    HP_ASSIGN_OR_RETURN(
        result.tags,
        TagModel(
            &splice.skeleton(), splice.nodes(),
            [&splice](size_t i) { return splice.MutableNode(i); }, traced,
            kept_digests, &appended, std::move(traced_modules)));
    // Scopes are found: their ids go before the save's buffers come.
    splice.ForgetNameScopes();
  } else {
    const bool append = splice.can_copy_nodes() && !request.keep_model;
    HP_ASSIGN_OR_RETURN(
        result.tags,
        TagModel(&splice.skeleton(), traced, kept_digests,
                 append ? &appended : nullptr, std::move(traced_modules)));
  }
  // Only a caller keeping the model gets the trace (for its sidecar); for
  // others it has held its root alone since the module table was made
  // (LoadTrace), and the rest goes now.
  if (!request.keep_model) trace.reset();
  // The scope walk's tables are freed by now, but the allocator keeps
  // their pages: give them back before the save allocates its buffers.
  GiveBackFreedMemory();
  const NodeRecordSuffixes suffixes{&appended.sizes, appended.encode};
  SaveOptions save;
  save.input_path = model_path;
  save.overwrite_input = request.overwrite_input;
  save.durability = options.durability;
  check.StartHashing();
  // Optional, to be dropped and written again below.
  std::optional<AtomicFileWriter> writer;
  HP_ASSIGN_OR_RETURN(
      AtomicFileWriter written,
      splice.SaveUncommitted(request.output_path, save, suffixes));
  writer.emplace(std::move(written));
  if (check.hashing.valid()) {
    // The flush to disk, too, overlaps with the hashing.
    if (options.durability == Durability::kFsync) {
      HP_RETURN_IF_ERROR(writer->Sync());
    }
    HP_ASSIGN_OR_RETURN(
        const bool rewrite,
        FinishTraceCheck(*origin, model_path, options.digest_policy, &check,
                         &splice, &tag_options));
    if (rewrite) {
      // Rare, and never on the default path.
      writer.reset();
      HP_ASSIGN_OR_RETURN(
          AtomicFileWriter rewritten,
          splice.SaveUncommitted(request.output_path, save, suffixes));
      writer.emplace(std::move(rewritten));
    }
  }
  HP_ASSIGN_OR_RETURN(
      PlacedExternalData placed,
      PlaceExternalData(splice.external_data_files(), model_path,
                        request.output_path, options.external_data,
                        options.durability));
  HP_RETURN_IF_ERROR(writer->Commit(options.durability));
  placed.Keep();
  result.external_data = placed.counts();
  result.output_bytes = writer->bytes_written();

  for (std::string& warning : check.warnings) {
    result.warnings.push_back(std::move(warning));
  }
  for (const std::string& warning : result.tags.warnings) {
    result.warnings.push_back(absl::StrCat(model_path, ": ", warning));
  }
  result.options = std::move(tag_options);
  if (request.keep_model) result.model = splice.SkeletonWithHeaders();
  result.trace = std::move(trace);
  return result;
}

}  // namespace hp
