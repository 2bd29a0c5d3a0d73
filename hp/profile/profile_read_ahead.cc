#include "hp/profile/profile_read_ahead.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace hp {
namespace {

// A batch is handed over once it holds this much text or this many
// events: small enough that the visits start soon after the reading,
// large enough that handing over costs nothing next to parsing.
constexpr size_t kBatchTextBytes = size_t{1} << 20;
constexpr size_t kBatchEvents = 8192;

}  // namespace

ProfileReadAhead::ProfileReadAhead(std::vector<std::string> paths,
                                   size_t max_bytes)
    : paths_(std::move(paths)), max_bytes_(max_bytes) {
  reader_ = std::thread([this] { ReadAll(); });
}

ProfileReadAhead::~ProfileReadAhead() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  reader_.join();
}

void ProfileReadAhead::ReadAll() {
  for (const std::string& path : paths_) {
    Batch batch;
    bool stopped = false;
    absl::Status status = ReadProfileFile(path, [&](const ProfileEvent& event) {
      StoredEvent stored;
      stored.index = event.index;
      stored.byte_offset = event.byte_offset;
      stored.dur = event.dur;
      stored.name_at = batch.text.size();
      stored.name_size = event.name.size();
      stored.category = batch.CategoryId(event.category);
      stored.dur_invalid = event.dur_invalid;
      batch.text.append(event.name.data(), event.name.size());
      batch.events.push_back(stored);
      if (batch.text.size() < kBatchTextBytes &&
          batch.events.size() < kBatchEvents) {
        return absl::OkStatus();
      }
      if (!Hand(std::exchange(batch, Batch()))) {
        stopped = true;
        return absl::CancelledError("profile reading stopped");
      }
      return absl::OkStatus();
    });
    if (stopped) return;
    batch.ends_file = true;
    const bool failed = !status.ok();
    batch.status = std::move(status);
    // After a file that failed, its visit is the last.
    if (!Hand(std::move(batch)) || failed) return;
  }
}

uint32_t ProfileReadAhead::Batch::CategoryId(absl::string_view category) {
  // The latest added first: events of one category mostly come in runs.
  // Past a few (a profile of many categories), a new one is added
  // unsearched.
  constexpr size_t kSearched = 16;
  const size_t count = categories.size();
  for (size_t back = 1; back <= count && back <= kSearched; ++back) {
    if (categories[count - back] == category) {
      return static_cast<uint32_t>(count - back);
    }
  }
  categories.emplace_back(category);
  return static_cast<uint32_t>(count);
}

bool ProfileReadAhead::Hand(Batch batch) {
  const size_t bytes = batch.bytes();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] {
    return stopping_ || waiting_.empty() ||
           waiting_bytes_ + bytes <= max_bytes_;
  });
  if (stopping_) return false;
  waiting_bytes_ += bytes;
  waiting_.push_back(std::move(batch));
  lock.unlock();
  changed_.notify_all();
  return true;
}

absl::Status ProfileReadAhead::VisitNext(ProfileEventVisitor visit) {
  if (failed_ || next_file_ >= paths_.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no profile file left to visit (", next_file_, " of ",
                     paths_.size(), failed_ ? ", the last one failed)" : ")"));
  }
  for (;;) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return !waiting_.empty(); });
      batch = std::move(waiting_.front());
      waiting_.pop_front();
      waiting_bytes_ -= batch.bytes();
    }
    changed_.notify_all();
    const absl::string_view text(batch.text);
    for (const StoredEvent& stored : batch.events) {
      ProfileEvent event;
      event.index = stored.index;
      event.byte_offset = stored.byte_offset;
      event.dur = stored.dur;
      event.dur_invalid = stored.dur_invalid;
      event.category = batch.categories[stored.category];
      event.name = text.substr(stored.name_at, stored.name_size);
      absl::Status visited = visit(event);
      if (!visited.ok()) {
        failed_ = true;
        return visited;
      }
    }
    if (!batch.ends_file) continue;
    ++next_file_;
    if (!batch.status.ok()) failed_ = true;
    return batch.status;
  }
}

}  // namespace hp
