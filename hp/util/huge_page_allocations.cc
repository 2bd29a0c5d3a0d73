// The converter's global operator new: a block of 4 MB or more is also
// marked for transparent huge pages (madvise MADV_HUGEPAGE, the kernel's
// opt-in mode), so that filling it faults once per 2 MB instead of once
// per 4 KB. hp's large blocks (node lists, tensor indexes, write buffers)
// are filled once, front to back; on virtual machines a page fault costs
// several microseconds, and 4 KB faults were a third of `tag`'s time on a
// million-node graph (docs/benchmarks.md).
//
// Blocks still come from malloc and go back with free: only the advice is
// added, on the 2 MB pages wholly inside the block. Sanitizer builds keep
// their own operator new.
#include "hp/util/huge_page_allocations.h"

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "hp/util/sanitizers.h"

#ifdef HP_SANITIZED
bool hp::AllocationsAdviseHugePages() { return false; }
#else
bool hp::AllocationsAdviseHugePages() { return true; }

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kAdviseFrom = size_t{4} << 20;

void* Allocate(size_t size) noexcept {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block != nullptr && size >= kAdviseFrom) {
    const uintptr_t start = reinterpret_cast<uintptr_t>(block);
    const uintptr_t first = (start + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t last = (start + size) & ~(kHugePage - 1);
    // Advice only: a kernel without THP says EINVAL and nothing changes.
    if (last > first) {
      madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
    }
  }
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
