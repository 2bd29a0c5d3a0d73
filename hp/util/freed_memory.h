// Giving memory that was freed back to the system.
#ifndef HP_UTIL_FREED_MEMORY_H_
#define HP_UTIL_FREED_MEMORY_H_

namespace hp {

// Returns the pages of freed blocks that glibc's malloc keeps in its
// arenas (malloc_trim) to the system. Does nothing elsewhere, and in
// sanitizer builds: their runtime replaces malloc, and glibc's, never
// used there, would be set up by the first trim, racing with any other
// thread's.
void GiveBackFreedMemory();

}  // namespace hp

#endif  // HP_UTIL_FREED_MEMORY_H_
