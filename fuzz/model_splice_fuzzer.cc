// Fuzz target: model bytes through the wire-level scanner and skeleton
// reader (ModelSplice::Open), with node records parsed into the skeleton and
// read as views, then what later stages ask of an open splice: the nodes,
// the structure digest, the skeleton with initializer headers, and the
// writer (left uncommitted, so nothing is renamed into place).
#include <cstddef>
#include <cstdint>
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hp::fuzz::QuietProtobufLogs();
  std::string path = hp::fuzz::WriteScratchFile("model.onnx", data, size);
  Exercise(path, /*read_node_records=*/false);
  Exercise(path, /*read_node_records=*/true);
  return 0;
}
