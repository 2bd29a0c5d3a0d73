#include "hp/io/model_io.h"

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "hp/io/atomic_file.h"
#include "hp/io/external_data.h"
#include "hp/io/wire_format.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

absl::Status TooLargeError(absl::string_view source, uint64_t size) {
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", size,
      " bytes is over protobuf's 2 GB limit for one message; store the "
      "weights as ONNX external data (tensors in side files) instead"));
}

// Field numbers on the way from a graph to its subgraphs.
constexpr uint32_t kNodeName = 3;
constexpr uint32_t kNodeOpType = 4;
constexpr uint32_t kNodeAttribute = 5;
constexpr uint32_t kAttributeGraph = 6;
constexpr uint32_t kAttributeGraphs = 11;

}  // namespace

absl::Status CheckSubgraphDepth(absl::string_view bytes,
                                absl::string_view source) {
  const uint8_t* data = reinterpret_cast<const uint8_t*>(bytes.data());
  // Graphs still to read, with their subgraph level (0: the main graph).
  struct Pending {
    ByteRange graph;
    int level;
  };
  std::vector<Pending> pending;
  WireReader model(data, 0, bytes.size());
  WireRecord record;
  while (!model.done() && model.Next(&record)) {
    if (record.field == kModelGraph && record.wire_type == kLengthDelimited)
      pending.push_back({{record.payload, record.end}, 0});
  }
  auto text = [&](const WireRecord& field) {
    return absl::string_view(bytes.data() + field.payload,
                             field.end - field.payload);
  };
  while (!pending.empty()) {
    const Pending graph = pending.back();
    pending.pop_back();
    WireReader nodes(data, graph.graph.begin, graph.graph.end);
    while (!nodes.done() && nodes.Next(&record)) {
      if (record.field != kGraphNode || record.wire_type != kLengthDelimited)
        continue;
      absl::string_view name, op_type;
      WireReader node(data, record.payload, record.end);
      WireRecord field;
      while (!node.done() && node.Next(&field)) {
        if (field.wire_type != kLengthDelimited) continue;
        if (field.field == kNodeName) name = text(field);
        if (field.field == kNodeOpType) op_type = text(field);
        if (field.field != kNodeAttribute) continue;
        WireReader attribute(data, field.payload, field.end);
        WireRecord value;
        while (!attribute.done() && attribute.Next(&value)) {
          if (value.wire_type != kLengthDelimited ||
              (value.field != kAttributeGraph &&
               value.field != kAttributeGraphs)) {
            continue;
          }
          if (graph.level + 1 > kMaxSubgraphDepth) {
            // The node's name may follow its attributes: read it all.
            WireReader rest(data, field.end, record.end);
            WireRecord later;
            while (!rest.done() && rest.Next(&later)) {
              if (later.wire_type != kLengthDelimited) continue;
              if (later.field == kNodeName) name = text(later);
              if (later.field == kNodeOpType) op_type = text(later);
            }
            return absl::InvalidArgumentError(absl::StrCat(
                source, ": node '", name, "' (", op_type,
                ") at subgraph level ", graph.level,
                " holds a subgraph nested deeper than hp's limit of ",
                kMaxSubgraphDepth,
                " levels: past protobuf's recursion depth limit of 100 nested "
                "messages, so the model cannot be read"));
          }
          pending.push_back({{value.payload, value.end}, graph.level + 1});
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<onnx::ModelProto> ParseModel(absl::string_view bytes,
                                            absl::string_view source) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": empty file, not an ONNX model"));
  }
  if (bytes.size() > kMaxProtobufBytes)
    return TooLargeError(source, bytes.size());
  google::protobuf::io::ArrayInputStream array(bytes.data(),
                                               static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream input(&array);
  input.SetTotalBytesLimit(static_cast<int>(kMaxProtobufBytes));
  onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
    // Too deep for protobuf reads as corrupt; say so instead.
    HP_RETURN_IF_ERROR(CheckSubgraphDepth(bytes, source));
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": not an ONNX model (protobuf parse failed: the file is "
                     "truncated, corrupt or of another format)"));
  }
  // Arbitrary bytes can happen to parse as a protobuf message made only of
  // unknown fields; a real model always states its IR version.
  if (!model.has_ir_version() || model.ir_version() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": not an ONNX model (no ir_version field; the file is of "
                     "another format)"));
  }
  return model;
}

absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > kMaxProtobufBytes) return TooLargeError(path, size);
  HP_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  HP_ASSIGN_OR_RETURN(onnx::ModelProto model, ParseModel(bytes, path));
  HP_RETURN_IF_ERROR(CheckExternalDataLocations(model, path));
  return model;
}

absl::StatusOr<std::string> SerializeModel(const onnx::ModelProto& model,
                                           absl::string_view destination) {
  const size_t size = model.ByteSizeLong();
  if (size > kMaxProtobufBytes) return TooLargeError(destination, size);
  return SerializeSized(model, destination, "model");
}

absl::StatusOr<std::string> SerializeSized(
    const google::protobuf::MessageLite& message, absl::string_view destination,
    absl::string_view what) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream output(&stream);
    output.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&output);
    if (output.HadError()) {
      return absl::InternalError(
          absl::StrCat(destination, ": serializing the ", what, " failed"));
    }
  }
  return bytes;
}

absl::StatusOr<AtomicFileWriter> CreateSaveWriter(const std::string& path,
                                                  const SaveOptions& options) {
  if (!options.input_path.empty() && !options.overwrite_input &&
      SameFile(options.input_path, path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        ": refusing to overwrite the input model; choose another output "
        "path",
        options.in_place_possible ? " or ask for in-place writing explicitly"
                                  : ""));
  }
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Create(path));
  if (options.durability == Durability::kFsync) writer.WriteBackEarly();
  return writer;
}

absl::StatusOr<AtomicFileWriter> SaveModelUncommitted(
    const onnx::ModelProto& model, const std::string& path,
    const SaveOptions& options) {
  // The writer first: its refusal to replace the input comes before the
  // serializing.
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer, CreateSaveWriter(path, options));
  HP_ASSIGN_OR_RETURN(std::string bytes, SerializeModel(model, path));
  HP_RETURN_IF_ERROR(writer.Append(bytes));
  return writer;
}

absl::Status SaveModel(const onnx::ModelProto& model, const std::string& path,
                       const SaveOptions& options) {
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                      SaveModelUncommitted(model, path, options));
  return writer.Commit(options.durability);
}

}  // namespace hp
