// What hp reads of a model's nodes: every node in graph order, subgraph
// bodies (If/Loop/Scan attributes) right after the node that owns them, each
// with its name, op, inputs, outputs and metadata entries as views. The
// views point into node messages, or straight into a mapped model file:
// ModelSplice reads the main graph's node records that way without parsing
// them into messages (a million NodeProtos cost more than everything else
// hp does with them).
#ifndef HP_IO_NODE_LIST_H_
#define HP_IO_NODE_LIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "hp/io/wire_format.h"
#include "proto/onnx.pb.h"

namespace hp {

struct MetadataView {
  absl::string_view key;
  absl::string_view value;
};

struct NodeRef {
  absl::string_view name;
  absl::string_view op_type;
  absl::string_view domain;
  absl::Span<const absl::string_view> inputs;
  absl::Span<const absl::string_view> outputs;
  absl::Span<const MetadataView> metadata;
  // The node's message: set for every node of a parsed model and for the
  // nodes a splice parsed (owners of subgraphs and their bodies); null for
  // a main-graph node read as a record.
  const onnx::NodeProto* node = nullptr;
  // "main" for the model's graph; "main/<node name>/<attribute>" for a
  // subgraph, with "[i]" appended for the i-th graph of a GRAPHS attribute.
  std::string graph_path;
  // Index into the same list of the node owning this subgraph; -1 at the
  // top level.
  int owner = -1;
  // Holds subgraph bodies (If/Loop/Scan graph attributes).
  bool owns_subgraphs = false;
  // Holds fields NodeProto does not define (or defined fields of another
  // wire type): protobuf keeps them last, after anything hp would append.
  bool has_unknown_fields = false;

  // The value of the first metadata entry with that key, or null.
  const absl::string_view* FindMetadata(absl::string_view key) const;
};

// The nodes, read-only once built. Moving keeps the views valid; the
// messages or file they point into must outlive the list.
class NodeList {
 public:
  NodeList() = default;
  NodeList(NodeList&&) = default;
  NodeList& operator=(NodeList&&) = default;
  NodeList(const NodeList&) = delete;
  NodeList& operator=(const NodeList&) = delete;

  size_t size() const { return nodes_.size(); }
  bool empty() const { return nodes_.empty(); }
  const NodeRef& operator[](size_t i) const { return nodes_[i]; }
  std::vector<NodeRef>::const_iterator begin() const { return nodes_.begin(); }
  std::vector<NodeRef>::const_iterator end() const { return nodes_.end(); }

  // Keeps node i's first `count` metadata entries: for the owner of the
  // record or message the views point into, once it dropped the rest.
  void KeepMetadata(size_t i, size_t count) {
    nodes_[i].metadata = nodes_[i].metadata.subspan(0, count);
  }

 private:
  friend class NodeListBuilder;
  std::vector<NodeRef> nodes_;
  std::vector<absl::string_view> inputs_;
  std::vector<absl::string_view> outputs_;
  std::vector<MetadataView> metadata_;
};

// Builds a NodeList node by node; lists built apart (on several threads)
// are joined with Append.
class NodeListBuilder {
 public:
  size_t size() const { return list_.nodes_.size(); }

  // A node message and, after it, the nodes of its subgraph bodies.
  void AddMessage(const onnx::NodeProto& node, const std::string& graph_path,
                  int owner);
  // Every node of a graph, subgraph bodies included.
  void AddGraph(const onnx::GraphProto& graph, const std::string& graph_path,
                int owner);
  // A main-graph node from its record's payload [record.begin, record.end)
  // in `data`, without parsing it into a message (its attributes are
  // checked as protobuf would). False when the record is not well-formed;
  // then nothing is added. Sets `needs_message` when only a message can
  // stand for the node: it owns subgraphs (whose nodes a record does not
  // list) or holds a tensor stored as external data (to be checked).
  bool AddRecord(const uint8_t* data, ByteRange record, bool* needs_message);
  // Takes the last node back out.
  void RemoveLast();

  // Appends another builder's nodes; their owner indices move with them.
  void Append(NodeListBuilder&& other);

  // The list, its views set. The builder is left empty.
  NodeList Finish();

 private:
  // Where each node's values end in the value vectors (they start where
  // the previous node's end); spans are set from these by Finish.
  struct Ends {
    uint32_t inputs = 0;
    uint32_t outputs = 0;
    uint32_t metadata = 0;
  };
  NodeRef& Start(const std::string& graph_path, int owner,
                 const onnx::NodeProto* message);
  void Close();

  NodeList list_;
  std::vector<Ends> ends_;
};

// Whether the node holds subgraph bodies (If/Loop/Scan graph attributes).
bool OwnsSubgraphs(const onnx::NodeProto& node);

}  // namespace hp

#endif  // HP_IO_NODE_LIST_H_
