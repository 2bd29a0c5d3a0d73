#include "hp/commands/transfer.h"

#include "absl/strings/str_cat.h"
#include "hp/tag/tag_codec.h"
#include "hp/transfer/transfer_file.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

nlohmann::ordered_json CountsJson(const TransferStatistics& statistics) {
  nlohmann::ordered_json counts = nlohmann::ordered_json::object();
  counts["nodes"] = statistics.nodes;
  for (MatchKind kind : kTransferMatchKinds) {
    counts[std::string(MatchKindName(kind))] = statistics.Count(kind);
  }
  return counts;
}

}  // namespace

absl::Status RunTransfer(const TransferArgs& args, std::ostream& out,
                         std::ostream& /*err*/) {
  TransferFileRequest request;
  HP_ASSIGN_OR_RETURN(request.from_path, RequiredFlag(args.from, "from"));
  HP_ASSIGN_OR_RETURN(request.model_path, RequiredFlag(args.model, "model"));
  HP_ASSIGN_OR_RETURN(auto target,
                      OutputTarget(request.model_path, args.output));
  request.output_path = target.first;
  request.overwrite_input = target.second.overwrite_input;
  HP_ASSIGN_OR_RETURN(request.external_data, args.output.external_data);
  request.write_namespace = args.write_namespace;
  request.overwrite_namespace = args.overwrite_namespace;
  request.durability = args.durability;
  request.list_nodes = args.json;
  HP_ASSIGN_OR_RETURN(TransferFileResult result, TransferFile(request));
  const TransferStatistics& counts = result.statistics;
  const std::string placed_line =
      ExternalDataSummary(result.external_data, request.output_path);
  if (args.json) {
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    json["from"] = request.from_path;
    json["model"] = request.model_path;
    json["output"] = request.output_path;
    json["root_tag"] = result.root_tag;
    json["counts"] = CountsJson(counts);
    nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
    for (const TransferredNode& node : result.nodes) {
      nlohmann::ordered_json item = nlohmann::ordered_json::object();
      item["graph"] = node.graph_path;
      item["name"] = node.name;
      item["op_type"] = node.op_type;
      item["match"] = std::string(MatchKindName(node.kind));
      item["tag"] = node.tag;
      item["module_path"] = node.module_path;
      item["from"] = node.sources;
      nodes.push_back(std::move(item));
    }
    json["nodes"] = std::move(nodes);
    out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
    return absl::OkStatus();
  }
  out << "transferred " << request.from_path << " onto " << request.model_path
      << " -> " << request.output_path << ": " << counts.nodes << " nodes ("
      << counts.Count(MatchKind::kKept) << " kept, "
      << counts.Count(MatchKind::kReplacing) << " replacing, "
      << counts.Count(MatchKind::kInserted) << " inserted, "
      << counts.Count(MatchKind::kUnplaced) << " unplaced)\n";
  if (!placed_line.empty()) out << placed_line << "\n";
  return absl::OkStatus();
}

}  // namespace hp
