// RecordRunReader against WireReader over the same bytes: the same records
// across its buffer's refills, and a run that ends, leaving the judgement
// to WireReader, at anything else.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hp/io/wire_format.h"
#include "tests/support/test_files.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;

constexpr uint8_t kNodeTag = TagByte(kGraphNode);

// The records a run reads from `begin` of the file holding `bytes`.
std::vector<WireRecord> ReadRun(const std::string& bytes, uint64_t begin,
                                uint64_t end) {
  const std::string path = TestFolder() + "/records.bin";
  WriteBytes(path, bytes);
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  RecordRunReader reader(fd, end);
  std::vector<WireRecord> records;
  WireRecord record;
  uint64_t at = begin;
  while (reader.Next(kNodeTag, at, &record)) {
    records.push_back(record);
    at = record.end;
  }
  ::close(fd);
  return records;
}

void ExpectSame(const WireRecord& a, const WireRecord& b) {
  EXPECT_EQ(a.field, b.field);
  EXPECT_EQ(a.wire_type, b.wire_type);
  EXPECT_EQ(a.begin, b.begin);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.end, b.end);
}

TEST(RecordRunReaderTest, ReadsTheRecordsWireReaderReadsAcrossRefills) {
  // Records of every length class (one- to three-byte lengths), some
  // longer than the largest window, then a field of another number.
  std::string bytes;
  const std::vector<size_t> sizes = {0,     1,     127,   128,    300,
                                     16383, 16384, 70000, 300000, 5};
  for (int round = 0; round < 40; ++round) {
    for (size_t size : sizes) {
      bytes += wire_format::BytesField(kGraphNode, std::string(size, 'n'));
    }
  }
  const uint64_t run_end = bytes.size();
  bytes += wire_format::BytesField(2, "graph name");
  bytes += wire_format::BytesField(kGraphNode, "a node after the name");

  const std::vector<WireRecord> run = ReadRun(bytes, 0, bytes.size());
  ASSERT_EQ(run.size(), 40 * sizes.size());
  WireReader wire(reinterpret_cast<const uint8_t*>(bytes.data()), 0,
                  bytes.size());
  for (const WireRecord& record : run) {
    WireRecord expected;
    ASSERT_TRUE(wire.Next(&expected));
    ExpectSame(record, expected);
  }
  EXPECT_EQ(run.back().end, run_end);  // stopped at the name, for WireReader
}

TEST(RecordRunReaderTest, LeavesWhatIsNotAWellFormedRecordToWireReader) {
  const std::string node = wire_format::BytesField(kGraphNode, "node");
  // A length past the end of the message.
  std::string past = node + std::string(1, static_cast<char>(kNodeTag)) +
                     wire_format::Varint(100) + "short";
  EXPECT_EQ(ReadRun(past, 0, past.size()).size(), 1u);
  // A length of more than ten bytes.
  std::string endless = node + std::string(1, static_cast<char>(kNodeTag)) +
                        std::string(11, '\xff');
  EXPECT_EQ(ReadRun(endless, 0, endless.size()).size(), 1u);
  // Field 1 in a two-byte tag: WireReader's to read.
  std::string long_tag = node + "\x8a\x00" + wire_format::Varint(1) + "x";
  EXPECT_EQ(ReadRun(long_tag, 0, long_tag.size()).size(), 1u);
  // The enclosing message ends before the file does.
  const std::string two = node + node;
  EXPECT_EQ(ReadRun(two, 0, node.size()).size(), 1u);
  EXPECT_EQ(ReadRun(two, 0, two.size()).size(), 2u);
}

TEST(RecordRunReaderTest, AFileCutShortEndsTheRun) {
  const std::string node = wire_format::BytesField(kGraphNode, "node");
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += node;
  const std::string path = TestFolder() + "/cut.bin";
  WriteBytes(path, bytes);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(10 * node.size())), 0);
  RecordRunReader reader(fd, bytes.size());
  WireRecord record;
  uint64_t at = 0;
  int read = 0;
  while (reader.Next(kNodeTag, at, &record)) {
    at = record.end;
    ++read;
  }
  ::close(fd);
  // Nothing past the new end; the mapping's reader judges from there.
  EXPECT_LE(at, 10 * node.size());
  EXPECT_GE(read, 9);
}

}  // namespace
}  // namespace hp
