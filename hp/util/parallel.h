// Splitting a loop over many graph nodes across the machine's cores.
#ifndef HP_UTIL_PARALLEL_H_
#define HP_UTIL_PARALLEL_H_

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace hp {

// Node loops split into slices of at least this many nodes: below it a
// thread costs more than it saves; above it the work (mostly allocation
// and page faults) takes about half the time on two cores.
inline constexpr size_t kNodesPerSlice = 10000;

// The machine's hardware threads, at least 1, counted once: each
// std::thread::hardware_concurrency() call reads /sys again.
inline size_t HardwareThreads() {
  static const size_t threads =
      std::max(1u, std::thread::hardware_concurrency());
  return threads;
}

// Runs work(begin, end) over [0, count) in contiguous slices of at least
// `min_slice` items, one per hardware thread (at most 8), the first slice on
// the calling thread; returns when all are done. Fewer than 2 * min_slice
// items run on the calling thread alone. `work` must be safe to run on
// disjoint slices at once.
template <typename Work>
void ForSlices(size_t count, size_t min_slice, const Work& work) {
  constexpr size_t kMaxThreads = 8;
  const size_t threads = std::min(
      {HardwareThreads(), kMaxThreads, count / std::max<size_t>(min_slice, 1)});
  if (threads <= 1) {
    work(size_t{0}, count);
    return;
  }
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) {
    workers.emplace_back([&work, count, threads, t] {
      work(count * t / threads, count * (t + 1) / threads);
    });
  }
  work(size_t{0}, count / threads);
  for (std::thread& worker : workers) worker.join();
}

}  // namespace hp

#endif  // HP_UTIL_PARALLEL_H_
