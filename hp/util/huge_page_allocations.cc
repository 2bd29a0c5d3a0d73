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
//
// malloc's own memory (blocks under 2 MB, its heaps and per-thread arenas)
// is out of operator new's reach, and large blocks that malloc carves from
// a heap (once freeing a large block has raised its mmap threshold) were
// measured faulting in 4 KB pages although advised. glibc's tunables fix
// both, but only as a program starts: hence RestartWithHugePageMalloc, one
// exec before main does any work.
#include "hp/util/huge_page_allocations.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "hp/util/sanitizers.h"

#ifdef HP_SANITIZED
bool hp::AllocationsAdviseHugePages() { return false; }
bool hp::WillRestartWithHugePageMalloc() { return false; }
void hp::RestartWithHugePageMalloc(char**) {}
#else
bool hp::AllocationsAdviseHugePages() { return true; }

#if defined(__GLIBC__) && defined(__linux__)
namespace {

constexpr char kVariable[] = "GLIBC_TUNABLES";

// Whether the kernel gives transparent huge pages to memory advised for
// them ("always" or "madvise" mode).
bool ReadTransparentHugePagesOn() {
  std::FILE* file =
      std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (file == nullptr) return false;
  char modes[128] = {};
  const bool read = std::fgets(modes, sizeof(modes), file) != nullptr;
  std::fclose(file);
  return read && std::strstr(modes, "[never]") == nullptr;
}

// Read once per start: main asks WillRestartWithHugePageMalloc, then
// RestartWithHugePageMalloc asks again.
bool TransparentHugePagesOn() {
  static const bool on = ReadTransparentHugePagesOn();
  return on;
}

}  // namespace

bool hp::WillRestartWithHugePageMalloc() {
  const char* set = std::getenv(kVariable);
  // The first run's restart, or the caller's own choice.
  if (set != nullptr && std::strstr(set, "glibc.malloc.hugetlb") != nullptr) {
    return false;
  }
  return TransparentHugePagesOn();
}

void hp::RestartWithHugePageMalloc(char** argv) {
  if (!WillRestartWithHugePageMalloc()) return;
  const char* set = std::getenv(kVariable);
  const std::string before = set != nullptr ? set : "";
  std::string tunables = before;
  for (const char* tunable = kHugePageMallocTunables; *tunable != '\0';) {
    const char* end = std::strchr(tunable, ':');
    if (end == nullptr) end = tunable + std::strlen(tunable);
    const std::string setting(tunable, end);
    const std::string name = setting.substr(0, setting.find('='));
    if (before.find(name) == std::string::npos) {
      if (!tunables.empty()) tunables += ':';
      tunables += setting;
    }
    tunable = *end == ':' ? end + 1 : end;
  }
  if (setenv(kVariable, tunables.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Not restarted: go on as before, the environment as it was.
  if (set != nullptr) {
    setenv(kVariable, before.c_str(), 1);
  } else {
    unsetenv(kVariable);
  }
}
#else
bool hp::WillRestartWithHugePageMalloc() { return false; }
void hp::RestartWithHugePageMalloc(char**) {}
#endif  // glibc on Linux

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
