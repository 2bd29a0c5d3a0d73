#include "hp/io/structure_digest.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/wire_format.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// Hashes the kept byte ranges, joining adjacent ones into one update.
class KeptBytes {
 public:
  explicit KeptBytes(const uint8_t* data) : data_(data) {}

  void Keep(uint64_t begin, uint64_t end) {
    if (begin != run_end_) Flush();
    if (run_begin_ == run_end_) run_begin_ = begin;
    run_end_ = end;
  }
  std::string HexDigest() {
    Flush();
    return hasher_.HexDigest();
  }

 private:
  void Flush() {
    if (run_end_ > run_begin_) {
      hasher_.Update(absl::string_view(
          reinterpret_cast<const char*>(data_ + run_begin_),
          run_end_ - run_begin_));
    }
    run_begin_ = run_end_ = 0;
  }

  const uint8_t* data_;
  Sha256 hasher_;
  uint64_t run_begin_ = 0;
  uint64_t run_end_ = 0;
};

}  // namespace

std::optional<std::string> StructureSha256Hex(const uint8_t* data,
                                              uint64_t size) {
  KeptBytes kept(data);
  WireReader top(data, 0, size);
  WireRecord record;
  while (!top.done()) {
    if (!top.Next(&record)) return std::nullopt;
    if (record.field != kModelGraph || record.wire_type != kLengthDelimited) {
      kept.Keep(record.begin, record.end);
      continue;
    }
    kept.Keep(record.begin, record.payload);  // the graph's tag and length
    WireReader graph(data, record.payload, record.end);
    WireRecord field;
    while (!graph.done()) {
      if (!graph.Next(&field)) return std::nullopt;
      const bool initializer = field.wire_type == kLengthDelimited &&
                               (field.field == kGraphInitializer ||
                                field.field == kGraphSparseInitializer);
      if (!initializer) kept.Keep(field.begin, field.end);
    }
  }
  return kept.HexDigest();
}

absl::StatusOr<std::string> StructureSha256FileHex(const std::string& path) {
  HP_ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  FileMapping mapping(file.fd.get(), file.size);
  if (file.size > 0 && mapping.data() == nullptr) {
    return ErrnoError("cannot map", path);
  }
  std::optional<std::string> digest =
      StructureSha256Hex(mapping.data(), file.size);
  if (!digest.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": not an ONNX model (protobuf parse failed: the file is "
                     "truncated, corrupt or of another format)"));
  }
  return *std::move(digest);
}

}  // namespace hp
