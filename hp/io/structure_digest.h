// The structure digest: SHA-256 of a model file with the main graph's
// initializer and sparse_initializer records cut out. It names the graph a
// scope trace was recorded for, not its weights, so checking a trace never
// reads the weights: the same graph exported with other weights has the
// same structure digest. The recorder (recorder/hp_record) computes the
// same bytes; docs/scope-trace.md defines them.
#ifndef HP_IO_STRUCTURE_DIGEST_H_
#define HP_IO_STRUCTURE_DIGEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/io/wire_format.h"

namespace hp {

// Lowercase hex structure digest of the serialized model in [data,
// data + size); nullopt when the bytes are not well-formed protobuf.
std::optional<std::string> StructureSha256Hex(const uint8_t* data,
                                              uint64_t size);

// Lowercase hex SHA-256 of [data, data + size) without the `cut` ranges
// (in file order, not overlapping): the structure digest once the
// initializer records are known, as ModelSplice knows them. With `mapped`
// (the mapping `data` is), the pages hashed are given back as it goes.
std::string Sha256HexWithout(const uint8_t* data, uint64_t size,
                             const std::vector<ByteRange>& cut,
                             const FileMapping* mapped = nullptr);

// The same, read from the open file `fd` with pread(2): for a pass that
// reads most of the file once, where mapping costs more per page than the
// copy (RecordRunReader, hp/io/wire_format.h). DataLoss when the file ends
// early (truncated while it was read); errors name `path`.
absl::StatusOr<std::string> Sha256FileHexWithout(
    int fd, uint64_t size, const std::vector<ByteRange>& cut,
    const std::string& path);

// The same for a file, mapped rather than read: the initializer bytes are
// never touched. Errors name the path.
absl::StatusOr<std::string> StructureSha256FileHex(const std::string& path);

}  // namespace hp

#endif  // HP_IO_STRUCTURE_DIGEST_H_
