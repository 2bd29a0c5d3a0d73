#include "hp/io/model_io.h"

#include <algorithm>
#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "hp/io/atomic_file.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

absl::Status TooLargeError(absl::string_view source, uint64_t size) {
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", size,
      " bytes is over protobuf's 2 GB limit for one message; store the "
      "weights as ONNX external data (tensors in side files) instead"));
}

// Calls `visit` on every tensor of a graph, its nodes' attributes and their
// subgraphs.
void ForEachTensorInGraph(const onnx::GraphProto& graph,
                          const std::function<void(const onnx::TensorProto&)>& visit);

void ForEachTensorInNode(const onnx::NodeProto& node,
                         const std::function<void(const onnx::TensorProto&)>& visit) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.has_t()) visit(attribute.t());
    for (const onnx::TensorProto& tensor : attribute.tensors()) visit(tensor);
    if (attribute.has_sparse_tensor()) {
      visit(attribute.sparse_tensor().values());
      visit(attribute.sparse_tensor().indices());
    }
    for (const onnx::SparseTensorProto& sparse : attribute.sparse_tensors()) {
      visit(sparse.values());
      visit(sparse.indices());
    }
    if (attribute.has_g()) ForEachTensorInGraph(attribute.g(), visit);
    for (const onnx::GraphProto& graph : attribute.graphs()) {
      ForEachTensorInGraph(graph, visit);
    }
  }
}

void ForEachTensorInGraph(const onnx::GraphProto& graph,
                          const std::function<void(const onnx::TensorProto&)>& visit) {
  for (const onnx::TensorProto& tensor : graph.initializer()) visit(tensor);
  for (const onnx::SparseTensorProto& sparse : graph.sparse_initializer()) {
    visit(sparse.values());
    visit(sparse.indices());
  }
  for (const onnx::NodeProto& node : graph.node()) ForEachTensorInNode(node, visit);
}

void ForEachTensorInModel(const onnx::ModelProto& model,
                          const std::function<void(const onnx::TensorProto&)>& visit) {
  ForEachTensorInGraph(model.graph(), visit);
  for (const onnx::TrainingInfoProto& info : model.training_info()) {
    ForEachTensorInGraph(info.initialization(), visit);
    ForEachTensorInGraph(info.algorithm(), visit);
  }
  for (const onnx::FunctionProto& function : model.functions()) {
    for (const onnx::NodeProto& node : function.node()) {
      ForEachTensorInNode(node, visit);
    }
  }
}

absl::Status CheckOneLocation(const onnx::TensorProto& tensor,
                              const std::string& model_path) {
  std::string location;
  bool found = false;
  for (const onnx::StringStringEntryProto& entry : tensor.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
      found = true;
    }
  }
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": tensor '", tensor.name(),
                     "': external data location '", location, "' ", why));
  };
  if (!found || location.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": tensor '", tensor.name(),
                     "': external data has no 'location' entry"));
  }
  std::filesystem::path relative(location);
  if (relative.is_absolute()) return error("is an absolute path");
  for (const std::filesystem::path& part : relative) {
    if (part == "..") return error("contains '..'");
  }
  // A symbolic link inside the folder may still lead out of it.
  std::filesystem::path folder =
      std::filesystem::path(model_path).parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ignored;
  std::filesystem::path real_folder =
      std::filesystem::weakly_canonical(folder, ignored);
  std::filesystem::path real_target =
      std::filesystem::weakly_canonical(folder / relative, ignored);
  auto [folder_end, target_it] = std::mismatch(
      real_folder.begin(), real_folder.end(), real_target.begin(),
      real_target.end());
  if (folder_end != real_folder.end()) {
    return error("leads outside the model's folder");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<onnx::ModelProto> ParseModel(absl::string_view bytes,
                                            absl::string_view source) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": empty file, not an ONNX model"));
  }
  if (bytes.size() > kMaxProtobufBytes) return TooLargeError(source, bytes.size());
  google::protobuf::io::ArrayInputStream array(bytes.data(),
                                               static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream input(&array);
  input.SetTotalBytesLimit(static_cast<int>(kMaxProtobufBytes));
  onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not an ONNX model (protobuf parse failed: the file is "
                "truncated, corrupt or of another format)"));
  }
  // Arbitrary bytes can happen to parse as a protobuf message made only of
  // unknown fields; a real model always states its IR version.
  if (!model.has_ir_version() || model.ir_version() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not an ONNX model (no ir_version field; the file is of "
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

absl::Status SaveModel(const onnx::ModelProto& model, const std::string& path,
                       const SaveOptions& options) {
  if (!options.input_path.empty() && !options.overwrite_input &&
      SameFile(options.input_path, path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": refusing to overwrite the input model; choose another "
              "output path or ask for in-place writing explicitly"));
  }
  HP_ASSIGN_OR_RETURN(std::string bytes, SerializeModel(model, path));
  return WriteFileAtomically(path, bytes);
}

absl::Status CheckExternalDataLocations(const onnx::ModelProto& model,
                                        const std::string& model_path) {
  absl::Status first_problem;
  ForEachTensorInModel(model, [&](const onnx::TensorProto& tensor) {
    if (!first_problem.ok() ||
        tensor.data_location() != onnx::TensorProto::EXTERNAL) {
      return;
    }
    first_problem = CheckOneLocation(tensor, model_path);
  });
  return first_problem;
}

}  // namespace hp
