// Progress of a batch on a terminal or in a log: a redrawn bar, or one plain
// line per finished model. Failures and warnings are always printed in full,
// naming the file.
#ifndef HP_BATCH_PROGRESS_H_
#define HP_BATCH_PROGRESS_H_

#include <ostream>
#include <string>

#include "hp/batch/batch_tagger.h"

namespace hp {

enum class ProgressStyle {
  kBar,    // one line redrawn with '\r' (for a terminal)
  kLines,  // a line per model (for logs and pipes)
  kNone,   // failures and warnings only
};

class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, ProgressStyle style)
      : out_(out), style_(style) {}

  // Matches BatchProgress; calls come one at a time.
  void Report(const BatchItemResult& result, int done, int total);
  // Ends the bar's line.
  void Finish();

 private:
  void ClearBar();

  std::ostream& out_;
  ProgressStyle style_;
  bool bar_shown_ = false;
  int failed_ = 0;
};

// "FAILED <model>: <reason>", without repeating the model's path when the
// reason starts with it.
std::string FailureLine(const BatchItemResult& result);

}  // namespace hp

#endif  // HP_BATCH_PROGRESS_H_
