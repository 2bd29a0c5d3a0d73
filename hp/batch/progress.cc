#include "hp/batch/progress.h"

#include "absl/strings/str_cat.h"
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
  std::fprintf(out_, "\r\033[K");
  bar_shown_ = false;
}

void ProgressPrinter::Report(const BatchItemResult& result, int done,
                             int total) {
  if (!result.status.ok()) ++failed_;
  ClearBar();
  const std::string counter = absl::StrCat("[", done, "/", total, "] ");
  if (!result.status.ok()) {
    std::fprintf(out_, "%s%s\n",
                 style_ == ProgressStyle::kLines ? counter.c_str() : "",
                 FailureLine(result).c_str());
  } else if (style_ == ProgressStyle::kLines) {
    std::fprintf(out_, "%sok %s -> %s (%lld nodes, %.2f s)\n", counter.c_str(),
                 result.item.model.c_str(), result.item.output.c_str(),
                 static_cast<long long>(result.statistics.nodes),
                 result.seconds);
  }
  for (const std::string& warning : result.warnings) {
    std::fprintf(out_, "warning: %s\n", warning.c_str());
  }
  if (style_ == ProgressStyle::kBar) {
    const int filled = total == 0 ? kBarWidth : kBarWidth * done / total;
    const std::string failed =
        failed_ > 0 ? absl::StrCat(", ", failed_, " failed") : "";
    std::fprintf(out_, "\r[%s%s] %d/%d done%s",
                 std::string(filled, '#').c_str(),
                 std::string(kBarWidth - filled, '.').c_str(), done, total,
                 failed.c_str());
    bar_shown_ = true;
  }
  std::fflush(out_);
}

void ProgressPrinter::Finish() {
  if (bar_shown_) std::fprintf(out_, "\n");
  bar_shown_ = false;
  std::fflush(out_);
}

}  // namespace hp
