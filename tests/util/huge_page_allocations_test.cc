// The converter's operator new: blocks of 2 MB or more start on a huge
// page and are advised for transparent huge pages, small ones are left
// alone, and both behave as memory.
#include "hp/util/huge_page_allocations.h"

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace {

// The VmFlags of the mapping holding `address`, from /proc/self/smaps;
// empty when none is found.
std::string FlagsOfMappingAt(const void* address) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    const std::vector<absl::string_view> range =
        absl::StrSplit(absl::string_view(line).substr(0, line.find(' ')), '-');
    uint64_t begin = 0;
    uint64_t end = 0;
    if (range.size() == 2 && absl::SimpleHexAtoi(range[0], &begin) &&
        absl::SimpleHexAtoi(range[1], &end)) {
      inside = begin <= at && at < end;
      continue;
    }
    if (inside && absl::StartsWith(line, "VmFlags:")) return line;
  }
  return "";
}

bool HasFlag(const std::string& flags, absl::string_view flag) {
  for (absl::string_view word : absl::StrSplit(flags, ' ')) {
    if (word == flag) return true;
  }
  return false;
}

// Whether this build advises and the kernel takes the advice.
bool Advised() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return hp::AllocationsAdviseHugePages() && std::getline(enabled, modes) &&
         modes.find("[never]") == std::string::npos;
}

// First: a freed large block raises malloc's mmap threshold, and later
// large blocks then come from (and advise) the heap small ones share.
TEST(HugePageAllocationsTest, SmallBlocksAreLeftAlone) {
  if (!Advised()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  auto block = std::make_unique<char[]>(4096);
  block[0] = 'y';
  const std::string flags = FlagsOfMappingAt(block.get());
  ASSERT_FALSE(flags.empty()) << "no mapping found for the block";
  EXPECT_FALSE(HasFlag(flags, "hg")) << flags;
  EXPECT_EQ(block[0], 'y');
}

TEST(HugePageAllocationsTest, LargeBlocksAreAdvisedForHugePages) {
  if (!Advised()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  // 16 MB: several whole 2 MB pages lie inside, wherever the block starts.
  std::vector<char> block(size_t{16} << 20, 'x');
  const char* middle = block.data() + block.size() / 2;
  const std::string flags = FlagsOfMappingAt(middle);
  ASSERT_FALSE(flags.empty()) << "no mapping found for the block";
  EXPECT_TRUE(HasFlag(flags, "hg")) << flags;
  EXPECT_EQ(*middle, 'x');
}

TEST(HugePageAllocationsTest, BlocksOfAHugePageOrMoreStartOnOne) {
  if (!Advised()) GTEST_SKIP() << "a sanitizer build, or no huge pages";
  // A million nodes' 4-byte vector (4.0 MB): malloc alone would start it
  // 16 bytes into a page, leaving it at most one whole 2 MB page.
  std::vector<int> block(1000000, 7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block.data()) % (size_t{2} << 20), 0u);
  const std::string flags = FlagsOfMappingAt(block.data());
  ASSERT_FALSE(flags.empty()) << "no mapping found for the block";
  EXPECT_TRUE(HasFlag(flags, "hg")) << flags;
  EXPECT_EQ(block.front() + block.back(), 14);
}

TEST(HugePageAllocationsTest, ArraysAndNothrowFormsAllocateAndFree) {
  for (size_t size : {size_t{1}, (size_t{2} << 20) - 1, size_t{2} << 20,
                      size_t{3} << 20, size_t{4} << 20, size_t{9} << 20}) {
    char* array = new char[size];
    array[size - 1] = 'z';
    EXPECT_EQ(array[size - 1], 'z');
    delete[] array;
    void* raw = ::operator new(size, std::nothrow);
    ASSERT_NE(raw, nullptr);
    static_cast<char*>(raw)[0] = 'w';
    ::operator delete(raw, std::nothrow);
  }
}

}  // namespace
