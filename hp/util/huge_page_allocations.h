// The converter's operator new (huge_page_allocations.cc): whether this
// build has it, and the restart that puts malloc's own memory on huge pages
// too. Sanitizer builds keep the sanitizer's allocator and do neither.
#ifndef HP_UTIL_HUGE_PAGE_ALLOCATIONS_H_
#define HP_UTIL_HUGE_PAGE_ALLOCATIONS_H_

namespace hp {

// True where operator new starts blocks of 2 MB or more on a huge page and
// advises them for transparent huge pages.
bool AllocationsAdviseHugePages();

// The glibc tunables RestartWithHugePageMalloc adds, each unless
// GLIBC_TUNABLES names it already: malloc's own memory on transparent huge
// pages, every block of 2 MB or more a mapping of its own (never carved
// from a heap whose pages are 4 KB), and one arena for every thread. glibc
// advises its main heap for huge pages, but a thread's own arena grows 4
// KB at a time unadvised: on a million-node graph those arenas took 11,000
// of `tag`'s 13,000 page faults, and one shared arena made every command
// faster (docs/benchmarks.md).
inline constexpr char kHugePageMallocTunables[] =
    "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=2097152:"
    "glibc.malloc.arena_max=1";

// Whether RestartWithHugePageMalloc would run the program again: glibc's
// malloc (no sanitizer), transparent huge pages on, and GLIBC_TUNABLES not
// naming glibc.malloc.hugetlb. False in the restarted program, so that a
// caller deciding whether to restart (the converter probes its inputs)
// does that work once.
bool WillRestartWithHugePageMalloc();

// For main, before any work: where glibc's malloc is the allocator (no
// sanitizer) and the kernel has transparent huge pages, runs the program
// again from the start (exec of /proc/self/exe, same arguments) with
// kHugePageMallocTunables added to GLIBC_TUNABLES, which glibc reads only
// when a program starts. Small allocations otherwise fault in 4 KB pages,
// which on virtual machines cost microseconds each (docs/benchmarks.md).
// Returns, changing nothing, where GLIBC_TUNABLES already names
// glibc.malloc.hugetlb (set by the caller, any value, or by the first run),
// where huge pages are off, or where the exec fails. The restart costs one
// more start of the program: the converter restarts for large node-heavy
// inputs only (hp/converter/main.cc).
void RestartWithHugePageMalloc(char** argv);

}  // namespace hp

#endif  // HP_UTIL_HUGE_PAGE_ALLOCATIONS_H_
