// RecordRunReader against WireReader over the same bytes: the same records
// across its buffer's refills, and a run that ends, leaving the judgement
// to WireReader, at anything else. RecordRunAhead: where a guessed run
// starts, and that from a true boundary it reads what the caller would.
// GraphOpensWithNodeRecords: how far a graph's first node records reach.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "hp/io/atomic_writer.h"
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

// `bytes` in a file, open (OpenRegularFile) and mapped (FileMapping), for
// RecordRunAhead.
class MappedBytes {
 public:
  explicit MappedBytes(const std::string& bytes)
      : file_(Open(bytes)), mapping_(file_.fd.get(), file_.size) {
    EXPECT_NE(mapping_.data(), nullptr);
  }
  const uint8_t* data() const { return mapping_.data(); }
  int fd() const { return file_.fd.get(); }

 private:
  static OpenedFile Open(const std::string& bytes) {
    const std::string path = TestFolder() + "/mapped.bin";
    WriteBytes(path, bytes);
    absl::StatusOr<OpenedFile> file = OpenRegularFile(path);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *std::move(file) : OpenedFile();
  }

  OpenedFile file_;
  FileMapping mapping_;  // after file_: unmapped before it is closed
};

TEST(RecordRunAheadTest, FromATrueBoundaryReadsWhatTheCallerWould) {
  // Records of lengths 1 to 300 in turn, then a field of another number.
  std::string bytes;
  std::vector<uint64_t> boundaries;
  for (int i = 0; i < 20000; ++i) {
    boundaries.push_back(bytes.size());
    bytes += wire_format::BytesField(kGraphNode, std::string(1 + i % 300, 'n'));
  }
  const uint64_t run_end = bytes.size();
  bytes += wire_format::BytesField(2, "graph name");
  const std::vector<WireRecord> whole = ReadRun(bytes, 0, bytes.size());
  ASSERT_EQ(whole.size(), boundaries.size());

  MappedBytes file(bytes);
  const uint64_t guess = bytes.size() / 2 + 1;
  RecordRunAhead ahead(file.data(), file.fd(), kNodeTag, guess, bytes.size());
  // The first record boundary at or after the guess: no chain of records
  // starts inside a record of these (its bytes are all 'n').
  size_t first = 0;
  while (boundaries[first] < guess) ++first;
  ASSERT_EQ(ahead.start(), boundaries[first]);
  const RecordRunAhead::Run run = ahead.Take();
  ASSERT_EQ(run.records.size(), whole.size() - first);
  for (size_t k = 0; k < run.records.size(); ++k) {
    EXPECT_EQ(run.records[k].begin, whole[first + k].payload);
    EXPECT_EQ(run.records[k].end, whole[first + k].end);
  }
  ExpectSame(run.last, whole.back());
  EXPECT_EQ(run.last.end, run_end);  // stopped at the name, as the caller
}

TEST(RecordRunAheadTest, AStartInsideARecordIsFoundButNotATrueBoundary) {
  // One record whose contents are themselves a chain of records, as a
  // node attribute's bytes may be: the guess lands among them and finds a
  // start there, which the caller's reading (one record, then the next)
  // passes over.
  std::string fake;
  for (int i = 0; i < 100; ++i) {
    fake += wire_format::BytesField(kGraphNode, "looks like a node");
  }
  const std::string bytes = wire_format::BytesField(kGraphNode, "first") +
                            wire_format::BytesField(kGraphNode, fake) +
                            wire_format::BytesField(kGraphNode, "last");
  const std::vector<WireRecord> whole = ReadRun(bytes, 0, bytes.size());
  ASSERT_EQ(whole.size(), 3u);

  MappedBytes file(bytes);
  RecordRunAhead ahead(file.data(), file.fd(), kNodeTag, whole[1].payload + 3,
                       bytes.size());
  EXPECT_GT(ahead.start(), whole[1].payload);
  EXPECT_LT(ahead.start(), whole[1].end);
  for (const WireRecord& record : whole) EXPECT_NE(record.end, ahead.start());
}

TEST(RecordRunAheadTest, NoStartWhereNoRecordsFollowOneAnother) {
  // Weights: no chain of RecordRunAhead::kChain records anywhere in them.
  std::string weights(1 << 20, '\0');
  for (size_t i = 0; i < weights.size(); ++i) {
    weights[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  const std::string bytes =
      wire_format::BytesField(kGraphNode, "node") + weights;
  MappedBytes file(bytes);
  RecordRunAhead ahead(file.data(), file.fd(), kNodeTag, bytes.size() / 2,
                       bytes.size());
  EXPECT_FALSE(ahead.found());
}

TEST(RecordRunAheadTest, ADroppedRunStopsItsThread) {
  // Many records, the run dropped at once: the destructor returns (the
  // thread looks at the stop between records).
  std::string bytes;
  for (int i = 0; i < 200000; ++i) {
    bytes += wire_format::BytesField(kGraphNode, "a node record");
  }
  MappedBytes file(bytes);
  auto ahead = std::make_unique<RecordRunAhead>(file.data(), file.fd(),
                                                kNodeTag, 1, bytes.size());
  EXPECT_TRUE(ahead->found());
  ahead.reset();
}

// A model file holding `graph`, with the small fields a torch export
// writes before it and its opset after it.
std::string ModelFile(const std::string& graph) {
  const std::string path = TestFolder() + "/shape.onnx";
  WriteBytes(path, wire_format::VarintField(1, 8) +
                       wire_format::BytesField(2, "pytorch") +
                       wire_format::BytesField(3, "2.1") +
                       wire_format::BytesField(kModelGraph, graph) +
                       wire_format::BytesField(8, "opset"));
  return path;
}

TEST(GraphOpensWithNodeRecordsTest, MeasuresTheNodeRecordsBeforeTheWeights) {
  // 2,000 node records of 100 bytes or more, then 1 MiB of weights.
  std::string nodes;
  for (int i = 0; i < 2000; ++i) {
    nodes += wire_format::BytesField(kGraphNode, std::string(100, 'n'));
  }
  const std::string weights =
      wire_format::BytesField(kGraphInitializer, std::string(1 << 20, 'w'));
  const std::string path = ModelFile(nodes + weights);
  EXPECT_TRUE(GraphOpensWithNodeRecords(path, 1));
  EXPECT_TRUE(GraphOpensWithNodeRecords(path, nodes.size() - 1));
  EXPECT_TRUE(GraphOpensWithNodeRecords(path, nodes.size()));
  EXPECT_FALSE(GraphOpensWithNodeRecords(path, nodes.size() + 1));
  EXPECT_FALSE(GraphOpensWithNodeRecords(path, uint64_t{4} << 20));

  // The weights first: nothing counts.
  const std::string weights_first = ModelFile(weights + nodes);
  EXPECT_FALSE(GraphOpensWithNodeRecords(weights_first, 1));
  EXPECT_TRUE(GraphOpensWithNodeRecords(weights_first, 0));
}

TEST(GraphOpensWithNodeRecordsTest, FalseForWhatIsNoModel) {
  const std::string folder = TestFolder();
  EXPECT_FALSE(GraphOpensWithNodeRecords(folder, 1));
  EXPECT_FALSE(GraphOpensWithNodeRecords(folder + "/missing.onnx", 1));
  EXPECT_FALSE(GraphOpensWithNodeRecords("", 1));
  const std::string text = folder + "/text.onnx";
  WriteBytes(text, "not a model at all, just some words\n");
  EXPECT_FALSE(GraphOpensWithNodeRecords(text, 1));
  // A model without a graph, and one whose graph is cut short.
  const std::string no_graph = folder + "/no_graph.onnx";
  WriteBytes(no_graph, wire_format::VarintField(1, 8) +
                           wire_format::BytesField(2, "pytorch"));
  EXPECT_FALSE(GraphOpensWithNodeRecords(no_graph, 1));
  const std::string cut = folder + "/cut.onnx";
  const std::string whole =
      wire_format::BytesField(kModelGraph, std::string(5000, 'g'));
  WriteBytes(cut, whole.substr(0, 1000));
  EXPECT_FALSE(GraphOpensWithNodeRecords(cut, 1));
}

}  // namespace
}  // namespace hp
