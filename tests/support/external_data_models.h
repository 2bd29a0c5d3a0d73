// Models that keep tensors in side files (ONNX external data) everywhere a
// model can hold a tensor, built in code, and their side files on disk.
#ifndef HP_TESTS_SUPPORT_EXTERNAL_DATA_MODELS_H_
#define HP_TESTS_SUPPORT_EXTERNAL_DATA_MODELS_H_

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "hp/testing/model_builder.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"

namespace hp {
namespace testing_external_data {

// A FLOAT tensor of two values stored at the start of `location`.
inline onnx::TensorProto ExternalTensor(const std::string& name,
                                        const std::string& location) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  tensor.add_dims(2);
  tensor.set_data_location(onnx::TensorProto::EXTERNAL);
  for (const auto& [key, value] :
       {std::make_pair("location", location),
        std::make_pair("offset", std::string("0")),
        std::make_pair("length", std::string("8"))}) {
    onnx::StringStringEntryProto* entry = tensor.add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  return tensor;
}

// The side files of ModelWithExternalDataEverywhere(), in the order a walk of
// the model meets them.
inline std::vector<std::string> EverywhereFiles() {
  return {"weights.bin", "sparse/values.bin", "branch.bin", "constant.bin",
          "function.bin"};
}

// Main-graph initializers (two in weights.bin, one named "./weights.bin"),
// a sparse initializer's values, an initializer of an If's then_branch, a
// Constant's value attribute and a tensor attribute of a function's node
// stored in side files; one initializer inline.
inline onnx::ModelProto ModelWithExternalDataEverywhere() {
  onnx::ModelProto model =
      testing::ModelBuilder()
          .Input("c", onnx::TensorProto::BOOL)
          .Initializer("inline", {2}, {1, 2})
          .Node("/If", "If", {"c"}, {"y"})
          .Subgraph("then_branch",
                    testing::GraphBuilder("then")
                        .Node("/then/Identity", "Identity", {"b"}, {"t"})
                        .Output("t"))
          .Subgraph("else_branch",
                    testing::GraphBuilder("else")
                        .Node("/else/Identity", "Identity", {"inline"}, {"e"})
                        .Output("e"))
          .Node("/Constant", "Constant", {}, {"k"})
          .Output("y")
          .Output("k")
          .Build();
  onnx::GraphProto* graph = model.mutable_graph();
  *graph->add_initializer() = ExternalTensor("w", "weights.bin");
  *graph->add_initializer() = ExternalTensor("w2", "./weights.bin");
  onnx::SparseTensorProto* sparse = graph->add_sparse_initializer();
  sparse->add_dims(4);
  *sparse->mutable_values() = ExternalTensor("s", "sparse/values.bin");
  onnx::TensorProto* indices = sparse->mutable_indices();
  indices->set_name("s_indices");
  indices->set_data_type(onnx::TensorProto::INT64);
  indices->add_dims(2);
  indices->add_int64_data(0);
  indices->add_int64_data(3);
  *graph->mutable_node(0)
       ->mutable_attribute(0)
       ->mutable_g()
       ->add_initializer() = ExternalTensor("b", "branch.bin");
  onnx::AttributeProto* value = graph->mutable_node(1)->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = ExternalTensor("k", "constant.bin");
  onnx::FunctionProto* function = model.add_functions();
  function->set_name("F");
  function->set_domain("local");
  onnx::NodeProto* node = function->add_node();
  node->set_op_type("Constant");
  node->add_output("out");
  onnx::AttributeProto* function_value = node->add_attribute();
  function_value->set_name("value");
  function_value->set_type(onnx::AttributeProto::TENSOR);
  *function_value->mutable_t() = ExternalTensor("f", "function.bin");
  return model;
}

// Writes each side file of EverywhereFiles() under `folder`, with bytes of
// its own.
inline void WriteEverywhereFiles(const std::string& folder) {
  for (const std::string& file : EverywhereFiles()) {
    const std::string path = folder + "/" + file;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path());
    test_files::WriteBytes(path, "8 bytes:" + file);
  }
}

}  // namespace testing_external_data
}  // namespace hp

#endif  // HP_TESTS_SUPPORT_EXTERNAL_DATA_MODELS_H_
