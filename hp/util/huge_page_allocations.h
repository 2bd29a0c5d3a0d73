// The converter's operator new (huge_page_allocations.cc): whether this
// build has it. Sanitizer builds keep the sanitizer's own.
#ifndef HP_UTIL_HUGE_PAGE_ALLOCATIONS_H_
#define HP_UTIL_HUGE_PAGE_ALLOCATIONS_H_

namespace hp {

// True where operator new starts blocks of 2 MB or more on a huge page and
// advises them for transparent huge pages.
bool AllocationsAdviseHugePages();

}  // namespace hp

#endif  // HP_UTIL_HUGE_PAGE_ALLOCATIONS_H_
