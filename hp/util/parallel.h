// Splitting a loop over many graph nodes across the machine's cores.
#ifndef HP_UTIL_PARALLEL_H_
#define HP_UTIL_PARALLEL_H_

#include <algorithm>
#include <atomic>
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

// How ForSlices splits [0, count): into SliceCount slices of at least
// `min_slice` items, one per hardware thread (at most 8), at least one;
// slice t of them starts at SliceBegin(count, slices, t) (t == slices:
// count).
inline size_t SliceCount(size_t count, size_t min_slice) {
  constexpr size_t kMaxThreads = 8;
  return std::max<size_t>(std::min({HardwareThreads(), kMaxThreads,
                                    count / std::max<size_t>(min_slice, 1)}),
                          1);
}
inline size_t SliceBegin(size_t count, size_t slices, size_t t) {
  return count * t / slices;
}

// Runs work(begin, end) over [0, count) in the slices of SliceCount, the
// first on the calling thread; returns when all are done. Fewer than
// 2 * min_slice items run on the calling thread alone. `work` must be safe
// to run on disjoint slices at once.
template <typename Work>
void ForSlices(size_t count, size_t min_slice, const Work& work) {
  const size_t slices = SliceCount(count, min_slice);
  if (slices == 1) {
    work(size_t{0}, count);
    return;
  }
  std::vector<std::thread> workers;
  for (size_t t = 1; t < slices; ++t) {
    workers.emplace_back([&work, count, slices, t] {
      work(SliceBegin(count, slices, t), SliceBegin(count, slices, t + 1));
    });
  }
  work(size_t{0}, SliceBegin(count, slices, 1));
  for (std::thread& worker : workers) worker.join();
}

// ForSlices for loops that run beside other threads (a trace parsed, a
// digest hashed): [0, count) is cut into `pieces_per_thread` pieces per
// thread, handed out in order as threads come free, so a core shared with
// another thread takes fewer of them rather than holding up the rest.
// `work(begin, end)` is called once per piece, on any thread; on one
// hardware thread, once for all of [0, count).
template <typename Work>
void ForPieces(size_t count, size_t min_piece, size_t pieces_per_thread,
               const Work& work) {
  const size_t threads = SliceCount(count, min_piece);
  if (threads == 1) {
    work(size_t{0}, count);
    return;
  }
  const size_t pieces =
      std::max(threads, std::min(threads * pieces_per_thread,
                                 count / std::max<size_t>(min_piece, 1)));
  std::atomic<size_t> next{0};
  auto take_pieces = [&] {
    for (size_t piece = next++; piece < pieces; piece = next++) {
      work(SliceBegin(count, pieces, piece),
           SliceBegin(count, pieces, piece + 1));
    }
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(take_pieces);
  take_pieces();
  for (std::thread& worker : workers) worker.join();
}

}  // namespace hp

#endif  // HP_UTIL_PARALLEL_H_
