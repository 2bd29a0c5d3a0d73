// The scope trace's fast path. hp_record writes plain JSON: ASCII strings
// without escapes, integers, booleans and nulls. A big model's trace holds
// 100k+ modules (27 MB for a million nodes), which a JSON document takes
// ~0.6 s to build and free; plain text is read here straight into the
// fields. On anything else (escapes, non-ASCII text, fractions, a duplicate
// or missing field, a wrong type) it gives up and the document reader
// (scope_trace.cc) reads the text again: that one reads every JSON text and
// words every error.
#ifndef HP_TRACE_PLAIN_TRACE_H_
#define HP_TRACE_PLAIN_TRACE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hp/trace/scope_trace.h"
#include "hp/util/string_arena.h"

namespace hp {

// A `calls` entry as written, not yet checked.
struct PlainCall {
  std::string path;
  std::optional<int64_t> parent;
};

// A trace's fields as written, not yet checked.
struct PlainTrace {
  std::string format;
  int64_t format_version = 0;
  TraceProducer producer;
  std::string onnx_file;
  std::string onnx_sha256;
  std::optional<std::string> onnx_structure_sha256;
  int64_t opset = 0;
  std::string root_class;
  std::string root_qualified_class;
  StringArena strings;  // what `modules` view
  std::vector<TracedModule> modules;
  std::optional<std::vector<PlainCall>> calls;  // absent in older traces
};

// Reads `text` into `trace`; false when it is not plain JSON of the
// trace's layout (a field missing or twice, another type).
bool ReadPlainFields(absl::string_view text, PlainTrace* trace);

}  // namespace hp

#endif  // HP_TRACE_PLAIN_TRACE_H_
