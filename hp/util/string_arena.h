// Strings copied into large blocks that never move, each handed back as a
// view that stays valid as long as the arena (moves included): a table of
// 100k+ short strings without a string header and an allocation each.
#ifndef HP_UTIL_STRING_ARENA_H_
#define HP_UTIL_STRING_ARENA_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace hp {

class StringArena {
 public:
  StringArena() = default;
  // Blocks of `block_bytes` (at least): 4 MB or more for tens of megabytes
  // of strings, so that they fill huge pages (hp/util/huge_page_allocations).
  explicit StringArena(size_t block_bytes) : block_bytes_(block_bytes) {}
  StringArena(StringArena&& other) noexcept { *this = std::move(other); }
  StringArena& operator=(StringArena&& other) noexcept {
    block_bytes_ = other.block_bytes_;
    blocks_ = std::move(other.blocks_);
    stored_once_ = std::move(other.stored_once_);
    next_ = std::exchange(other.next_, nullptr);
    left_ = std::exchange(other.left_, 0);
    return *this;
  }
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  // A copy of `text` kept by the arena.
  absl::string_view Store(absl::string_view text) {
    if (text.empty()) return absl::string_view();
    if (text.size() > left_) {
      const size_t size = std::max(text.size(), block_bytes_);
      // Not zero-filled: every byte handed out is copied over first.
      blocks_.push_back(std::unique_ptr<char[]>(new char[size]));
      next_ = blocks_.back().get();
      left_ = size;
    }
    std::memcpy(next_, text.data(), text.size());
    const absl::string_view stored(next_, text.size());
    next_ += text.size();
    left_ -= text.size();
    return stored;
  }

  // One copy of `text` however often it is stored: for strings that repeat
  // (class names). Each distinct one is remembered, so not for unique ones.
  absl::string_view StoreOnce(absl::string_view text) {
    auto it = stored_once_.find(text);
    if (it != stored_once_.end()) return *it;
    const absl::string_view stored = Store(text);
    stored_once_.insert(stored);
    return stored;
  }

 private:
  size_t block_bytes_ = size_t{64} << 10;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;  // free space of the last block
  size_t left_ = 0;
  absl::flat_hash_set<absl::string_view> stored_once_;
};

}  // namespace hp

#endif  // HP_UTIL_STRING_ARENA_H_
