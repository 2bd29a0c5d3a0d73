#include "hp/io/structure_digest.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/wire_format.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

// Calls hash(begin, end) for each range of [0, size) outside `cut`, in
// order, until one returns false.
template <typename Hash>
bool ForRangesKept(uint64_t size, const std::vector<ByteRange>& cut,
                   const Hash& hash) {
  uint64_t kept_from = 0;
  for (const ByteRange& range : cut) {
    if (!hash(kept_from, range.begin)) return false;
    kept_from = range.end;
  }
  return hash(kept_from, size);
}

}  // namespace

std::string Sha256HexWithout(const uint8_t* data, uint64_t size,
                             const std::vector<ByteRange>& cut,
                             const FileMapping* mapped) {
  Sha256 hasher;
  constexpr uint64_t kChunkBytes = uint64_t{4} << 20;
  ForRangesKept(size, cut, [&](uint64_t begin, uint64_t end) {
    for (uint64_t at = begin; at < end;) {
      const uint64_t to = std::min(end, at + kChunkBytes);
      hasher.Update(
          absl::string_view(reinterpret_cast<const char*>(data + at), to - at));
      if (mapped != nullptr) mapped->Release(at, to);
      at = to;
    }
    return true;
  });
  return hasher.HexDigest();
}

absl::StatusOr<std::string> Sha256FileHexWithout(
    int fd, uint64_t size, const std::vector<ByteRange>& cut,
    const std::string& path) {
  Sha256 hasher;
  // Below malloc's mmap threshold, as RecordRunReader's buffer.
  constexpr uint64_t kChunkBytes = uint64_t{64} << 10;
  const std::unique_ptr<char[]> buffer(new char[kChunkBytes]);
  absl::Status status;
  ForRangesKept(size, cut, [&](uint64_t begin, uint64_t end) {
    for (uint64_t at = begin; at < end;) {
      const uint64_t want = std::min(end - at, kChunkBytes);
      const int64_t got = ReadAt(fd, buffer.get(), want, at);
      if (got < 0) {
        status = ErrnoError("cannot read", path);
        return false;
      }
      hasher.Update(absl::string_view(buffer.get(), static_cast<size_t>(got)));
      at += static_cast<uint64_t>(got);
      if (static_cast<uint64_t>(got) < want) {
        status = CheckFileNotShrunk(fd, size, path);
        if (status.ok()) {
          status = absl::DataLossError(absl::StrCat(
              path, ": the file ended at byte ", at, " of ", size,
              " while it was read: another program is changing it; run "
              "again once it is done"));
        }
        return false;
      }
    }
    return true;
  });
  HP_RETURN_IF_ERROR(status);
  return hasher.HexDigest();
}

std::optional<std::string> StructureSha256Hex(const uint8_t* data,
                                              uint64_t size) {
  std::vector<ByteRange> initializers;
  WireReader top(data, 0, size);
  WireRecord record;
  while (!top.done()) {
    if (!top.Next(&record)) return std::nullopt;
    if (record.field != kModelGraph || record.wire_type != kLengthDelimited) {
      continue;
    }
    WireReader graph(data, record.payload, record.end);
    WireRecord field;
    while (!graph.done()) {
      if (!graph.Next(&field)) return std::nullopt;
      if (field.wire_type == kLengthDelimited &&
          (field.field == kGraphInitializer ||
           field.field == kGraphSparseInitializer)) {
        initializers.push_back({field.begin, field.end});
      }
    }
  }
  return Sha256HexWithout(data, size, initializers);
}

absl::StatusOr<std::string> StructureSha256FileHex(const std::string& path) {
  HP_ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  FileMapping mapping(file.fd.get(), file.size);
  if (file.size > 0 && mapping.data() == nullptr) {
    return ErrnoError("cannot map", path);
  }
  std::optional<std::string> digest =
      StructureSha256Hex(mapping.data(), file.size);
  HP_RETURN_IF_ERROR(
      CheckFileNotShrunk(file.fd.get(), file.size, path, &mapping));
  if (!digest.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": not an ONNX model (protobuf parse failed: the file is "
                     "truncated, corrupt or of another format)"));
  }
  return *std::move(digest);
}

}  // namespace hp
