// onnxruntime's profile (the Chrome-trace JSON a session writes with
// enableProfiling) read as a stream of events: one event at a time is
// handed to the caller, so memory stays the same however large the file.
// The reader is hp's own: strict JSON (RFC 8259, UTF-8), checked as it is
// read, but only an event's few fields hp uses are ever copied or
// converted (a general parser's tokens cost most of a large profile's
// time). Its errors are Statuses naming the file and the byte offset.
#ifndef HP_PROFILE_PROFILE_READER_H_
#define HP_PROFILE_PROFILE_READER_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hp {

// One event of the profile's top-level array, as far as hp reads it. The
// views are valid during the visit only. Where an event names a member
// twice, the last one counts; a member of another type than its field's
// leaves the field empty (or -1).
struct ProfileEvent {
  int64_t index = 0;           // in the file's array, from 0
  uint64_t byte_offset = 0;    // of its '{'
  absl::string_view category;  // "cat": "Node", "Session", ...
  absl::string_view name;      // "/encoder/Add_kernel_time", "model_run"
  absl::string_view phase;     // "ph": "X" for a complete event
  // "dur" and "ts" in microseconds; -1 when missing.
  int64_t dur = -1;
  int64_t ts = -1;
  // A "dur" that is not a whole number of microseconds (or negative).
  bool dur_invalid = false;
  absl::string_view op_name;   // args.op_name
  absl::string_view provider;  // args.provider
};

using ProfileEventVisitor =
    absl::FunctionRef<absl::Status(const ProfileEvent&)>;

// Reads the file at `path` and visits each event in file order. Errors
// (InvalidArgument) name `path`: not JSON (with line, column and byte
// offset: a truncated file says so), not an array of event objects (not an
// onnxruntime profile); a visitor's error stops the reading and is
// returned as is. NotFound when the file cannot be opened.
absl::Status ReadProfileFile(const std::string& path,
                             ProfileEventVisitor visit);

// The same over bytes in memory; `source` names them in errors.
absl::Status ReadProfileBytes(absl::string_view bytes, absl::string_view source,
                              ProfileEventVisitor visit);

// The node a "Node" event names: "<node>_kernel_time" -> "<node>"; false
// for the other node events (none in onnxruntime 1.30; fence events in
// older versions).
bool KernelEventNode(absl::string_view event_name, absl::string_view* node);

}  // namespace hp

#endif  // HP_PROFILE_PROFILE_READER_H_
