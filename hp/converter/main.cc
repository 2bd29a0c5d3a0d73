// converter: hp's command-line tool. It parses flags (defined here and
// nowhere else) into each command's arguments and runs the command named
// on the command line from one table; the commands themselves are library
// functions in hp/commands/, one file each.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
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
#include "hp/commands/analyze.h"
#include "hp/commands/command_args.h"
#include "hp/commands/dot.h"
#include "hp/commands/extract.h"
#include "hp/commands/graphml.h"
#include "hp/commands/profile.h"
#include "hp/commands/strip.h"
#include "hp/commands/summary.h"
#include "hp/commands/tag.h"
#include "hp/commands/transfer.h"
#include "hp/commands/validate.h"
#include "hp/io/stop_signals.h"
#include "hp/io/wire_format.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/huge_page_allocations.h"
#include "hp/util/status_macros.h"

ABSL_FLAG(std::string, model, "", "Input ONNX model (.onnx). Required.");
ABSL_FLAG(std::string, from, "",
          "transfer: the model hp tagged (with `tag`) that --model was derived "
          "from (optimized, fused, converted). Required for transfer.");
ABSL_FLAG(std::string, output, "",
          "Where to write the result. Required unless --in_place. Written "
          "atomically: a failed run, or one stopped by Ctrl-C, SIGTERM or "
          "SIGHUP, leaves no file behind. A file (or a "
          "link) there is replaced; a folder, device, pipe or /dev/stdout is "
          "refused.");
ABSL_FLAG(bool, in_place, false,
          "Overwrite --model itself instead of writing --output.");
ABSL_FLAG(std::string, external_data, "link",
          "tag, strip, transfer, extract, batch: a model that keeps tensors in "
          "side files (ONNX "
          "external data, as every model over 2 GB does) and is written to "
          "another folder gets those files beside the output under the same "
          "relative names, placed before the output is renamed into place: "
          "'link' (a hard link, no bytes copied; a copy where the file system "
          "cannot link, e.g. across file systems), 'copy' (always a file of "
          "its own: a reflink where the file system can, else an in-kernel "
          "copy), 'error' (refuse the output instead). A file of that name "
          "already there is used when it is the same file or holds the same "
          "bytes; a different one is never replaced (an error). An output in "
          "the model's folder needs nothing. 'declared' (for build rules, "
          "which declare every output): refuse a model unless the side files "
          "it uses are exactly those of --declared_external_data, then copy "
          "them as 'copy' does.");
ABSL_FLAG(std::vector<std::string>, declared_external_data, {},
          "--external_data=declared: the side files the caller expects beside "
          "the output, comma-separated, as the model's tensors name them "
          "(their 'location', relative to the model's folder). A model that "
          "uses a file not listed, or none of a listed one, is refused, "
          "naming the file. Default: none (a model with external data is "
          "refused).");
ABSL_FLAG(bool, fsync, true,
          "tag, transfer, extract, strip, batch: flush each written model to "
          "disk (fsync) before renaming it into place, so that it survives a "
          "power loss or OS crash. --nofsync skips the flush, as cp does: the "
          "output is still written to a temporary file and renamed into place "
          "whole (never a partial file, and a failed run changes nothing), but "
          "after a power loss or OS crash soon after, it may be missing, empty "
          "or partial. Faster for large models.");
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
ABSL_FLAG(bool, first_candidate, false,
          "A scope segment that names no module directly is looked up "
          "through the containers that never ran (nn.ModuleDict, an indexed "
          "nn.ModuleList, a bare nn.Module): where several modules fit and "
          "the trace cannot tell which (a trace without a call sequence), "
          "take the first in trace order with a warning instead of failing.");
ABSL_FLAG(std::string, tag_format, "metadata",
          "Where tags go. 'metadata': NodeProto.metadata_props keys "
          "pkg.hp.tag, pkg.hp.module_path and namespace (valid ONNX). "
          "'attribute': a string attribute hierarchy_tag on every node, as the "
          "seed system wrote it; onnx.checker and onnxruntime REJECT such "
          "models. 'doc_string': JSON in each node's doc_string.");
ABSL_FLAG(bool, namespace, true,
          "tag, transfer: metadata format: also write the 'namespace' key "
          "Google's Model "
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
          "indented text tree. transfer: print JSON (counts per match kind, "
          "and every node's match, tag, module path and the original nodes "
          "it was matched with) instead of the one line. extract: print JSON "
          "(per model written its tag, module path, output, node and "
          "initializer counts, inputs and outputs; with --all the nodes in "
          "no module) instead of the lines. profile: print JSON "
          "(proto/profile.schema.json) instead of the text.");
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
          "a comment line); relative paths are relative to the list's folder. "
          "Outputs keep each model's path relative to the list's common "
          "folder under --output_dir: the list's own folder when every model "
          "lies below it, else the deepest folder holding all the models "
          "(compared as absolute paths, links not followed), so "
          ".../test_abs/model.onnx and .../test_acos/model.onnx are written "
          "to test_abs/model.onnx and test_acos/model.onnx. A model listed "
          "twice is refused. Traces as for --models_dir. Default: none.");
ABSL_FLAG(std::string, manifest, "",
          "tag, batch: a JSON file {\"models\": [{\"model\": PATH, \"trace\": "
          "PATH or null, \"output\": PATH}, ...]} pairing each model with its "
          "trace and output. Paths are relative to the manifest's folder, "
          "\"output\" to --output_dir when given. Left out: \"trace\" is found "
          "beside the model, \"output\" is named under --output_dir as for "
          "--models_list. Default: none.");
ABSL_FLAG(std::string, output_dir, "",
          "tag, batch: the folder outputs go to (created if missing), under "
          "the models' relative names. Required for a batch unless --in_place. "
          "extract --all: the folder the modules' models go to (created if "
          "missing).");
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

ABSL_FLAG(std::string, module, "",
          "extract: the module instance to extract, by its tag as analyze "
          "shows it (e.g. /BertModel/BertEncoder/BertLayer.3); its subtree "
          "comes with it. Default: none.");
ABSL_FLAG(std::string, module_path, "",
          "extract: the module instance to extract, by its dotted module "
          "path (e.g. encoder.layer.3), instead of --module. Default: none.");
ABSL_FLAG(bool, all, false,
          "extract: write every module instance at --depth, one model each, "
          "into --output_dir (named after the tag), and list the nodes in "
          "none of them.");
ABSL_FLAG(int, depth, 1,
          "extract --all: the depth of the module tree to cut at (0: the "
          "root, 1: its children, ...).");
ABSL_FLAG(bool, remainder, false,
          "extract --all: also write the nodes in none of the modules at "
          "--depth as one model, remainder.onnx in --output_dir.");
ABSL_FLAG(std::vector<std::string>, profile, {},
          "profile: the profile JSON onnxruntime wrote (session option "
          "enableProfiling), or several, comma-separated (one per session "
          "or run): their node events are summed. Required for profile.");
ABSL_FLAG(std::string, optimized, "",
          "profile: the graph the session ran, saved by onnxruntime from "
          "--model (session option optimizedModelFilePath): its nodes get "
          "--model's tags by transfer's rule, in memory, and the events are "
          "attributed to them. Default: none (the session ran --model "
          "itself, with graphOptimizationLevel 'disabled').");
ABSL_FLAG(std::string, svg, "",
          "profile: also write a flame graph (icicle: one box per module, as "
          "wide as its share of the time, a tooltip each) as a standalone "
          "SVG to this path, atomically. Default: none.");
ABSL_FLAG(std::string, folded, "",
          "profile: also write folded stacks ('Model;Encoder;Layer.0 1234': "
          "each module's self time in microseconds), which flame-graph tools "
          "and speedscope read, to this path, atomically. Default: none.");
ABSL_FLAG(int64_t, top, 0,
          "profile: list the N modules of most self time, flat, instead of "
          "the module tree. Default 0: the tree.");
ABSL_FLAG(int64_t, runs_skip, 0,
          "profile: leave out the first N runs (model_run events) of each "
          "profile file, e.g. warm-up. Default 0.");
ABSL_FLAG(std::vector<std::string>, baseline, {},
          "profile: profile file(s) of the same model to compare with "
          "(another provider, thread count or build), comma-separated: per "
          "module both times (per run when both have runs) and the ratio, "
          "the biggest change first. Default: none.");
ABSL_FLAG(std::string, baseline_optimized, "",
          "profile --baseline: the graph the baseline's session ran, as "
          "--optimized is for --profile; 'none' when it ran --model itself "
          "(e.g. an unoptimized baseline of an optimized profile). Default: "
          "the same graph as --profile's. Modules are compared by tag.");

namespace {

// --keep_torch_nn, --propagate, --first_candidate, --tag_format,
// --namespace, --overwrite_namespace and --root_name as TagOptions.
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
  options.first_candidate = absl::GetFlag(FLAGS_first_candidate);
  HP_ASSIGN_OR_RETURN(options.format,
                      hp::ParseTagFormat(absl::GetFlag(FLAGS_tag_format)));
  options.write_namespace = absl::GetFlag(FLAGS_namespace);
  options.overwrite_namespace = absl::GetFlag(FLAGS_overwrite_namespace);
  options.root_name = absl::GetFlag(FLAGS_root_name);
  return options;
}

hp::OutputArgs OutputFromFlags() {
  return {absl::GetFlag(FLAGS_output), absl::GetFlag(FLAGS_in_place),
          hp::ExternalDataPolicyFromFlag(
              absl::GetFlag(FLAGS_external_data),
              absl::GetFlag(FLAGS_declared_external_data))};
}

hp::InspectArgs InspectFromFlags() {
  return {absl::GetFlag(FLAGS_model), absl::GetFlag(FLAGS_trace),
          TagOptionsFromFlags(),
          hp::DigestPolicyFromFlag(absl::GetFlag(FLAGS_trace_digest))};
}

hp::Durability DurabilityFromFlags() {
  return absl::GetFlag(FLAGS_fsync) ? hp::Durability::kFsync
                                    : hp::Durability::kNoFsync;
}

hp::TagArgs TagFromFlags() {
  hp::TagArgs args;
  args.model = absl::GetFlag(FLAGS_model);
  args.output = OutputFromFlags();
  args.trace = absl::GetFlag(FLAGS_trace);
  args.tag_options = TagOptionsFromFlags();
  args.digest_policy =
      hp::DigestPolicyFromFlag(absl::GetFlag(FLAGS_trace_digest));
  args.metadata = absl::GetFlag(FLAGS_metadata);
  args.durability = DurabilityFromFlags();
  args.batch.models_dir = absl::GetFlag(FLAGS_models_dir);
  args.batch.recursive = absl::GetFlag(FLAGS_recursive);
  args.batch.models_list = absl::GetFlag(FLAGS_models_list);
  args.batch.manifest = absl::GetFlag(FLAGS_manifest);
  args.batch.output_dir = absl::GetFlag(FLAGS_output_dir);
  args.batch.jobs = absl::GetFlag(FLAGS_jobs);
  args.batch.summary_json = absl::GetFlag(FLAGS_summary_json);
  args.batch.progress = absl::GetFlag(FLAGS_progress);
  args.batch.err_is_terminal = ::isatty(STDERR_FILENO);
  args.exit_after = true;
  return args;
}

using RunFunction = std::function<absl::Status(std::ostream&, std::ostream&)>;

struct Command {
  std::string name;
  std::string usage;
  RunFunction run;
};

// The commands, in the order --help lists them: a new command is a file in
// hp/commands/ and a row here.
std::vector<Command> Commands() {
  return {
      {"tag",
       "tag every node of --model with its module hierarchy; write --output "
       "(or every model of --models_dir, --models_list or --manifest into "
       "--output_dir)",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunTag(TagFromFlags(), out, err);
       }},
      {"transfer",
       "write the tags of --from (tagged) onto every node of --model, a "
       "model derived from it (optimized, fused, converted); write --output",
       [](std::ostream& out, std::ostream& err) {
         hp::TransferArgs args;
         args.from = absl::GetFlag(FLAGS_from);
         args.model = absl::GetFlag(FLAGS_model);
         args.output = OutputFromFlags();
         args.write_namespace = absl::GetFlag(FLAGS_namespace);
         args.overwrite_namespace = absl::GetFlag(FLAGS_overwrite_namespace);
         args.durability = DurabilityFromFlags();
         args.json = absl::GetFlag(FLAGS_json);
         return hp::RunTransfer(args, out, err);
       }},
      {"extract",
       "write one module instance of a tagged --model (--module TAG or "
       "--module_path PATH) as a standalone model to --output, or every "
       "module at --depth with --all --output_dir",
       [](std::ostream& out, std::ostream& err) {
         hp::ExtractArgs args;
         args.model = absl::GetFlag(FLAGS_model);
         args.module = absl::GetFlag(FLAGS_module);
         args.module_path = absl::GetFlag(FLAGS_module_path);
         args.output = absl::GetFlag(FLAGS_output);
         args.all = absl::GetFlag(FLAGS_all);
         args.depth = absl::GetFlag(FLAGS_depth);
         args.output_dir = absl::GetFlag(FLAGS_output_dir);
         args.remainder = absl::GetFlag(FLAGS_remainder);
         args.durability = DurabilityFromFlags();
         args.external_data = OutputFromFlags().external_data;
         args.json = absl::GetFlag(FLAGS_json);
         return hp::RunExtract(args, out, err);
       }},
      {"profile",
       "attribute an onnxruntime --profile of --model (or of its "
       "--optimized graph) to modules: time per module, --svg flame graph",
       [](std::ostream& out, std::ostream& err) {
         hp::ProfileArgs args;
         args.model = absl::GetFlag(FLAGS_model);
         args.profiles = absl::GetFlag(FLAGS_profile);
         args.optimized = absl::GetFlag(FLAGS_optimized);
         args.json = absl::GetFlag(FLAGS_json);
         args.svg = absl::GetFlag(FLAGS_svg);
         args.folded = absl::GetFlag(FLAGS_folded);
         args.top = absl::GetFlag(FLAGS_top);
         args.runs_skip = absl::GetFlag(FLAGS_runs_skip);
         args.baseline = absl::GetFlag(FLAGS_baseline);
         const std::string baseline_optimized =
             absl::GetFlag(FLAGS_baseline_optimized);
         args.baseline_optimized = baseline_optimized.empty() ? args.optimized
                                   : baseline_optimized == "none"
                                       ? ""
                                       : baseline_optimized;
         return hp::RunProfile(args, out, err);
       }},
      {"strip", "remove everything hp wrote from --model; write --output",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunStrip({absl::GetFlag(FLAGS_model), OutputFromFlags(),
                              DurabilityFromFlags()},
                             out, err);
       }},
      {"summary", "print a one-line summary of --model",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunSummary({absl::GetFlag(FLAGS_model)}, out, err);
       }},
      {"analyze",
       "print --model's module tree: node counts, op types and matches per "
       "module (--json for JSON)",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunAnalyze({InspectFromFlags(), absl::GetFlag(FLAGS_json)},
                               out, err);
       }},
      {"validate",
       "check the tags of a tagged --model against its trace (and "
       "--sidecar); list every problem",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunValidate(
             {InspectFromFlags(), absl::GetFlag(FLAGS_sidecar)}, out, err);
       }},
      {"graphml", "write --model's hierarchy as nested GraphML to --output",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunGraphml(
             {InspectFromFlags(), absl::GetFlag(FLAGS_output)}, out, err);
       }},
      {"dot",
       "write --model's hierarchy as Graphviz DOT (a cluster per module) to "
       "--output",
       [](std::ostream& out, std::ostream& err) {
         return hp::RunDot({InspectFromFlags(), absl::GetFlag(FLAGS_output)},
                           out, err);
       }},
  };
}

std::string UsageText(const std::vector<Command>& commands) {
  std::string text =
      "converter COMMAND [flags]\n\n"
      "Puts a PyTorch model's module hierarchy back into its ONNX export.\n\n"
      "Commands:\n";
  for (const Command& command : commands) {
    absl::StrAppend(
        &text, absl::StrFormat("  %-9s %s\n", command.name, command.usage));
  }
  absl::StrAppend(&text,
                  "\nExamples:\n  converter tag --model m.onnx --output "
                  "m.tagged.onnx   (reads m.trace.json beside m.onnx)\n"
                  "  converter tag --models_dir exports --output_dir tagged "
                  "--jobs 4 --summary_json tagged/summary.json\n"
                  "  converter transfer --from m.tagged.onnx --model "
                  "m.optimized.onnx --output m.optimized.tagged.onnx\n"
                  "  converter extract --model m.tagged.onnx --module_path "
                  "encoder.layer.3 --output layer3.onnx\n");
  return text;
}

// `extract --all` keeps each module's file open until every one is written
// (all are committed or none): a model of thousands of modules would pass
// the usual soft limit of 1,024 descriptors. It is raised to the hard
// limit, commonly far higher.
void RaiseOpenFileLimit() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);  // as before, if refused
}

// Node records at the start of a model's graph from which it counts as
// node-heavy (about 40,000 nodes of a torch export).
constexpr uint64_t kNodeHeavyProbeBytes = uint64_t{4} << 20;

// The size of the regular file at `path`; 0 for folders, missing files and
// no path.
uint64_t RegularFileBytes(const std::string& path) {
  struct stat info;
  if (path.empty() || ::stat(path.c_str(), &info) != 0 ||
      !S_ISREG(info.st_mode)) {
    return 0;
  }
  return static_cast<uint64_t>(info.st_size);
}

// The bytes of the inputs that hp reads into memory: the trace --trace
// names, and each model --model and --from name whose graph is node-heavy
// (it becomes node lists and tags). A model of large weights counts
// nothing: its weights are copied from file to file, never held.
uint64_t HeldInputBytes() {
  uint64_t bytes = RegularFileBytes(absl::GetFlag(FLAGS_trace));
  for (const std::string& model :
       {absl::GetFlag(FLAGS_model), absl::GetFlag(FLAGS_from)}) {
    if (hp::GraphOpensWithNodeRecords(model, kNodeHeavyProbeBytes)) {
      bytes += RegularFileBytes(model);
    }
  }
  return bytes;
}

// Inputs from which starting again with malloc on huge pages pays: the
// restart costs a start of the program (~10 ms here) and saved up to
// 0.4 ms per MB read on a node-heavy model (docs/benchmarks.md).
constexpr uint64_t kRestartFromInputBytes = uint64_t{32} << 20;

}  // namespace

int main(int argc, char** argv) {
  // The arguments as given, for a restart: ParseCommandLine's contract
  // does not say that it leaves argv as it found it.
  std::vector<char*> arguments(argv, argv + argc + 1);
  RaiseOpenFileLimit();
  const std::vector<Command> commands = Commands();
  absl::SetProgramUsageMessage(UsageText(commands));
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "converter/main.cc");
  };
  absl::SetFlagsUsageConfig(config);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // Before any work: this may start the program again. The inputs are
  // probed only where it would (not again in the restarted program).
  if (hp::WillRestartWithHugePageMalloc() &&
      HeldInputBytes() >= kRestartFromInputBytes) {
    hp::RestartWithHugePageMalloc(arguments.data());
  }
  // Ctrl-C, `kill` or a closed terminal: the outputs not yet committed
  // are removed before the signal ends the program.
  hp::RemoveRegisteredOnStopSignals();
  if (positional.size() != 2) {
    std::fprintf(stderr, "%s", UsageText(commands).c_str());
    return 2;
  }
  for (const Command& command : commands) {
    if (command.name != positional[1]) continue;
    const absl::Status status = command.run(std::cout, std::cerr);
    std::cout.flush();
    if (!status.ok()) {
      std::cerr << "converter " << command.name << ": " << status.message()
                << "\n";
      return 1;
    }
    return 0;
  }
  std::fprintf(stderr, "converter: unknown command '%s'\n%s", positional[1],
               UsageText(commands).c_str());
  return 2;
}
