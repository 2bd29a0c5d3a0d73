#include "hp/testing/model_builder.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "hp/scope/node_names.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace testing {
namespace internal {

void AddValueInfo(onnx::GraphProto* graph, bool output, absl::string_view name,
                  int32_t elem_type) {
  onnx::ValueInfoProto* value =
      output ? graph->add_output() : graph->add_input();
  value->set_name(std::string(name));
  value->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
}

void AddInitializer(onnx::GraphProto* graph, absl::string_view name,
                    const std::vector<int64_t>& dims,
                    const std::vector<float>& values) {
  onnx::TensorProto* tensor = graph->add_initializer();
  tensor->set_name(std::string(name));
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : dims) tensor->add_dims(dim);
  for (float value : values) tensor->add_float_data(value);
}

void AddNode(onnx::GraphProto* graph, absl::string_view name,
             absl::string_view op_type, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs) {
  onnx::NodeProto* node = graph->add_node();
  node->set_name(std::string(name));
  node->set_op_type(std::string(op_type));
  for (const std::string& input : inputs) node->add_input(input);
  for (const std::string& output : outputs) node->add_output(output);
}

void AddChain(onnx::GraphProto* graph, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    absl::string_view op = name;
    if (const size_t slash = op.rfind('/'); slash != absl::string_view::npos) {
      op = op.substr(slash + 1);
    }
    if (absl::string_view base = WithoutDedupSuffix(op); !base.empty()) {
      op = base;
    }
    std::vector<std::string> inputs;
    if (graph->node_size() > 0) {
      const onnx::NodeProto& previous = graph->node(graph->node_size() - 1);
      if (previous.output_size() > 0) inputs.push_back(previous.output(0));
    }
    AddNode(graph, name, op, inputs, {absl::StrCat("v", graph->node_size())});
  }
}

onnx::NodeProto* LastNode(onnx::GraphProto* graph, absl::string_view modifier) {
  if (graph->node_size() == 0) {
    std::fprintf(stderr,
                 "hp::testing builder: %.*s() modifies the node added last, "
                 "but graph '%s' has no node yet\n",
                 static_cast<int>(modifier.size()), modifier.data(),
                 graph->name().c_str());
    std::abort();
  }
  return graph->mutable_node(graph->node_size() - 1);
}

onnx::AttributeProto* NewAttribute(onnx::GraphProto* graph,
                                   absl::string_view name,
                                   onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* attribute =
      LastNode(graph, "Attribute")->add_attribute();
  attribute->set_name(std::string(name));
  attribute->set_type(type);
  return attribute;
}

void AddSubgraph(onnx::NodeProto* node, absl::string_view attribute,
                 const onnx::GraphProto& body) {
  onnx::AttributeProto* graph_attribute = node->add_attribute();
  graph_attribute->set_name(std::string(attribute));
  graph_attribute->set_type(onnx::AttributeProto::GRAPH);
  *graph_attribute->mutable_g() = body;
}

}  // namespace internal

GraphBuilder::GraphBuilder(absl::string_view name) {
  graph_.set_name(std::string(name));
}

ModelBuilder::ModelBuilder() {
  model_.set_ir_version(10);
  model_.set_producer_name("hp::testing::ModelBuilder");
  model_.add_opset_import()->set_version(17);
  graph_.set_name("main_graph");
}

ModelBuilder& ModelBuilder::Opset(int64_t version) {
  model_.mutable_opset_import(0)->set_version(version);
  return *this;
}

ModelBuilder& ModelBuilder::ModelMetadata(absl::string_view key,
                                          absl::string_view value) {
  onnx::StringStringEntryProto* entry = model_.add_metadata_props();
  entry->set_key(std::string(key));
  entry->set_value(std::string(value));
  return *this;
}

onnx::ModelProto ModelBuilder::Build() const {
  onnx::ModelProto model = model_;
  *model.mutable_graph() = graph_;
  return model;
}

TraceBuilder::TraceBuilder(absl::string_view root_class) {
  Add({"", std::string(root_class), absl::StrCat("test_models.", root_class),
       false, 1});
}

TraceBuilder& TraceBuilder::Module(absl::string_view path,
                                   absl::string_view class_name,
                                   int64_t call_count) {
  return Add({std::string(path), std::string(class_name),
              absl::StrCat("test_models.", class_name), false, call_count});
}

TraceBuilder& TraceBuilder::TorchNn(absl::string_view path,
                                    absl::string_view class_name,
                                    int64_t call_count) {
  // torch.nn.modules.<file>.<Class>; the file name does not matter to hp.
  return Add({std::string(path), std::string(class_name),
              absl::StrCat("torch.nn.modules.",
                           absl::AsciiStrToLower(class_name), ".", class_name),
              true, call_count});
}

TraceBuilder& TraceBuilder::Add(Entry entry) {
  modules_.push_back(std::move(entry));
  return *this;
}

TraceBuilder& TraceBuilder::Call(absl::string_view path, int parent) {
  calls_.emplace_back(std::string(path), parent);
  return *this;
}

std::string TraceBuilder::Json() const {
  const Entry& root = modules_.front();
  nlohmann::ordered_json modules = nlohmann::ordered_json::array();
  int64_t call_order = 0;
  for (const Entry& entry : modules_) {
    const bool executed = entry.call_count > 0;
    nlohmann::ordered_json module = {
        {"path", entry.path},
        {"class", entry.class_name},
        {"qualified_class", entry.qualified_class},
        {"is_torch_nn", entry.is_torch_nn},
        {"executed", executed},
        {"call_count", entry.call_count},
        {"first_call_order", nullptr},
        {"tag", nullptr},
    };
    if (executed) module["first_call_order"] = call_order++;
    modules.push_back(std::move(module));
  }
  nlohmann::ordered_json trace = {
      {"format", kScopeTraceFormat},
      {"format_version", 1},
      {"producer",
       {{"name", "hp::testing::TraceBuilder"}, {"torch_version", "1.13.0"}}},
      {"model",
       {{"onnx_file", "model.onnx"},
        {"onnx_sha256", std::string(64, '0')},
        {"opset", 17}}},
      {"root",
       {{"class", root.class_name}, {"qualified_class", root.qualified_class}}},
      {"modules", std::move(modules)},
  };
  if (!calls_.empty()) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::array();
    for (const auto& [path, parent] : calls_) {
      calls.push_back({{"path", path}, {"parent", nullptr}});
      if (parent >= 0) calls.back()["parent"] = parent;
    }
    trace["calls"] = std::move(calls);
  }
  return trace.dump(2);
}

absl::StatusOr<ScopeTrace> TraceBuilder::Build() const {
  return ParseScopeTrace(Json(), "<TraceBuilder>");
}

}  // namespace testing
}  // namespace hp
