// `extract` on files: a model hp tagged in; one module instance (its
// subtree) as a model of its own out, or every module instance at one
// depth, each written atomically. The input is read through the splice
// path: weights are copied byte for byte from its records, never parsed,
// so modules of models past 2 GB extract too. Part of the public API
// (hp/hp.h).
//
//   hp::ExtractFileRequest request;
//   request.model_path = "bert.tagged.onnx";
//   request.module_path = "encoder.layer.3";
//   request.output_path = "layer3.onnx";
//   absl::StatusOr<hp::ExtractFileResult> done = hp::ExtractFile(request);
#ifndef HP_EXTRACT_EXTRACT_FILE_H_
#define HP_EXTRACT_EXTRACT_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"

namespace hp {

struct ExtractFileRequest {
  std::string model_path;  // a model hp tagged
  // One module instance, by tag ("/BertModel/BertEncoder/BertLayer.3") or
  // by dotted module path ("encoder.layer.3"): exactly one of the two.
  std::string module_tag;
  std::string module_path;
  std::string output_path;
  // Instead: every module instance at this depth of the module tree (the
  // root is depth 0), one model each, into `output_dir` (created if
  // missing), named after the tag ("/M/Encoder/Layer.0" ->
  // "M.Encoder.Layer.0.onnx").
  int depth = -1;
  std::string output_dir;
  // With `depth`: also write the nodes in none of those modules as one
  // model, remainder.onnx.
  bool write_remainder = false;
  Durability durability = Durability::kFsync;
  // The side files of external data the extracted initializers use, for an
  // output in another folder (hp/io/external_data.h).
  ExternalDataPolicy external_data;
};

// One model written.
struct ExtractedModel {
  std::string tag;          // "" for the remainder
  std::string module_path;  // when known
  std::string output_path;
  int64_t nodes = 0;  // main-graph nodes
  int64_t initializers = 0;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  ExternalDataCounts external_data;
};

// A main-graph node in none of the modules extracted (depth only).
struct RemainderNode {
  int64_t position = 0;  // in the main graph
  std::string name;
  std::string op_type;
  std::string tag;
};

struct ExtractFileResult {
  std::vector<ExtractedModel> models;
  std::vector<RemainderNode> remainder;
  int64_t source_nodes = 0;  // main-graph nodes of the input
};

// Errors name the file (and the node or module): FailedPrecondition when
// hp never tagged the model; NotFound for an unknown tag or module path
// (listing the nearest); InvalidArgument for a module without nodes, a
// boundary tensor whose type cannot be inferred (naming the node that
// computes it), output = input, or a request that names both or neither
// of tag and path; the readers' and writers' errors otherwise. Nothing is
// written unless everything succeeds.
absl::StatusOr<ExtractFileResult> ExtractFile(
    const ExtractFileRequest& request);

// The file name a module instance at a depth is written to.
std::string ExtractedFileName(const std::string& tag);

}  // namespace hp

#endif  // HP_EXTRACT_EXTRACT_FILE_H_
