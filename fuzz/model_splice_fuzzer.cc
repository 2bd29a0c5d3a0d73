// Fuzz target: model bytes through the wire-level scanner and skeleton
// reader (ModelSplice::Open), with node records parsed into the skeleton and
// read as views, then what later stages ask of an open splice: the nodes,
// the structure digest, the skeleton with initializer headers, and the
// writer (left uncommitted, so nothing is renamed into place). The nodes
// are parsed again with the later half of each run of records read ahead
// on a second thread from a guessed start (RecordRunAhead): the same
// nodes, or the same error; and read as records, the same names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "fuzz/support.h"
#include "hp/io/model_splice.h"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

void Exercise(const std::string& path, bool read_node_records) {
  hp::SpliceOptions options;
  options.read_node_records = read_node_records;
  absl::StatusOr<hp::ModelSplice> splice = hp::ModelSplice::Open(path, options);
  if (!splice.ok()) return;  // a refused file is a normal outcome
  size_t sum = 0;
  const hp::NodeList& nodes = splice->nodes();
  sum += hp::fuzz::TouchNodes(nodes);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (std::optional<absl::string_view> record = splice->NodeRecord(i)) {
      sum += hp::fuzz::Touch(*record);
    }
  }
  // Parsing a record into a message on demand, as tagging does for nodes
  // whose tags cannot be appended.
  if (!nodes.empty()) (void)splice->MutableNode(nodes.size() - 1);
  (void)splice->StructureSha256Hex();
  sum += splice->SkeletonWithHeaders().ByteSizeLong();
  sum += static_cast<size_t>(splice->initializer_count()) +
         splice->initializer_bytes();
  (void)splice->SaveUncommitted(hp::fuzz::ScratchDir() + "/out.onnx");
  sink = sum;  // keeps the reads
}

// The splice opened with every run of node records read ahead (from the
// middle of what follows its first record) against it opened without: the
// same skeleton, or the same error. Then, where its node records are found
// and read in one pass (NodeRecordReader), the same main-graph nodes.
void CheckRunAhead(const std::string& path) {
  hp::SpliceOptions plain;
  plain.node_run_ahead_after = hp::kNoNodeRunAhead;
  hp::SpliceOptions ahead = plain;
  ahead.node_run_ahead_after = 0;
  absl::StatusOr<hp::ModelSplice> one = hp::ModelSplice::Open(path, plain);
  absl::StatusOr<hp::ModelSplice> two = hp::ModelSplice::Open(path, ahead);
  if (one.ok() != two.ok()) std::abort();
  if (!one.ok()) {
    if (one.status() != two.status()) std::abort();
    return;
  }
  const onnx::GraphProto& graph = one->skeleton().graph();
  if (graph.SerializeAsString() !=
      two->skeleton().graph().SerializeAsString()) {
    std::abort();
  }
  hp::SpliceOptions as_records;
  as_records.read_node_records = true;
  absl::StatusOr<hp::ModelSplice> three =
      hp::ModelSplice::Open(path, as_records);
  if (!three.ok()) std::abort();  // the skeleton read as messages opened
  if (!three->reads_node_records()) return;
  int main_nodes = 0;
  for (const hp::NodeRef& node : three->nodes()) {
    if (node.owner >= 0) continue;  // a subgraph body's
    if (main_nodes >= graph.node_size() ||
        node.name != graph.node(main_nodes).name()) {
      std::abort();
    }
    ++main_nodes;
  }
  if (main_nodes != graph.node_size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hp::fuzz::QuietProtobufLogs();
  std::string path = hp::fuzz::WriteScratchFile("model.onnx", data, size);
  Exercise(path, /*read_node_records=*/false);
  Exercise(path, /*read_node_records=*/true);
  CheckRunAhead(path);
  return 0;
}
