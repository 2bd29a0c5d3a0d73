// The converter's global operator new: a block of 2 MB or more starts on a
// 2 MB boundary and is marked for transparent huge pages (madvise
// MADV_HUGEPAGE, the kernel's opt-in mode), so that filling it faults once
// per 2 MB instead of once per 4 KB. hp's large blocks (node lists, tensor
// indexes, per-node vectors, write buffers) are filled once, front to
// back; on virtual machines a page fault costs several microseconds, and
// 4 KB faults were a third of `tag`'s time on a million-node graph
// (docs/benchmarks.md).
//
// Blocks still come from malloc (posix_memalign) and go back with free:
// the advice covers the whole 2 MB pages from the block's start, its tail
// keeps 4 KB pages (a huge page there would be resident past the block's
// end). Sanitizer builds keep their own operator new.
#include "hp/util/huge_page_allocations.h"

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

#include "hp/util/sanitizers.h"

#ifdef HP_SANITIZED
bool hp::AllocationsAdviseHugePages() { return false; }
#else
bool hp::AllocationsAdviseHugePages() { return true; }

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kAdviseFrom = kHugePage;

void* Allocate(size_t size) noexcept {
  if (size < kAdviseFrom) return std::malloc(size == 0 ? 1 : size);
  // Aligned to a huge page, so that each whole 2 MB of the block can be one
  // (a million nodes' 4-byte vector, 4.0 MB, then holds one, where malloc's
  // alignment left it none).
  void* block = nullptr;
  if (posix_memalign(&block, kHugePage, size) != 0) return nullptr;
  // Advice only: a kernel without THP says EINVAL and nothing changes.
  madvise(block, size & ~(kHugePage - 1), MADV_HUGEPAGE);
  return block;
}

void* AllocateOrThrow(size_t size) {
  for (;;) {
    if (void* block = Allocate(size)) return block;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

}  // namespace

void* operator new(size_t size) { return AllocateOrThrow(size); }
void* operator new[](size_t size) { return AllocateOrThrow(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return Allocate(size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return Allocate(size);
}
void operator delete(void* block) noexcept { std::free(block); }
void operator delete[](void* block) noexcept { std::free(block); }
void operator delete(void* block, size_t) noexcept { std::free(block); }
void operator delete[](void* block, size_t) noexcept { std::free(block); }
void operator delete(void* block, const std::nothrow_t&) noexcept {
  std::free(block);
}
void operator delete[](void* block, const std::nothrow_t&) noexcept {
  std::free(block);
}
#endif  // HP_SANITIZED
