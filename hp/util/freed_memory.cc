#include "hp/util/freed_memory.h"

#include "hp/util/sanitizers.h"

#if defined(__GLIBC__) && !defined(HP_SANITIZED)
#include <malloc.h>
#define HP_TRIM_MALLOC 1
#endif

namespace hp {

void GiveBackFreedMemory() {
#ifdef HP_TRIM_MALLOC
  malloc_trim(0);
#endif
}

}  // namespace hp
