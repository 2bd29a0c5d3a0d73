// Fuzz target: the whole `tag` pipeline (TagFile: splice path, trace
// reader, digest check, tagger, writer, commit) on a (model, trace) pair.
//
// Input layout: one byte of options, a 4-byte little-endian model length,
// the model's bytes, then the trace's bytes (none: tag without a trace).
//   options bit 0: keep_model (nodes parsed into messages and returned)
//          bit 1: --propagate      bit 2: --first_candidate
//          bit 3: --keep_torch_nn=all
//          bits 4-5: tag format (metadata, attribute, doc_string, metadata)
// A trace recorded for another model is tagged with a warning (as
// --trace_digest=warn), so that fuzzed pairs reach the tagger. Model, trace
// and output share one scratch folder: no external data is placed.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "fuzz/support.h"
#include "hp/pipeline/tag_file.h"

namespace {

volatile size_t sink = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hp::fuzz::QuietProtobufLogs();
  const std::optional<hp::fuzz::FilePair> pair =
      hp::fuzz::SplitFilePair(data, size);
  if (!pair.has_value()) return 0;
  const uint8_t flags = pair->flags;

  hp::TagFileRequest request;
  request.model_path =
      hp::fuzz::WriteScratchFile("model.onnx", pair->first, pair->first_size);
  if (pair->second_size > 0) {
    request.trace_path = hp::fuzz::WriteScratchFile(
        "model.trace.json", pair->second, pair->second_size);
  }
  request.output_path = hp::fuzz::ScratchDir() + "/tagged.onnx";
  request.keep_model = (flags & 1) != 0;

  hp::TagFileOptions options;
  options.tag.propagate = (flags & 2) != 0;
  options.tag.first_candidate = (flags & 4) != 0;
  options.tag.keep_all_torch_nn = (flags & 8) != 0;
  switch ((flags >> 4) & 3) {
    case 1:
      options.tag.format = hp::TagFormat::kAttribute;
      break;
    case 2:
      options.tag.format = hp::TagFormat::kDocString;
      break;
    default:
      options.tag.format = hp::TagFormat::kMetadata;
  }
  options.digest_policy.check = hp::DigestCheck::kWarn;
  options.durability = hp::Durability::kNoFsync;

  absl::StatusOr<hp::TagFileResult> result = hp::TagFile(request, options);
  if (!result.ok()) return 0;  // a refused pair is a normal outcome
  sink = result->output_bytes + result->tags.nodes.size() +
         result->warnings.size();
  return 0;
}
