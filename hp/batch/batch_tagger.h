// Tagging many models at once: a list of (model, trace, output) items in,
// one result per item out. Items run on parallel workers; a failed item is
// recorded (file and reason) and the others go on.
#ifndef HP_BATCH_BATCH_TAGGER_H_
#define HP_BATCH_BATCH_TAGGER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "hp/pipeline/tag_file.h"

namespace hp {

struct BatchItem {
  std::string model;
  std::string trace;  // "": without a trace
  std::string output;
};

struct BatchOptions {
  TagFileOptions tag_file;
  // Parallel workers; values below 1 mean one.
  int jobs = 1;
  bool overwrite_input = false;
};

struct BatchItemResult {
  BatchItem item;
  absl::Status status;  // OK, or why the item failed
  TagStatistics statistics;
  HierarchySource source = HierarchySource::kNodeNames;
  std::vector<std::string> warnings;  // TagFileResult::warnings
  uint64_t input_bytes = 0;
  double seconds = 0;
};

struct BatchResult {
  std::vector<BatchItemResult> items;  // in the order given
  int failed = 0;
  int jobs = 1;
  double seconds = 0;
};

// Called once per finished item, from one worker at a time, with the count
// of items finished so far (this one included).
using BatchProgress =
    std::function<void(const BatchItemResult& result, int done, int total)>;

// Tags every item; missing output folders are created. Failures are in the
// result, never an early stop.
BatchResult TagBatch(const std::vector<BatchItem>& items,
                     const BatchOptions& options,
                     const BatchProgress& progress = nullptr);

// The --summary_json document: totals, then one object per item with its
// status, counts, error and seconds.
std::string BatchSummaryJson(const BatchResult& result);

}  // namespace hp

#endif  // HP_BATCH_BATCH_TAGGER_H_
