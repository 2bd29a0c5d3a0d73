// Fuzz target: the scope-trace reader (JSON bytes), its plain fast path and
// the full reader behind it, then the lookups tagging makes on a trace.
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/trace/scope_trace.h"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<hp::ScopeTrace> trace =
      hp::ParseScopeTrace(text, "fuzz.trace.json");
  if (!trace.ok()) return 0;  // a refused trace is a normal outcome
  size_t sum = trace->children(0).size();
  for (size_t i = 0; i < trace->modules().size(); ++i) {
    const hp::TracedModule& module = trace->modules()[i];
    sum += static_cast<size_t>(trace->IndexOf(module.path));
    for (int child : trace->children(static_cast<int>(i))) {
      sum += trace->modules().at(static_cast<size_t>(child)).path.size();
    }
  }
  for (const hp::TracedCall& call : trace->calls()) {
    sum += trace->modules().at(static_cast<size_t>(call.module)).path.size();
  }
  sink = sum;  // keeps the reads
  return 0;
}
