// Fuzz target: the profile reader (onnxruntime profile JSON bytes, read as
// a stream of events), then attribution to a small fixed graph whose node
// names the corpus's events use, the module sums, and the pictures.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "hp/profile/flame_graph.h"
#include "hp/profile/module_profile.h"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

const hp::ProfiledGraph& Graph() {
  static const std::unique_ptr<hp::ProfiledGraph> graph =
      hp::ProfiledGraph::FromNodes({
          {"/embeddings/Gather", "Gather", "/M/Embeddings", "embeddings", false},
          {"/encoder/layer.0/Add", "Add", "/M/Encoder/Layer.0", "encoder.layer.0", false},
          {"SkipLayerNorm_1", "SkipLayerNormalization", "/M/Encoder", "encoder", true},
          {"dup", "Relu", "/M", "", false},
          {"dup", "Relu", "/M/Encoder", "encoder", false},
          {"", "Identity", "/M", "", false},
      });
  return *graph;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  size_t sum = 0;
  // The reader alone, every event's fields.
  const absl::Status read = hp::ReadProfileBytes(
      bytes, "fuzz.json", [&](const hp::ProfileEvent& event) {
        sum += event.category.size() + event.name.size() +
               event.op_name.size() + event.provider.size() +
               static_cast<size_t>(event.dur) + event.byte_offset;
        absl::string_view node;
        if (hp::KernelEventNode(event.name, &node)) sum += node.size();
        return absl::OkStatus();
      });
  sink = sum;
  if (!read.ok()) return 0;  // a refused profile is a normal outcome
  for (int64_t runs_skip : {0, 1}) {
    hp::NodeTimes times(Graph(), runs_skip);
    if (!times.AddBytes(bytes, "fuzz.json").ok()) continue;
    sum += times.Check().ok() ? 1 : 0;
    const hp::ModuleProfile profile = hp::ProfileModules(Graph(), times);
    sum += hp::FoldedStacks(Graph(), profile).size();
    sum += hp::FlameGraphSvg(Graph(), profile, "fuzz").size();
  }
  sink = sum;  // keeps the reads
  return 0;
}
