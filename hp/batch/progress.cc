#include "hp/batch/progress.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace hp {
namespace {

constexpr int kBarWidth = 30;

}  // namespace

std::string FailureLine(const BatchItemResult& result) {
  absl::string_view reason = result.status.message();
  const std::string own_prefix = absl::StrCat(result.item.model, ": ");
  absl::ConsumePrefix(&reason, own_prefix);
  return absl::StrCat("FAILED ", result.item.model, ": ", reason);
}

void ProgressPrinter::ClearBar() {
  if (!bar_shown_) return;
  out_ << "\r\033[K";
  bar_shown_ = false;
}

void ProgressPrinter::Report(const BatchItemResult& result, int done,
                             int total) {
  if (!result.status.ok()) ++failed_;
  ClearBar();
  const std::string counter = absl::StrCat("[", done, "/", total, "] ");
  if (!result.status.ok()) {
    out_ << (style_ == ProgressStyle::kLines ? counter : "")
         << FailureLine(result) << "\n";
  } else if (style_ == ProgressStyle::kLines) {
    out_ << absl::StrFormat("%sok %s -> %s (%d nodes, %.2f s)\n", counter,
                            result.item.model, result.item.output,
                            result.statistics.nodes, result.seconds);
  }
  for (const std::string& warning : result.warnings) {
    out_ << "warning: " << warning << "\n";
  }
  if (style_ == ProgressStyle::kBar) {
    const int filled = total == 0 ? kBarWidth : kBarWidth * done / total;
    const std::string failed =
        failed_ > 0 ? absl::StrCat(", ", failed_, " failed") : "";
    out_ << absl::StrFormat("\r[%s%s] %d/%d done%s", std::string(filled, '#'),
                            std::string(kBarWidth - filled, '.'), done, total,
                            failed);
    bar_shown_ = true;
  }
  out_.flush();
}

void ProgressPrinter::Finish() {
  if (bar_shown_) out_ << "\n";
  bar_shown_ = false;
  out_.flush();
}

}  // namespace hp
