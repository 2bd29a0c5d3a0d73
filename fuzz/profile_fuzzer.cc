// Fuzz target: the profile reader (onnxruntime profile JSON bytes, read as
// a stream of events), checked against nlohmann's parser of the whole
// document: the same inputs accepted, the same fields of each event. Then
// the read-ahead (ProfileReadAhead: the bytes as a file, read twice on its
// thread, handed over in batches), checked against the reader: the same
// events (the fields it keeps) and errors. Then attribution to a small fixed
// graph whose node names the corpus's events use, the module sums, and the
// pictures.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "fuzz/support.h"
#include "hp/profile/flame_graph.h"
#include "hp/profile/module_profile.h"
#include "hp/profile/profile_read_ahead.h"
#include "hp/profile/profile_reader.h"
#include "nlohmann/json.hpp"

namespace {

// Where targets put what they read, so that the compiler keeps the reads.
volatile size_t sink = 0;

const hp::ProfiledGraph& Graph() {
  static const std::unique_ptr<hp::ProfiledGraph> graph =
      hp::ProfiledGraph::FromNodes({
          {"/embeddings/Gather", "Gather", "/M/Embeddings", "embeddings",
           false},
          {"/encoder/layer.0/Add", "Add", "/M/Encoder/Layer.0",
           "encoder.layer.0", false},
          {"SkipLayerNorm_1", "SkipLayerNormalization", "/M/Encoder", "encoder",
           true},
          {"dup", "Relu", "/M", "", false},
          {"dup", "Relu", "/M/Encoder", "encoder", false},
          {"", "Identity", "/M", "", false},
      });
  return *graph;
}

// An event's fields as the reader is to give them, from the parsed
// document: per field the event's last member of that name, when of the
// field's type.
struct Fields {
  std::string category, name, phase, op_name, provider;
  int64_t dur = -1, ts = -1;
  bool dur_invalid = false;
  bool operator==(const Fields& o) const {
    return category == o.category && name == o.name && phase == o.phase &&
           op_name == o.op_name && provider == o.provider && dur == o.dur &&
           ts == o.ts && dur_invalid == o.dur_invalid;
  }
};

std::string StringMember(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// A number as the reader reads "dur" and "ts": whole in int64's range,
// else invalid.
bool WholeNumber(const nlohmann::json& value, int64_t* whole) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    *whole = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                 ? 0
                 : static_cast<int64_t>(u);
    return u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  if (value.is_number_integer()) {
    *whole = value.get<int64_t>();
    return true;
  }
  const double d = value.get<double>();
  const bool ok = std::floor(d) == d && std::fabs(d) < 9e15;
  *whole = ok ? static_cast<int64_t>(d) : 0;
  return ok;
}

Fields Expected(const nlohmann::json& event) {
  Fields f;
  f.category = StringMember(event, "cat");
  f.name = StringMember(event, "name");
  f.phase = StringMember(event, "ph");
  auto dur = event.find("dur");
  if (dur != event.end() && dur->is_number()) {
    const bool whole = WholeNumber(*dur, &f.dur);
    f.dur_invalid = !whole || f.dur < 0;
  }
  auto ts = event.find("ts");
  if (ts != event.end() && ts->is_number()) {
    int64_t value = 0;
    if (WholeNumber(*ts, &value)) f.ts = value;
  }
  auto args = event.find("args");
  if (args != event.end() && args->is_object()) {
    f.op_name = StringMember(*args, "op_name");
    f.provider = StringMember(*args, "provider");
  }
  return f;
}

// An event as a visitor saw it: its fields and where it is.
struct SeenEvent {
  Fields fields;
  int64_t index;
  uint64_t byte_offset;
  bool operator==(const SeenEvent& o) const {
    return fields == o.fields && index == o.index &&
           byte_offset == o.byte_offset;
  }
};

// Collects the events a visit sees, and what the visit returned.
struct Seen {
  std::vector<SeenEvent> events;
  absl::Status status;

  // The visitor itself, not a ProfileEventVisitor: that one only refers to
  // a callable, which must outlive it (here, the call it is passed to).
  auto Visitor() {
    return [this](const hp::ProfileEvent& event) {
      events.push_back({{std::string(event.category), std::string(event.name),
                         std::string(event.phase), std::string(event.op_name),
                         std::string(event.provider), event.dur, event.ts,
                         event.dur_invalid},
                        event.index,
                        event.byte_offset});
      return absl::OkStatus();
    };
  }
};

// The reader against the parsed document; aborts where they differ.
// Returns what the reader gave.
Seen CheckAgainstDocument(absl::string_view bytes) {
  Seen read;
  auto keep = read.Visitor();
  read.status = hp::ReadProfileBytes(
      bytes, "fuzz.json", [&](const hp::ProfileEvent& event) {
        if (event.index != static_cast<int64_t>(read.events.size()) ||
            event.byte_offset >= bytes.size() ||
            bytes[event.byte_offset] != '{') {
          std::abort();
        }
        return keep(event);
      });
  const nlohmann::json document =
      nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                            /*allow_exceptions=*/false);
  bool events = !document.is_discarded() && document.is_array();
  if (events) {
    for (const nlohmann::json& element : document) {
      events = events && element.is_object();
    }
  }
  if (read.status.ok() != events) std::abort();
  if (!events) return read;
  if (read.events.size() != document.size()) std::abort();
  for (size_t i = 0; i < read.events.size(); ++i) {
    if (!(read.events[i].fields == Expected(document[i]))) std::abort();
  }
  return read;
}

// The read-ahead over the bytes as a file, given twice, against the reader
// over the bytes in place: each visit the same events (the fields the
// read-ahead keeps; phase, op_name and provider empty and ts -1) and the
// same status (its message naming the file where the reader's names
// "fuzz.json"), and no visit past the last file or after a failed one. The
// bound is far under most inputs' events, so that the reading waits for
// the visits.
void CheckReadAhead(const uint8_t* data, size_t size, Seen in_place) {
  for (SeenEvent& event : in_place.events) {
    event.fields.phase.clear();
    event.fields.op_name.clear();
    event.fields.provider.clear();
    event.fields.ts = -1;
  }
  const std::string path =
      hp::fuzz::WriteScratchFile("profile.json", data, size);
  hp::ProfileReadAhead reading({path, path}, /*max_bytes=*/512);
  for (int file = 0; file < 2; ++file) {
    Seen ahead;
    ahead.status = reading.VisitNext(ahead.Visitor());
    if (file == 1 && !in_place.status.ok()) {
      // The first file failed: no more visits.
      if (!absl::IsFailedPrecondition(ahead.status)) std::abort();
      break;
    }
    if (ahead.status.code() != in_place.status.code() ||
        absl::StrReplaceAll(ahead.status.message(), {{path, "fuzz.json"}}) !=
            in_place.status.message() ||
        !(ahead.events == in_place.events)) {
      std::abort();
    }
  }
  Seen past;
  if (!absl::IsFailedPrecondition(reading.VisitNext(past.Visitor())) ||
      !past.events.empty()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckReadAhead(data, size, CheckAgainstDocument(bytes));
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
