// Where a batch's items come from: a folder of models, a list file or a JSON
// manifest in; (model, trace, output) items out, checked before any work
// starts (a model listed twice, two models written to one output).
#ifndef HP_BATCH_BATCH_INPUTS_H_
#define HP_BATCH_BATCH_INPUTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/batch/batch_tagger.h"

namespace hp {

struct BatchLayout {
  // Outputs go here under the models' relative names; "" only with in_place.
  std::string output_dir;
  // Write every output onto its model.
  bool in_place = false;
  // Tag without traces, instead of looking for <stem>.trace.json beside
  // each model (DefaultTracePath).
  bool no_traces = false;
};

// Every *.onnx file in `folder` (and below it when `recursive`, skipping the
// output folder), sorted by path; outputs keep the path relative to
// `folder`.
absl::StatusOr<std::vector<BatchItem>> ItemsFromFolder(
    const std::string& folder, bool recursive, const BatchLayout& layout);

// One model path per line; blank lines and lines starting with '#' are
// skipped; relative paths are relative to the list's folder. Outputs keep
// each model's path relative to the list's common folder: the list's own
// folder when every listed model lies below it (all relative entries that
// do not climb out with '..', or absolute ones pointing below it), else the
// deepest folder that holds every listed model. Decided lexically on
// absolute paths (relative ones made absolute against the working folder;
// links are not followed), so `/data/test_abs/model.onnx` and
// `/data/test_acos/model.onnx` become `test_abs/model.onnx` and
// `test_acos/model.onnx`, and one absolute entry keeps its file name. A
// model listed twice (also through another spelling or a link) is refused,
// naming both lines.
absl::StatusOr<std::vector<BatchItem>> ItemsFromList(
    const std::string& list_path, const BatchLayout& layout);

// A JSON object {"models": [{"model": PATH, "trace": PATH or null,
// "output": PATH}, ...]}. Paths are relative to the manifest's folder, except
// "output", which is relative to layout.output_dir when one is given.
// "trace" left out: the default lookup (or none with no_traces); null or
// "none": no trace. "output" left out: named as a list names its models,
// relative to the common folder of the entries without an "output".
absl::StatusOr<std::vector<BatchItem>> ItemsFromManifest(
    const std::string& manifest_path, const BatchLayout& layout);

}  // namespace hp

#endif  // HP_BATCH_BATCH_INPUTS_H_
