// Fuzz target: the node-record reader. The input is a GraphProto's payload;
// its node records (field 1) are read as views by ReadNodeRecords, as the
// splice path reads a mapped model, and each on its own by
// NodeListBuilder::AddRecord and ParseNodeRecord; the name scopes kept
// while reading are checked against the names, and a list said to hold
// plain records against its nodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
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
    // Read as tag reads them, each node's name scope kept as an id: each
    // must be the scope of the node's name, and its metadata bit the
    // node's.
    google::protobuf::Arena arena;
    hp::NodeList nodes;
    hp::ParsedNodes parsed;
    if (hp::ReadNodeRecords(data, records, &arena, &nodes, &parsed, nullptr,
                            hp::kMaxSegmentPlaces,
                            /*keep_name_scopes=*/true)) {
      sum += hp::fuzz::TouchNodes(nodes);
      for (hp::NodeList::const_iterator it = nodes.begin(); it != nodes.end();
           ++it) {
        const hp::NodeRef node = *it;
        const hp::NameScope scope = it.name_scope();
        const std::optional<absl::string_view> want =
            hp::ScopeOfName(node.name);
        if (scope.id == hp::NameScope::kNotKept) std::abort();
        if (want.has_value() != (scope.id != hp::NameScope::kNone)) {
          std::abort();
        }
        if (want.has_value() && nodes.NameScopeText(scope) != *want) {
          std::abort();
        }
        if (scope.had_metadata == node.metadata.empty()) std::abort();
      }
      // A list said to be plain records has no node that is not one.
      if (nodes.PlainRecords(0, nodes.size())) {
        for (const hp::NodeRef& node : nodes) {
          if (node.node != nullptr || !node.metadata.empty() ||
              node.has_unknown_fields || node.owns_subgraphs) {
            std::abort();
          }
        }
      }
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
