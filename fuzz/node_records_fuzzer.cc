// Fuzz target: the node-record reader. The input is a GraphProto's payload;
// its node records (field 1) are read as views by ReadNodeRecords, as the
// splice path reads a mapped model, and each on its own by
// NodeListBuilder::AddRecord and ParseNodeRecord.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/support.h"
#include "google/protobuf/arena.h"
#include "hp/io/node_list.h"
#include "hp/io/wire_format.h"
#include "proto/onnx.pb.h"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hp::fuzz::QuietProtobufLogs();
  // The node records, as the splice path's scanner finds them: up to the
  // first malformed record.
  std::vector<hp::ByteRange> records;
  hp::WireReader reader(data, 0, size);
  hp::WireRecord record;
  while (!reader.done() && reader.Next(&record)) {
    if (record.field == hp::kGraphNode &&
        record.wire_type == hp::kLengthDelimited) {
      records.push_back({record.payload, record.end});
    }
  }

  size_t sum = 0;
  {
    google::protobuf::Arena arena;
    hp::NodeList nodes;
    hp::ParsedNodes parsed;
    if (hp::ReadNodeRecords(data, records, &arena, &nodes, &parsed)) {
      sum += hp::fuzz::TouchNodes(nodes);
    }
  }
  for (const hp::ByteRange& range : records) {
    hp::NodeListBuilder builder;
    bool needs_message = false;
    if (builder.AddRecord(data, range, &needs_message)) {
      hp::NodeList one = builder.Finish();
      sum += hp::fuzz::TouchNodes(one);
    }
    google::protobuf::Arena arena;
    if (onnx::NodeProto* node = hp::ParseNodeRecord(data, range, &arena)) {
      sum += node->name().size();
    }
  }
  sink = sum;  // keeps the reads
  return 0;
}
