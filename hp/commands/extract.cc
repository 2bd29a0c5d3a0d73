#include "hp/commands/extract.h"

#include "absl/strings/str_cat.h"
#include "hp/commands/command_args.h"
#include "hp/extract/extract_file.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {

absl::Status RunExtract(const ExtractArgs& args, std::ostream& out,
                        std::ostream& /*err*/) {
  ExtractFileRequest request;
  HP_ASSIGN_OR_RETURN(request.model_path, RequiredFlag(args.model, "model"));
  if (args.all) {
    if (!args.module.empty() || !args.module_path.empty()) {
      return absl::InvalidArgumentError(
          "--all extracts every module at --depth: leave out --module and "
          "--module_path");
    }
    if (args.depth < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--depth must be 0 (the root) or more, not ", args.depth));
    }
    HP_ASSIGN_OR_RETURN(request.output_dir,
                        RequiredFlag(args.output_dir, "output_dir"));
    request.depth = args.depth;
    request.write_remainder = args.remainder;
  } else {
    if (args.module.empty() == args.module_path.empty()) {
      return absl::InvalidArgumentError(
          "name the module with --module TAG or --module_path PATH (one of "
          "the two), or pass --all --depth N");
    }
    if (args.remainder) {
      return absl::InvalidArgumentError("--remainder needs --all");
    }
    HP_ASSIGN_OR_RETURN(request.output_path,
                        RequiredOutput(args.output, "output"));
    request.module_tag = args.module;
    request.module_path = args.module_path;
  }
  HP_ASSIGN_OR_RETURN(request.external_data, args.external_data);
  request.durability = args.durability;
  HP_ASSIGN_OR_RETURN(ExtractFileResult result, ExtractFile(request));

  if (args.json) {
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    json["model"] = request.model_path;
    json["source_nodes"] = result.source_nodes;
    nlohmann::ordered_json models = nlohmann::ordered_json::array();
    for (const ExtractedModel& model : result.models) {
      nlohmann::ordered_json item = nlohmann::ordered_json::object();
      item["tag"] = model.tag;
      item["module_path"] = model.module_path;
      item["output"] = model.output_path;
      item["nodes"] = model.nodes;
      item["initializers"] = model.initializers;
      item["inputs"] = model.inputs;
      item["outputs"] = model.outputs;
      models.push_back(std::move(item));
    }
    json["models"] = std::move(models);
    if (args.all) {
      nlohmann::ordered_json remainder = nlohmann::ordered_json::array();
      for (const RemainderNode& node : result.remainder) {
        nlohmann::ordered_json item = nlohmann::ordered_json::object();
        item["position"] = node.position;
        item["name"] = node.name;
        item["op_type"] = node.op_type;
        item["tag"] = node.tag;
        remainder.push_back(std::move(item));
      }
      json["remainder"] = std::move(remainder);
    }
    out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
    return absl::OkStatus();
  }
  for (const ExtractedModel& model : result.models) {
    out << "extracted "
        << (model.tag.empty() ? std::string("the remainder") : model.tag)
        << " -> " << model.output_path << ": " << model.nodes << " of "
        << result.source_nodes << " nodes, " << model.initializers
        << " initializers, " << model.inputs.size() << " inputs, "
        << model.outputs.size() << " outputs\n";
    const std::string placed =
        ExternalDataSummary(model.external_data, model.output_path);
    if (!placed.empty()) out << placed << "\n";
  }
  if (args.all && !args.remainder) {
    out << result.remainder.size() << " nodes in no module at depth "
        << args.depth
        << (result.remainder.empty() ? "" : " (--remainder writes them)")
        << (result.remainder.empty() ? "\n" : ":\n");
    for (const RemainderNode& node : result.remainder) {
      out << "  node " << node.position << " (" << node.name << ", "
          << node.op_type << ") " << node.tag << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace hp
