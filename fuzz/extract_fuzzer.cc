// Fuzz target: `extract` end to end (ExtractFile: splice path, stored tags,
// module tree, type inference, the cut, the selection writer) on model
// bytes, every module at one depth.
//
// Input layout: one byte of options, then the model's bytes.
//   options bits 0-2: the depth     bit 3: --remainder
// Model and outputs share one scratch folder: no external data is placed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "fuzz/support.h"
#include "hp/extract/extract_file.h"

namespace {

volatile size_t sink = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hp::fuzz::QuietProtobufLogs();
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  hp::ExtractFileRequest request;
  request.model_path =
      hp::fuzz::WriteScratchFile("tagged.onnx", data + 1, size - 1);
  request.depth = flags & 7;
  request.write_remainder = (flags & 8) != 0;
  request.output_dir = hp::fuzz::ScratchDir() + "/extracted";
  request.durability = hp::Durability::kNoFsync;
  absl::StatusOr<hp::ExtractFileResult> result = hp::ExtractFile(request);
  if (!result.ok()) return 0;  // a refused model is a normal outcome
  for (const hp::ExtractedModel& model : result->models) {
    sink = sink + static_cast<size_t>(model.nodes) + model.inputs.size() +
           model.outputs.size();
  }
  sink = sink + result->remainder.size();
  return 0;
}
