// Fuzz target: the sidecar reader (`validate --sidecar`), JSON bytes.
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/pipeline/sidecar.h"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<hp::Sidecar> sidecar =
      hp::ParseSidecar(text, "fuzz.sidecar.json");
  if (!sidecar.ok()) return 0;  // a refused sidecar is a normal outcome
  size_t sum = sidecar->output_model_sha256.size();
  for (const hp::NodeTag& node : sidecar->nodes) {
    sum += node.graph_path.size() + node.node_name.size() +
           node.op_type.size() + node.module_path.size() + node.tag.size();
  }
  sink = sum;  // keeps the reads
  return 0;
}
