// `transfer` on files: a model hp tagged and a model derived from it
// (optimized, fused, converted to another opset) in; the derived model
// with hp's tags on every node out, written atomically, nothing else of it
// changed. Both are read through the splice path, so models past 2 GB
// transfer too. Part of the public API (hp/hp.h).
//
//   hp::TransferFileRequest request;
//   request.from_path = "bert.tagged.onnx";
//   request.model_path = "bert.optimized.onnx";
//   request.output_path = "bert.optimized.tagged.onnx";
//   absl::StatusOr<hp::TransferFileResult> done = hp::TransferFile(request);
#ifndef HP_TRANSFER_TRANSFER_FILE_H_
#define HP_TRANSFER_TRANSFER_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "hp/transfer/transfer_rule.h"

namespace hp {

struct TransferFileRequest {
  std::string from_path;   // the model hp tagged
  std::string model_path;  // the model derived from it
  std::string output_path;
  // Writing onto model_path itself is refused unless this is set.
  bool overwrite_input = false;
  // Metadata format: also write `namespace`; replace one a node has.
  bool write_namespace = true;
  bool overwrite_namespace = false;
  Durability durability = Durability::kFsync;
  // The side files of the derived model's external data, for an output in
  // another folder (hp/io/external_data.h).
  ExternalDataPolicy external_data;
  // Fill TransferFileResult::nodes.
  bool list_nodes = false;
};

// One derived node as transferred.
struct TransferredNode {
  std::string graph_path;
  std::string name;
  std::string op_type;
  MatchKind kind = MatchKind::kUnplaced;
  std::string tag;
  std::string module_path;
  // The original nodes it was matched with (kept: one; replacing: those
  // it replaced), by name.
  std::vector<std::string> sources;
};

struct TransferFileResult {
  TransferStatistics statistics;
  std::string root_tag;
  std::vector<TransferredNode> nodes;  // with list_nodes
  ExternalDataCounts external_data;
};

// Errors name the file: FailedPrecondition when `from_path` carries no
// tags of hp; InvalidArgument when the derived model has a graph input the
// tagged one lacks, shares no graph input, output or initializer name with
// it, or has no node that keeps or replaces one of it (not derived from
// it); the readers' errors otherwise.
absl::StatusOr<TransferFileResult> TransferFile(
    const TransferFileRequest& request);

}  // namespace hp

#endif  // HP_TRANSFER_TRANSFER_FILE_H_
