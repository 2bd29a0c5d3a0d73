// converter: hp's command-line tool. Each subcommand is one entry of the
// table in main(); flags are defined here and nowhere else, and turned into
// the library's option structs.
#include <cstdio>
#include <filesystem>
#include <functional>
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
#include "hp/hp.h"
#include "hp/io/model_io.h"
#include "hp/trace/scope_trace.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

ABSL_FLAG(std::string, model, "", "Input ONNX model (.onnx). Required.");
ABSL_FLAG(std::string, output, "",
          "Where to write the result. Required unless --in_place. Written "
          "atomically: a failed run leaves no file behind.");
ABSL_FLAG(bool, in_place, false,
          "Overwrite --model itself instead of writing --output.");
ABSL_FLAG(std::string, trace, "",
          "Scope trace written by hp_record at export time. Default: "
          "<model stem>.trace.json beside the model when that file exists, "
          "else no trace. 'none' tags without a trace: module paths from "
          "dynamo metadata or node names, no class names.");
ABSL_FLAG(std::string, trace_digest, "error",
          "What a trace recorded for another model is: 'error' (stop) or "
          "'warn' (tag anyway, with a warning).");
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
  std::filesystem::path beside(model_path);
  beside.replace_extension(".trace.json");
  std::error_code error;
  return std::filesystem::is_regular_file(beside, error) ? beside.string() : "";
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

absl::Status RunTag() {
  HP_ASSIGN_OR_RETURN(std::string model_path,
                      RequiredFlag(absl::GetFlag(FLAGS_model), "model"));
  HP_ASSIGN_OR_RETURN(auto target, OutputTarget(model_path));
  HP_ASSIGN_OR_RETURN(hp::TagOptions options, TagOptionsFromFlags());
  HP_ASSIGN_OR_RETURN(hp::DigestCheck digest_check,
                      hp::ParseDigestCheck(absl::GetFlag(FLAGS_trace_digest)));
  HP_ASSIGN_OR_RETURN(onnx::ModelProto model, hp::LoadModel(model_path));

  std::optional<hp::ScopeTrace> trace;
  const std::string trace_path = TracePath(model_path);
  if (trace_path.empty() &&
      hp::ModelMetadataValue(model, hp::kSourceKey) == std::string("trace")) {
    std::fprintf(stderr,
                 "warning: %s was tagged from a scope trace before; without "
                 "--trace its tags now come from node names alone\n",
                 model_path.c_str());
  }
  if (!trace_path.empty()) {
    HP_ASSIGN_OR_RETURN(trace, hp::LoadScopeTrace(trace_path));
    // A file hp tagged before is checked against the digest of the export
    // it came from, which it records.
    std::string model_sha256;
    if (std::optional<std::string> recorded = hp::RecordedModelSha256(model)) {
      model_sha256 = *recorded;
    } else {
      HP_ASSIGN_OR_RETURN(model_sha256, hp::Sha256FileHex(model_path));
    }
    options.model_sha256 = model_sha256;
    HP_ASSIGN_OR_RETURN(
        std::vector<std::string> digest_warnings,
        hp::CheckTraceDigest(*trace, model_path, model_sha256, digest_check));
    for (const std::string& warning : digest_warnings) {
      std::fprintf(stderr, "warning: %s\n", warning.c_str());
    }
  }

  HP_ASSIGN_OR_RETURN(
      hp::TagResult result,
      hp::TagModel(&model, trace ? &*trace : nullptr, options));
  for (const std::string& warning : result.warnings) {
    std::fprintf(stderr, "warning: %s: %s\n", model_path.c_str(),
                 warning.c_str());
  }
  HP_RETURN_IF_ERROR(hp::SaveModel(model, target.first, target.second));

  const hp::TagStatistics& s = result.statistics;
  std::printf(
      "tagged %s -> %s: %lld nodes (%lld direct, %lld parent, %lld root, "
      "%lld propagated), coverage %.1f%%, %lld modules, %lld tags, from %s\n",
      model_path.c_str(), target.first.c_str(), static_cast<long long>(s.nodes),
      static_cast<long long>(s.direct), static_cast<long long>(s.parent),
      static_cast<long long>(s.root), static_cast<long long>(s.propagated),
      100.0 * s.coverage, static_cast<long long>(s.modules),
      static_cast<long long>(s.tags),
      std::string(hp::HierarchySourceName(result.source)).c_str());
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
                  "\nExample:\n  converter tag --model m.onnx --output "
                  "m.tagged.onnx   (reads m.trace.json beside m.onnx)\n");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Command> commands = {
      {"tag",
       "tag every node of --model with its module hierarchy; write --output",
       RunTag},
      {"strip", "remove everything hp wrote from --model; write --output",
       RunStrip},
      {"summary", "print a one-line summary of --model", RunSummary},
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
