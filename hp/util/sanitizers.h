// HP_SANITIZED: defined in AddressSanitizer, ThreadSanitizer and
// MemorySanitizer builds, whose runtime replaces malloc.
#ifndef HP_UTIL_SANITIZERS_H_
#define HP_UTIL_SANITIZERS_H_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define HP_SANITIZED 1
#endif
#endif

#endif  // HP_UTIL_SANITIZERS_H_
