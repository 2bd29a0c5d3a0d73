// Where a batch's items come from: a folder of models, a list file or a JSON
// manifest in; (model, trace, output) items out, checked before any work
// starts (missing inputs, two models written to one output).
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
// skipped. Relative paths are relative to the list's folder and keep that
// relative name under the output folder; absolute ones (or ones that climb
// out with '..') keep their file name only.
absl::StatusOr<std::vector<BatchItem>> ItemsFromList(
    const std::string& list_path, const BatchLayout& layout);

// A JSON object {"models": [{"model": PATH, "trace": PATH or null,
// "output": PATH}, ...]}. Paths are relative to the manifest's folder, except
// "output", which is relative to layout.output_dir when one is given.
// "trace" left out: the default lookup (or none with no_traces); null or
// "none": no trace. "output" left out: as for a list.
absl::StatusOr<std::vector<BatchItem>> ItemsFromManifest(
    const std::string& manifest_path, const BatchLayout& layout);

}  // namespace hp

#endif  // HP_BATCH_BATCH_INPUTS_H_
