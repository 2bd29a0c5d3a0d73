// Fuzz target: `transfer` end to end (TransferFile: both models through the
// splice path, the derived-model check, the rule, the writer, commit) on a
// (tagged model, derived model) pair.
//
// Input layout: one byte of options, a 4-byte little-endian length of the
// tagged model, its bytes, then the derived model's bytes.
//   options bit 0: list_nodes (TransferFileResult::nodes filled)
//          bit 1: no `namespace`    bit 2: overwrite `namespace`
// Both models and the output share one scratch folder: no external data is
// placed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "fuzz/support.h"
#include "hp/transfer/transfer_file.h"

namespace {

volatile size_t sink = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hp::fuzz::QuietProtobufLogs();
  const std::optional<hp::fuzz::FilePair> pair =
      hp::fuzz::SplitFilePair(data, size);
  if (!pair.has_value()) return 0;
  const uint8_t flags = pair->flags;

  hp::TransferFileRequest request;
  request.from_path =
      hp::fuzz::WriteScratchFile("tagged.onnx", pair->first, pair->first_size);
  request.model_path = hp::fuzz::WriteScratchFile("derived.onnx", pair->second,
                                                  pair->second_size);
  request.output_path = hp::fuzz::ScratchDir() + "/transferred.onnx";
  request.list_nodes = (flags & 1) != 0;
  request.write_namespace = (flags & 2) == 0;
  request.overwrite_namespace = (flags & 4) != 0;
  request.durability = hp::Durability::kNoFsync;

  absl::StatusOr<hp::TransferFileResult> result = hp::TransferFile(request);
  if (!result.ok()) return 0;  // a refused pair is a normal outcome
  size_t seen = result->statistics.nodes + result->root_tag.size();
  for (const hp::TransferredNode& node : result->nodes) {
    seen += node.tag.size() + node.module_path.size() + node.sources.size();
  }
  sink = seen;
  return 0;
}
