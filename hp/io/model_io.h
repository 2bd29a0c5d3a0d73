// Loading and saving ONNX models, losslessly: fields this schema does not
// know survive as unknown fields, external weights stay in their files.
#ifndef HP_IO_MODEL_IO_H_
#define HP_IO_MODEL_IO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/atomic_writer.h"
// CheckExternalDataLocations and the side files of external data.
#include "hp/io/external_data.h"
#include "proto/onnx.pb.h"

namespace hp {

// Protobuf cannot represent a message of 2 GiB or more.
inline constexpr uint64_t kMaxProtobufBytes = (uint64_t{1} << 31) - 1;

// Subgraphs (If, Loop, Scan bodies) nested deeper than this cannot be read:
// each level is three messages (node, attribute, graph), and protobuf stops
// at 100 nested messages. A graph at this level is 97 messages deep.
inline constexpr int kMaxSubgraphDepth = 32;

// OK unless the model `bytes` nests subgraphs deeper than
// kMaxSubgraphDepth; then an error naming `source` and the node whose
// subgraph goes past the limit, in words of recursion depth. Reads the wire
// level without recursion and without parsing, so any depth is safe.
absl::Status CheckSubgraphDepth(absl::string_view bytes,
                                absl::string_view source);

// Parses a serialized ModelProto. `source` names the input in errors (a file
// name, or e.g. "<memory>").
absl::StatusOr<onnx::ModelProto> ParseModel(absl::string_view bytes,
                                            absl::string_view source);

// Reads and parses an .onnx file, then checks every external-data reference
// (without reading the side files): see CheckExternalDataLocations.
absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path);

struct SaveOptions {
  // The file the model was loaded from. Saving onto it is refused unless
  // `overwrite_input` is set.
  std::string input_path;
  bool overwrite_input = false;
  // Whether the refusal may suggest in-place writing: false for outputs
  // that can never replace their input (an extracted module).
  bool in_place_possible = true;
  // How the output is committed. One to be fsynced has its disk writes
  // started while it is written (AtomicFileWriter::WriteBackEarly), so
  // that the fsync waits for the last part only.
  Durability durability = Durability::kFsync;
};

// The atomic writer of an output saved with `options`: refused when `path`
// is the input and overwriting it was not asked for; one to be fsynced has
// its disk writes started as its bytes come (WriteBackEarly).
absl::StatusOr<AtomicFileWriter> CreateSaveWriter(const std::string& path,
                                                  const SaveOptions& options);

// Serializes the model and writes it atomically to `path`.
absl::Status SaveModel(const onnx::ModelProto& model, const std::string& path,
                       const SaveOptions& options = {});
// The same up to the commit: the caller commits the returned writer (after
// placing what must be there first, such as side files), or drops it to
// leave nothing behind.
absl::StatusOr<AtomicFileWriter> SaveModelUncommitted(
    const onnx::ModelProto& model, const std::string& path,
    const SaveOptions& options = {});

// Serializes the model deterministically (same message, same bytes).
absl::StatusOr<std::string> SerializeModel(const onnx::ModelProto& model,
                                           absl::string_view destination);

// Deterministic serialization of any message whose size the caller has
// just computed (ByteSizeLong) and checked against kMaxProtobufBytes.
// `what` names the message in the error ("model", "graph").
absl::StatusOr<std::string> SerializeSized(
    const google::protobuf::MessageLite& message, absl::string_view destination,
    absl::string_view what);

}  // namespace hp

#endif  // HP_IO_MODEL_IO_H_
