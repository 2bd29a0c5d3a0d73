// Profile files read ahead of their use: profile_reader's events, parsed on
// a thread of their own while the caller does other work (opening the
// model they are attributed to), then handed over in file order. A large
// profile takes as long to parse as the model takes to open; read one
// after the other, `profile` took their sum.
#ifndef HP_PROFILE_PROFILE_READ_AHEAD_H_
#define HP_PROFILE_PROFILE_READ_AHEAD_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "hp/profile/profile_reader.h"

namespace hp {

// Reads `paths` one after another, as ReadProfileFile does, starting at
// construction. Events wait in memory until visited, at most about
// `max_bytes` of them (about 90 bytes an event for onnxruntime's node
// events), after which the reading waits for the visits: memory stays
// bounded however large the files.
//
// An event keeps what `profile` reads of it: its index, byte offset,
// category, name and dur. Its phase, op_name and provider are visited
// empty and its ts as -1: a large profile's events wait here whole while
// the model opens, and those copies were nearly half of their memory.
class ProfileReadAhead {
 public:
  // Room for nearly three million node events: a million-node graph's
  // one-run profile (389 MB of JSON) is read whole while its model opens.
  static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

  explicit ProfileReadAhead(std::vector<std::string> paths,
                            size_t max_bytes = kDefaultMaxBytes);
  ProfileReadAhead(const ProfileReadAhead&) = delete;
  ProfileReadAhead& operator=(const ProfileReadAhead&) = delete;
  // Stops the reading (mid-file, if the files were not all visited) and
  // waits for its thread.
  ~ProfileReadAhead();

  const std::vector<std::string>& paths() const { return paths_; }

  // Visits the events of the next file in order, as ReadProfileFile
  // would (with the fields above), and returns what it would: the file's error
  // after the events read before it, or the visitor's first error. Once a file
  // failed, or past the last one, FailedPrecondition.
  absl::Status VisitNext(ProfileEventVisitor visit);

 private:
  // An event's fields; its name is a range of its batch's text.
  struct StoredEvent {
    int64_t index;
    uint64_t byte_offset;
    int64_t dur;
    size_t name_at;
    size_t name_size;
    uint32_t category;  // in the batch's categories
    bool dur_invalid;
  };
  // Consecutive events of one file; the last batch of a file ends it,
  // with the file's Status.
  struct Batch {
    std::vector<StoredEvent> events;
    std::string text;  // the events' names, in a row
    // The events' categories, each kept once (a profile has a few).
    std::vector<std::string> categories;
    bool ends_file = false;
    absl::Status status;
    size_t bytes() const {
      size_t total = text.size() + events.size() * sizeof(StoredEvent);
      for (const std::string& category : categories) total += category.size();
      return total;
    }
    // The id of `category` in categories, added when new.
    uint32_t CategoryId(absl::string_view category);
  };

  // The reading thread's work, and its hand-over of a batch: it waits
  // while the events waiting hold max_bytes_ (unless none wait). False
  // once the reading is stopped.
  void ReadAll();
  bool Hand(Batch batch);

  const std::vector<std::string> paths_;
  const size_t max_bytes_;
  size_t next_file_ = 0;  // the file VisitNext visits next
  bool failed_ = false;   // a file's visit failed: no more visits

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> waiting_;  // guarded by mutex_
  size_t waiting_bytes_ = 0;   // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  // Declared last: started once the members above exist, and joined
  // before they go.
  std::thread reader_;
};

}  // namespace hp

#endif  // HP_PROFILE_PROFILE_READ_AHEAD_H_
