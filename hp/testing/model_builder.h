// Small ONNX models and scope traces built in code, for tests: a fluent
// builder for graphs (inputs, outputs, initializers, nodes, subgraph
// attributes) and one for hp scope traces.
//
//   onnx::ModelProto model =
//       hp::testing::ModelBuilder()
//           .Input("x")
//           .Initializer("w", {2, 2}, {1, 2, 3, 4})
//           .Node("/encoder/MatMul", "MatMul", {"x", "w"}, {"h"})
//           .Node("/If", "If", {"c"}, {"y"})
//           .Subgraph("then_branch", hp::testing::GraphBuilder("then")
//                                        .Node("Identity_3", "Identity",
//                                              {"h"}, {"t"})
//                                        .Output("t"))
//           .Output("y")
//           .Build();
//
//   absl::StatusOr<hp::ScopeTrace> trace =
//       hp::testing::TraceBuilder("Net")
//           .Module("encoder", "Encoder")
//           .TorchNn("encoder.relu", "ReLU", /*call_count=*/2)
//           .Build();
//
// Node modifiers (Subgraph, Attribute, NodeMetadata, DocString) apply to the
// node added last; calling one before any Node() aborts the test binary.
#ifndef HP_TESTING_MODEL_BUILDER_H_
#define HP_TESTING_MODEL_BUILDER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {
namespace testing {

class GraphBuilder;

namespace internal {
void AddValueInfo(onnx::GraphProto* graph, bool output, absl::string_view name,
                  int32_t elem_type);
void AddInitializer(onnx::GraphProto* graph, absl::string_view name,
                    const std::vector<int64_t>& dims,
                    const std::vector<float>& values);
void AddNode(onnx::GraphProto* graph, absl::string_view name,
             absl::string_view op_type, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs);
void AddChain(onnx::GraphProto* graph, const std::vector<std::string>& names);
onnx::NodeProto* LastNode(onnx::GraphProto* graph, absl::string_view modifier);
onnx::AttributeProto* NewAttribute(onnx::GraphProto* graph,
                                   absl::string_view name,
                                   onnx::AttributeProto::AttributeType type);
void AddSubgraph(onnx::NodeProto* node, absl::string_view attribute,
                 const onnx::GraphProto& body);
}  // namespace internal

// The graph-editing methods ModelBuilder and GraphBuilder share; each
// returns the builder so that calls chain.
template <typename Self>
class GraphBuilderBase {
 public:
  Self& Input(absl::string_view name,
              int32_t elem_type = onnx::TensorProto::FLOAT) {
    internal::AddValueInfo(&graph_, /*output=*/false, name, elem_type);
    return self();
  }
  Self& Output(absl::string_view name,
               int32_t elem_type = onnx::TensorProto::FLOAT) {
    internal::AddValueInfo(&graph_, /*output=*/true, name, elem_type);
    return self();
  }
  // A FLOAT tensor; `values` may be empty (a tensor with dims only).
  Self& Initializer(absl::string_view name, const std::vector<int64_t>& dims,
                    const std::vector<float>& values = {}) {
    internal::AddInitializer(&graph_, name, dims, values);
    return self();
  }
  Self& Node(absl::string_view name, absl::string_view op_type,
             const std::vector<std::string>& inputs = {},
             const std::vector<std::string>& outputs = {}) {
    internal::AddNode(&graph_, name, op_type, inputs, outputs);
    return self();
  }
  // One node per name, each consuming the previous one's output; the op
  // type is the name's last "/" component without a "_N" suffix
  // ("/encoder/relu/Relu_1" -> "Relu").
  Self& Chain(const std::vector<std::string>& node_names) {
    internal::AddChain(&graph_, node_names);
    return self();
  }

  // Modifiers of the node added last.
  // A GRAPH attribute holding `body` (If's then_branch, Loop's body, ...).
  Self& Subgraph(absl::string_view attribute, const GraphBuilder& body);
  Self& Attribute(absl::string_view name, absl::string_view value) {
    internal::NewAttribute(&graph_, name, onnx::AttributeProto::STRING)
        ->set_s(std::string(value));
    return self();
  }
  Self& Attribute(absl::string_view name, int64_t value) {
    internal::NewAttribute(&graph_, name, onnx::AttributeProto::INT)
        ->set_i(value);
    return self();
  }
  Self& NodeMetadata(absl::string_view key, absl::string_view value) {
    onnx::StringStringEntryProto* entry =
        internal::LastNode(&graph_, "NodeMetadata")->add_metadata_props();
    entry->set_key(std::string(key));
    entry->set_value(std::string(value));
    return self();
  }
  Self& DocString(absl::string_view text) {
    internal::LastNode(&graph_, "DocString")->set_doc_string(std::string(text));
    return self();
  }

 protected:
  GraphBuilderBase() = default;
  onnx::GraphProto graph_;

 private:
  Self& self() { return static_cast<Self&>(*this); }
};

// A subgraph, for Subgraph().
class GraphBuilder : public GraphBuilderBase<GraphBuilder> {
 public:
  explicit GraphBuilder(absl::string_view name = "body");
  const onnx::GraphProto& Build() const { return graph_; }
};

// A model: IR version 10 (NodeProto.metadata_props exists), one opset
// import of the default domain (17 unless Opset() says otherwise).
class ModelBuilder : public GraphBuilderBase<ModelBuilder> {
 public:
  ModelBuilder();
  ModelBuilder& Opset(int64_t version);
  ModelBuilder& ModelMetadata(absl::string_view key, absl::string_view value);
  onnx::ModelProto Build() const;

 private:
  onnx::ModelProto model_;
};

template <typename Self>
Self& GraphBuilderBase<Self>::Subgraph(absl::string_view attribute,
                                       const GraphBuilder& body) {
  internal::AddSubgraph(internal::LastNode(&graph_, "Subgraph"), attribute,
                        body.Build());
  return self();
}

// A scope trace (docs/scope-trace.md) for a model that has not been
// exported: the root, then modules in the order added. Every dotted prefix
// of a path must be added before it, as torch's named_modules() lists them.
class TraceBuilder {
 public:
  explicit TraceBuilder(absl::string_view root_class);
  // A module of the model's own code (not torch.nn). call_count 0: never run.
  TraceBuilder& Module(absl::string_view path, absl::string_view class_name,
                       int64_t call_count = 1);
  // A torch.nn module (qualified class torch.nn.modules.*).
  TraceBuilder& TorchNn(absl::string_view path, absl::string_view class_name,
                        int64_t call_count = 1);
  // A call of the module at `path`, made inside call number `parent` (in
  // the order added, from 0), or by the root's own forward (-1). A trace
  // with at least one call records the call sequence; one without has no
  // `calls` field, as traces recorded before it existed.
  TraceBuilder& Call(absl::string_view path, int parent = -1);
  // The trace's JSON text.
  std::string Json() const;
  // Json() through hp::ParseScopeTrace, with source "<TraceBuilder>".
  absl::StatusOr<ScopeTrace> Build() const;

 private:
  struct Entry {
    std::string path;
    std::string class_name;
    std::string qualified_class;
    bool is_torch_nn = false;
    int64_t call_count = 1;
  };
  TraceBuilder& Add(Entry entry);
  std::vector<Entry> modules_;
  std::vector<std::pair<std::string, int>> calls_;  // path, parent
};

}  // namespace testing
}  // namespace hp

#endif  // HP_TESTING_MODEL_BUILDER_H_
