#include "hp/io/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace hp {

// A registered path. Slots live as long as the process: the handler may
// read any of them at any moment, so none is ever freed, only reused. Its
// state says who may touch its path: a slot is rewritten only while
// claimed from kFree, and the handler reads only the ones it takes from
// kLive to kRemoving, which no registration can claim again.
struct RemovedIfStopped::Slot {
  static constexpr int kFree = 0;
  static constexpr int kClaimed = 1;
  static constexpr int kLive = 2;
  static constexpr int kRemoving = 3;

  std::atomic<int> state{kClaimed};
  Kind kind = Kind::kFile;
  char* path = nullptr;
  size_t capacity = 0;
  Slot* next = nullptr;
};

namespace {

using Slot = RemovedIfStopped::Slot;

// Newest first. Lock-free: the handler walks it, never waiting for a lock
// that the thread it interrupted might hold.
std::atomic<Slot*> slots{nullptr};

constexpr size_t kSlotBytes = 256;  // most paths fit: slots get reused

// A free slot that fits `path`, else a new one (`*made`); either claimed.
Slot* Claim(const std::string& path, bool* made) {
  const size_t needed = path.size() + 1;
  for (Slot* slot = slots.load(std::memory_order_acquire); slot != nullptr;
       slot = slot->next) {
    int free = Slot::kFree;
    if (slot->capacity >= needed &&
        slot->state.compare_exchange_strong(free, Slot::kClaimed)) {
      *made = false;
      return slot;
    }
  }
  Slot* slot = new Slot;  // claimed as made
  slot->capacity = std::max(needed, kSlotBytes);
  slot->path = new char[slot->capacity];
  *made = true;
  return slot;
}

// Puts a new slot at the head of the list.
void Publish(Slot* slot) {
  Slot* head = slots.load(std::memory_order_relaxed);
  do {
    slot->next = head;
  } while (!slots.compare_exchange_weak(head, slot, std::memory_order_release,
                                        std::memory_order_relaxed));
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Async-signal-safe throughout: atomics that are lock-free, unlink, rmdir,
// sigaction and raise.
void OnStopSignal(int signal) {
  Slot* const head = slots.load(std::memory_order_acquire);
  for (Slot* slot = head; slot != nullptr; slot = slot->next) {
    int live = Slot::kLive;
    if (!slot->state.compare_exchange_strong(live, Slot::kRemoving)) continue;
    if (slot->kind == RemovedIfStopped::Kind::kFile) ::unlink(slot->path);
  }
  // Folders once their files are gone, nested ones before their parents:
  // a folder still holding another is tried again on the next round.
  for (int round = 0; round < 16; ++round) {
    for (Slot* slot = head; slot != nullptr; slot = slot->next) {
      if (slot->kind == RemovedIfStopped::Kind::kFolder &&
          slot->state.load() == Slot::kRemoving) {
        ::rmdir(slot->path);
      }
    }
  }
  // The default action again, and the signal once more: it is blocked
  // while this handler runs, and ends the process as soon as it returns.
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(signal, &action, nullptr);
  ::raise(signal);
}

}  // namespace

RemovedIfStopped::RemovedIfStopped(const std::string& path, Kind kind) {
  static_assert(std::atomic<int>::is_always_lock_free &&
                    std::atomic<Slot*>::is_always_lock_free,
                "the signal handler needs lock-free atomics");
  bool made = false;
  Slot* slot = Claim(path, &made);
  std::memcpy(slot->path, path.c_str(), path.size() + 1);
  slot->kind = kind;
  slot->state.store(Slot::kLive, std::memory_order_release);
  if (made) Publish(slot);
  slot_ = slot;
}

RemovedIfStopped::RemovedIfStopped(RemovedIfStopped&& other) noexcept
    : slot_(other.slot_) {
  other.slot_ = nullptr;
}

RemovedIfStopped& RemovedIfStopped::operator=(
    RemovedIfStopped&& other) noexcept {
  if (this != &other) {
    Release();
    slot_ = other.slot_;
    other.slot_ = nullptr;
  }
  return *this;
}

void RemovedIfStopped::Release() {
  if (slot_ == nullptr) return;
  // Fails only when the handler has taken the slot: then it is its.
  int live = Slot::kLive;
  slot_->state.compare_exchange_strong(live, Slot::kFree);
  slot_ = nullptr;
}

void RemoveRegisteredOnStopSignals() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    for (const int signal : kStopSignals) {
      struct sigaction current = {};
      if (::sigaction(signal, nullptr, &current) != 0) continue;
      if ((current.sa_flags & SA_SIGINFO) != 0 ||
          current.sa_handler != SIG_DFL) {
        continue;
      }
      struct sigaction action = {};
      action.sa_handler = OnStopSignal;
      // The other stop signals wait while one is handled.
      ::sigemptyset(&action.sa_mask);
      for (const int other : kStopSignals) ::sigaddset(&action.sa_mask, other);
      action.sa_flags = SA_RESTART;
      ::sigaction(signal, &action, nullptr);
    }
  });
}

}  // namespace hp
