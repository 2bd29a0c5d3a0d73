#include "hp/batch/batch_tagger.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "hp/tag/tag_codec.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

BatchItemResult TagOne(const BatchItem& item, const BatchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  BatchItemResult result;
  result.item = item;
  const std::filesystem::path folder =
      std::filesystem::path(item.output).parent_path();
  std::error_code error;
  if (!folder.empty() && !std::filesystem::is_directory(folder, error)) {
    std::filesystem::create_directories(folder, error);
    if (error) {
      result.status = absl::InternalError(absl::StrCat(
          folder.string(), ": cannot create output folder: ", error.message()));
    }
  }
  if (result.status.ok()) {
    TagFileRequest request;
    request.model_path = item.model;
    request.trace_path = item.trace;
    request.output_path = item.output;
    request.overwrite_input = options.overwrite_input;
    absl::StatusOr<TagFileResult> tagged = TagFile(request, options.tag_file);
    result.status = tagged.status();
    if (tagged.ok()) {
      result.statistics = tagged->tags.statistics;
      result.source = tagged->tags.source;
      result.warnings = std::move(tagged->warnings);
      result.input_bytes = tagged->input_bytes;
    }
  }
  result.seconds = SecondsSince(start);
  return result;
}

}  // namespace

BatchResult TagBatch(const std::vector<BatchItem>& items,
                     const BatchOptions& options,
                     const BatchProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  BatchResult batch;
  batch.items.resize(items.size());
  const int total = static_cast<int>(items.size());
  batch.jobs = std::max(1, std::min(options.jobs, total));

  // Workers take the next unclaimed item until none is left; each writes
  // only its own slot of batch.items. A std::mutex rather than absl::Mutex:
  // Debian's Abseil is built without ThreadSanitizer's annotations, so TSan
  // would not see what an absl::Mutex guards.
  std::atomic<int> next{0};
  std::mutex mutex;
  int done = 0;
  auto work = [&] {
    for (int i = next++; i < total; i = next++) {
      batch.items[i] = TagOne(items[i], options);
      std::lock_guard<std::mutex> lock(mutex);
      ++done;
      if (!batch.items[i].status.ok()) ++batch.failed;
      if (progress) progress(batch.items[i], done, total);
    }
  };
  std::vector<std::thread> workers;
  for (int j = 1; j < batch.jobs; ++j) workers.emplace_back(work);
  work();
  for (std::thread& worker : workers) worker.join();
  batch.seconds = SecondsSince(start);
  return batch;
}

std::string BatchSummaryJson(const BatchResult& result) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const BatchItemResult& item : result.items) {
    nlohmann::ordered_json file;
    file["model"] = item.item.model;
    file["trace"] = item.item.trace.empty()
                        ? nlohmann::ordered_json()
                        : nlohmann::ordered_json(item.item.trace);
    file["output"] = item.item.output;
    file["status"] = item.status.ok() ? "ok" : "failed";
    if (item.status.ok()) {
      file["source"] = std::string(HierarchySourceName(item.source));
      AddStatisticsJson(item.statistics, &file);
      file["bytes"] = item.input_bytes;
    } else {
      file["error"] = std::string(item.status.message());
    }
    file["warnings"] = item.warnings;
    file["seconds"] = item.seconds;
    files.push_back(std::move(file));
  }
  nlohmann::ordered_json summary;
  summary["models"] = result.items.size();
  summary["succeeded"] = static_cast<int>(result.items.size()) - result.failed;
  summary["failed"] = result.failed;
  summary["jobs"] = result.jobs;
  summary["seconds"] = result.seconds;
  summary["files"] = std::move(files);
  return summary.dump(2, ' ', false,
                      nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

}  // namespace hp
