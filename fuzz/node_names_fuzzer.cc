// Fuzz target: what a node name says about its module (hp/scope/node_names):
// the scope components of a name, and the atoms, scope component and dedup
// suffix of each component and of the name as a dotted path.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "hp/scope/node_names.h"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

size_t Atoms(absl::string_view text) {
  size_t sum = hp::IsListIndex(text) ? 1 : 0;
  sum += hp::LastAtom(text).size();
  sum += hp::ScopeComponent(text).size();
  sum += hp::WithoutDedupSuffix(text).size();
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view name(reinterpret_cast<const char*>(data), size);
  hp::NodeNameScope scope = hp::ParseNodeName(name);
  size_t sum = Atoms(name);
  for (const std::string& component : scope.components) sum += Atoms(component);
  sink = sum;  // keeps the reads
  return 0;
}
