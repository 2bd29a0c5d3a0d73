#include "bench/synthetic_models.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "hp/io/structure_digest.h"
#include "hp/util/sha256.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"
#include "proto/onnx.pb.h"

namespace hp {
namespace bench {
namespace {

using Json = nlohmann::ordered_json;

// Weights that do not compress or deduplicate: xorshift64.
std::string NoiseBytes(size_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::memcpy(&bytes[i], &state, 8);
  }
  return bytes;
}

onnx::ModelProto NewModel(const std::string& graph_name) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("pytorch");
  model.set_producer_version("1.13.1");
  model.add_opset_import()->set_version(17);
  model.mutable_graph()->set_name(graph_name);
  return model;
}

onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& name,
                         const std::string& op_type,
                         std::vector<std::string> inputs) {
  onnx::NodeProto* node = graph->add_node();
  node->set_name(name);
  node->set_op_type(op_type);
  for (std::string& input : inputs) node->add_input(std::move(input));
  node->add_output(absl::StrCat(name, "_output_0"));
  return node;
}

onnx::TensorProto* AddWeight(onnx::GraphProto* graph, const std::string& name,
                             int64_t rows, int64_t columns, uint64_t seed) {
  onnx::TensorProto* tensor = graph->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  if (rows > 0) tensor->add_dims(rows);
  tensor->add_dims(columns);
  tensor->set_raw_data(NoiseBytes(
      static_cast<size_t>((rows > 0 ? rows : 1) * columns * 4), seed));
  return tensor;
}

// A trace module entry; `order` 0 means it never ran.
Json Module(const std::string& path, const std::string& class_name,
            const std::string& qualified, int64_t order) {
  Json module;
  module["path"] = path;
  module["class"] = class_name;
  module["qualified_class"] = qualified;
  module["is_torch_nn"] = qualified.rfind("torch.nn.", 0) == 0;
  module["executed"] = order > 0 || path.empty();
  module["call_count"] = order > 0 || path.empty() ? 1 : 0;
  module["first_call_order"] = order > 0 || path.empty() ? Json(order) : Json();
  module["tag"] = Json();
  return module;
}

absl::Status Save(const onnx::ModelProto& model, const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(path, ": cannot create"));
  const bool ok = model.SerializeToFileDescriptor(fd);
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

// Adds `layers` MLP blocks (nodes and trace modules) to the graph, from
// layer `first` on; `add_weight(layer, name, rows, columns, seed)` stores
// each weight (rows 0: a bias) wherever the model keeps it.
using WeightAdder =
    std::function<void(int layer, const std::string& name, int64_t rows,
                       int64_t columns, uint64_t seed)>;

// A graph input or output typed (float, [batch, hidden]), as an export
// declares them: a cut of the graph (extract) infers its tensors' types
// from these.
void DeclareFloat(onnx::ValueInfoProto* value, const std::string& name,
                  int64_t hidden) {
  value->set_name(name);
  auto* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_param("batch");
  tensor->mutable_shape()->add_dim()->set_dim_value(hidden);
}

void AddMlpLayers(onnx::GraphProto* graph, int layers, int hidden,
                  const WeightAdder& add_weight, Json* modules) {
  int64_t order = 0;
  modules->push_back(Module("", "SyntheticMLP", "bench.SyntheticMLP", 0));
  modules->push_back(Module("layers", "ModuleList",
                            "torch.nn.modules.container.ModuleList", 0));
  DeclareFloat(graph->add_input(), "input", hidden);
  std::string x = "input";
  for (int i = 0; i < layers; ++i) {
    const std::string layer = absl::StrCat("layers.", i);
    const std::string scope = absl::StrCat("/layers.", i);
    modules->push_back(Module(layer, "Block", "bench.Block", ++order));
    modules->push_back(Module(layer + ".mlp", "MLP", "bench.MLP", ++order));
    modules->push_back(Module(layer + ".mlp.fc1", "Linear",
                              "torch.nn.modules.linear.Linear", ++order));
    modules->push_back(Module(layer + ".mlp.act", "ReLU",
                              "torch.nn.modules.activation.ReLU", ++order));
    modules->push_back(Module(layer + ".mlp.fc2", "Linear",
                              "torch.nn.modules.linear.Linear", ++order));
    const std::string w1 = layer + ".mlp.fc1.weight";
    const std::string b1 = layer + ".mlp.fc1.bias";
    const std::string w2 = layer + ".mlp.fc2.weight";
    const std::string b2 = layer + ".mlp.fc2.bias";
    add_weight(i, w1, hidden, 4 * hidden, 4 * i + 1);
    add_weight(i, b1, 0, 4 * hidden, 4 * i + 2);
    add_weight(i, w2, 4 * hidden, hidden, 4 * i + 3);
    add_weight(i, b2, 0, hidden, 4 * i + 4);
    const std::string mlp = scope + "/mlp";
    auto* mm1 = AddNode(graph, mlp + "/fc1/MatMul", "MatMul", {x, w1});
    auto* add1 = AddNode(graph, mlp + "/fc1/Add", "Add", {mm1->output(0), b1});
    auto* relu = AddNode(graph, mlp + "/act/Relu", "Relu", {add1->output(0)});
    auto* mm2 =
        AddNode(graph, mlp + "/fc2/MatMul", "MatMul", {relu->output(0), w2});
    auto* add2 = AddNode(graph, mlp + "/fc2/Add", "Add", {mm2->output(0), b2});
    x = AddNode(graph, scope + "/Add", "Add", {x, add2->output(0)})->output(0);
  }
  DeclareFloat(graph->add_output(), x, hidden);
}

int LayersFor(uint64_t bytes, int hidden) {
  const uint64_t layer_bytes = uint64_t{8} * hidden * hidden * 4;
  return static_cast<int>((bytes + layer_bytes - 1) / layer_bytes);
}

// A length-delimited protobuf field's tag (fields 1 to 15) and length.
std::string FieldHeader(uint32_t field, uint64_t length) {
  std::string header(1, static_cast<char>(field << 3 | 2));
  do {
    const uint8_t low = length & 0x7f;
    length >>= 7;
    header.push_back(static_cast<char>(length ? low | 0x80 : low));
  } while (length);
  return header;
}

// A file written front to back, its errors kept for the end.
class FileOut {
 public:
  explicit FileOut(const std::string& path)
      : path_(path),
        fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)) {}
  ~FileOut() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Write(absl::string_view bytes) {
    while (ok() && !bytes.empty()) {
      const ssize_t done = ::write(fd_, bytes.data(), bytes.size());
      if (done <= 0) {
        failed_ = true;
        return;
      }
      bytes.remove_prefix(static_cast<size_t>(done));
      written_ += static_cast<uint64_t>(done);
    }
  }
  void WriteFieldHeader(uint32_t field, uint64_t length) {
    Write(FieldHeader(field, length));
  }
  uint64_t written() const { return written_; }
  bool ok() const { return fd_ >= 0 && !failed_; }
  absl::Status Close() {
    if (fd_ >= 0 && ::close(fd_) != 0) failed_ = true;
    const bool opened = fd_ >= 0;
    fd_ = -1;
    if (!opened || failed_) {
      return absl::InternalError(absl::StrCat(path_, ": cannot write"));
    }
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_;
  bool failed_ = false;
  uint64_t written_ = 0;
};

// Calls its argument with each trace module entry in order.
using ModuleSource =
    std::function<void(const std::function<void(const Json&)>&)>;

ModuleSource ModulesOf(const Json& modules) {
  return [&modules](const std::function<void(const Json&)>& emit) {
    for (const Json& module : modules) emit(module);
  };
}

// Writes <stem>.trace.json for the model at `path` (which must exist: its
// digest goes into the trace). The modules are written one at a time, laid
// out as nlohmann's dump(1) lays out the whole trace, so a trace of
// millions of modules is never held as one JSON value.
absl::Status WriteTrace(const std::string& path, const std::string& root_class,
                        const ModuleSource& modules) {
  HP_ASSIGN_OR_RETURN(std::string sha256, Sha256FileHex(path));
  HP_ASSIGN_OR_RETURN(std::string structure_sha256,
                      StructureSha256FileHex(path));
  Json trace;
  trace["format"] = "hp-scope-trace";
  trace["format_version"] = 1;
  trace["producer"] = {{"name", "hp_bench"}, {"torch_version", "1.13.1"}};
  trace["model"] = {
      {"onnx_file", std::filesystem::path(path).filename().string()},
      {"onnx_sha256", sha256},
      {"onnx_structure_sha256", structure_sha256},
      {"opset", 17}};
  trace["root"] = {{"class", root_class},
                   {"qualified_class", absl::StrCat("bench.", root_class)}};
  std::string head = trace.dump(1);
  head.resize(head.size() - 2);  // the closing "\n}"
  std::filesystem::path trace_path(path);
  trace_path.replace_extension(".trace.json");
  const std::string temporary = trace_path.string() + ".partial";
  FileOut out(temporary);
  out.Write(head);
  out.Write(",\n \"modules\": [");
  std::string text;
  bool first = true;
  modules([&](const Json& module) {
    text.assign(first ? "\n" : ",\n");
    first = false;
    // Each line of the module two levels in, as in the whole trace.
    absl::StrAppend(&text, "  ",
                    absl::StrReplaceAll(module.dump(1), {{"\n", "\n  "}}));
    out.Write(text);
  });
  out.Write(first ? "]\n}\n" : "\n ]\n}\n");
  HP_RETURN_IF_ERROR(out.Close());
  std::error_code error;
  std::filesystem::rename(temporary, trace_path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(trace_path.string(), ": cannot write: ", error.message()));
  }
  return absl::OkStatus();
}

onnx::TensorProto WeightHeader(const std::string& name, int64_t rows,
                               int64_t columns) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  if (rows > 0) tensor.add_dims(rows);
  tensor.add_dims(columns);
  return tensor;
}

size_t WeightBytes(int64_t rows, int64_t columns) {
  return static_cast<size_t>((rows > 0 ? rows : 1) * columns * 4);
}

}  // namespace

absl::Status WriteInlineWeightsModel(const std::string& path,
                                     uint64_t target_bytes, int hidden) {
  onnx::ModelProto model = NewModel("main_graph");
  onnx::GraphProto* graph = model.mutable_graph();
  Json modules = Json::array();
  AddMlpLayers(
      graph, LayersFor(target_bytes, hidden), hidden,
      [graph](int, const std::string& name, int64_t rows, int64_t columns,
              uint64_t seed) { AddWeight(graph, name, rows, columns, seed); },
      &modules);
  HP_RETURN_IF_ERROR(Save(model, path));
  return WriteTrace(path, "SyntheticMLP", ModulesOf(modules));
}

absl::Status WriteExternalDataModel(const std::string& path,
                                    uint64_t external_bytes,
                                    uint64_t inline_bytes, int hidden) {
  const int external_layers = LayersFor(external_bytes, hidden);
  const int inline_layers = LayersFor(inline_bytes, hidden);
  const std::string location =
      std::filesystem::path(path).filename().string() + ".data";
  const std::string side_path =
      (std::filesystem::path(path).parent_path() / location).string();

  onnx::ModelProto model = NewModel("main_graph");
  onnx::GraphProto* graph = model.mutable_graph();
  Json modules = Json::array();
  FileOut side(side_path);
  struct InlineWeight {
    std::string name;
    int64_t rows, columns;
    uint64_t seed;
  };
  std::vector<InlineWeight> inline_weights;
  AddMlpLayers(
      graph, external_layers + inline_layers, hidden,
      [&](int layer, const std::string& name, int64_t rows, int64_t columns,
          uint64_t seed) {
        if (layer >= external_layers) {
          inline_weights.push_back({name, rows, columns, seed});
          return;
        }
        onnx::TensorProto* tensor = graph->add_initializer();
        *tensor = WeightHeader(name, rows, columns);
        const std::string bytes = NoiseBytes(WeightBytes(rows, columns), seed);
        tensor->set_data_location(onnx::TensorProto::EXTERNAL);
        for (const auto& [key, value] :
             {std::make_pair("location", location),
              std::make_pair("offset", absl::StrCat(side.written())),
              std::make_pair("length", absl::StrCat(bytes.size()))}) {
          onnx::StringStringEntryProto* entry = tensor->add_external_data();
          entry->set_key(key);
          entry->set_value(value);
        }
        side.Write(bytes);
      },
      &modules);
  HP_RETURN_IF_ERROR(side.Close());

  // Written record by record, since the file may be past protobuf's 2 GB
  // limit for one message: the model's fields before the graph, the graph
  // (nodes, name and external initializers, then the inline initializers,
  // each serialized alone, then inputs and outputs), then the opsets, in
  // field order as protobuf writes them.
  onnx::ModelProto head = model;
  head.clear_graph();
  head.clear_opset_import();
  onnx::ModelProto tail;
  *tail.mutable_opset_import() = model.opset_import();
  onnx::GraphProto graph_head = *graph;
  graph_head.clear_input();
  graph_head.clear_output();
  onnx::GraphProto graph_tail;
  *graph_tail.mutable_input() = graph->input();
  *graph_tail.mutable_output() = graph->output();
  const std::string graph_head_bytes = graph_head.SerializeAsString();
  const std::string graph_tail_bytes = graph_tail.SerializeAsString();
  constexpr uint32_t kGraphField = 7;        // ModelProto.graph
  constexpr uint32_t kInitializerField = 5;  // GraphProto.initializer
  uint64_t graph_bytes = graph_head_bytes.size() + graph_tail_bytes.size();
  std::vector<size_t> record_bytes;
  for (const InlineWeight& weight : inline_weights) {
    constexpr uint32_t kRawDataField = 9;  // TensorProto.raw_data
    const size_t data = WeightBytes(weight.rows, weight.columns);
    const size_t size =
        WeightHeader(weight.name, weight.rows, weight.columns).ByteSizeLong() +
        FieldHeader(kRawDataField, data).size() + data;
    record_bytes.push_back(size);
    graph_bytes += FieldHeader(kInitializerField, size).size() + size;
  }
  FileOut out(path);
  out.Write(head.SerializeAsString());
  out.WriteFieldHeader(kGraphField, graph_bytes);
  out.Write(graph_head_bytes);
  for (size_t i = 0; i < inline_weights.size() && out.ok(); ++i) {
    const InlineWeight& weight = inline_weights[i];
    onnx::TensorProto tensor =
        WeightHeader(weight.name, weight.rows, weight.columns);
    tensor.set_raw_data(
        NoiseBytes(WeightBytes(weight.rows, weight.columns), weight.seed));
    out.WriteFieldHeader(kInitializerField, record_bytes[i]);
    out.Write(tensor.SerializeAsString());
  }
  out.Write(graph_tail_bytes);
  out.Write(tail.SerializeAsString());
  HP_RETURN_IF_ERROR(out.Close());
  return WriteTrace(path, "SyntheticMLP", ModulesOf(modules));
}

namespace {

// WriteManyNodesModel's graph: per layer of 100 nodes, 10 steps in call
// order (module under the layer, class, qualified class, op).
struct Step {
  const char* module;
  const char* class_name;
  const char* qualified;
  const char* op;
};
constexpr int kNodesPerLayer = 100;
constexpr Step kSteps[] = {
    {"norm1", "LayerNorm", "torch.nn.modules.normalization.LayerNorm",
     "LayerNormalization"},
    {"attn.q", "Linear", "torch.nn.modules.linear.Linear", "MatMul"},
    {"attn.k", "Linear", "torch.nn.modules.linear.Linear", "MatMul"},
    {"attn.v", "Linear", "torch.nn.modules.linear.Linear", "MatMul"},
    {"attn", "Attention", "bench.Attention", "Softmax"},
    {"attn.o", "Linear", "torch.nn.modules.linear.Linear", "MatMul"},
    {"norm2", "LayerNorm", "torch.nn.modules.normalization.LayerNorm",
     "LayerNormalization"},
    {"mlp.fc1", "Linear", "torch.nn.modules.linear.Linear", "Gemm"},
    {"mlp.act", "GELU", "torch.nn.modules.activation.GELU", "Gelu"},
    {"mlp.fc2", "Linear", "torch.nn.modules.linear.Linear", "Gemm"},
};
constexpr int kStepCount = sizeof(kSteps) / sizeof(kSteps[0]);

// Calls `visit` with each of the graph's `nodes` nodes in order, one chain
// from "input"; returns the last output.
std::string ForEachManyNode(
    int64_t nodes, const std::function<void(const onnx::NodeProto&)>& visit) {
  onnx::NodeProto node;
  std::string x = "input";
  for (int64_t made = 0; made < nodes; ++made) {
    const int64_t layer = made / kNodesPerLayer;
    const int k = static_cast<int>(made % kNodesPerLayer);
    const Step& step = kSteps[k % kStepCount];
    // torch names: the layer atom keeps its dot, later atoms are
    // separated by slashes ("/layers.3/attn/q/MatMul").
    std::string module = step.module;
    std::replace(module.begin(), module.end(), '.', '/');
    const int round = k / kStepCount;
    std::string name =
        absl::StrCat("/layers.", layer, "/", module, "/", step.op);
    if (round > 0) absl::StrAppend(&name, "_", round);
    node.Clear();
    node.add_input(x);
    x = absl::StrCat(name, "_output_0");
    node.add_output(x);
    node.set_name(std::move(name));
    node.set_op_type(step.op);
    visit(node);
  }
  return x;
}

// The trace modules of ForEachManyNode's graph.
void ForEachManyNodesModule(int64_t nodes,
                            const std::function<void(const Json&)>& emit) {
  emit(Module("", "SyntheticTransformer", "bench.SyntheticTransformer", 0));
  emit(Module("layers", "ModuleList", "torch.nn.modules.container.ModuleList",
              0));
  int64_t order = 0;
  const int64_t layers = (nodes + kNodesPerLayer - 1) / kNodesPerLayer;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string layer = absl::StrCat("layers.", i);
    emit(Module(layer, "Block", "bench.Block", ++order));
    emit(Module(layer + ".attn", "Attention", "bench.Attention", ++order));
    emit(Module(layer + ".mlp", "MLP", "bench.MLP", ++order));
    for (const Step& step : kSteps) {
      if (std::string(step.class_name) == "Attention") continue;
      emit(Module(absl::StrCat(layer, ".", step.module), step.class_name,
                  step.qualified, ++order));
    }
  }
}

}  // namespace

absl::Status WriteManyNodesModel(const std::string& path, int64_t nodes) {
  // Written record by record (as protobuf orders the fields), so the graph
  // is never held whole: first its node records' size, then the file.
  onnx::ModelProto head = NewModel("main_graph");
  head.clear_graph();
  onnx::ModelProto tail;
  tail.mutable_opset_import()->Swap(head.mutable_opset_import());
  constexpr uint32_t kGraphField = 7;  // ModelProto.graph
  constexpr uint32_t kNodeField = 1;   // GraphProto.node
  uint64_t node_bytes = 0;
  const std::string last =
      ForEachManyNode(nodes, [&](const onnx::NodeProto& node) {
        const size_t size = node.ByteSizeLong();
        node_bytes += FieldHeader(kNodeField, size).size() + size;
      });
  onnx::GraphProto graph_tail;
  graph_tail.set_name("main_graph");
  // Every node keeps its input's element type and rank.
  constexpr int64_t kHidden = 16;
  DeclareFloat(graph_tail.add_input(), "input", kHidden);
  DeclareFloat(graph_tail.add_output(), last, kHidden);
  const std::string graph_tail_bytes = graph_tail.SerializeAsString();

  FileOut out(path);
  out.Write(head.SerializeAsString());
  out.WriteFieldHeader(kGraphField, node_bytes + graph_tail_bytes.size());
  std::string record;
  ForEachManyNode(nodes, [&](const onnx::NodeProto& node) {
    record = FieldHeader(kNodeField, node.ByteSizeLong());
    node.AppendToString(&record);
    out.Write(record);
  });
  out.Write(graph_tail_bytes);
  out.Write(tail.SerializeAsString());
  HP_RETURN_IF_ERROR(out.Close());
  return WriteTrace(path, "SyntheticTransformer",
                    [nodes](const std::function<void(const Json&)>& emit) {
                      ForEachManyNodesModule(nodes, emit);
                    });
}

}  // namespace bench
}  // namespace hp
