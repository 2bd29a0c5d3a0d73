// What hp reads of a model's nodes: every node in graph order, subgraph
// bodies (If/Loop/Scan attributes) right after the node that owns them, each
// with its name, op, inputs, outputs and metadata entries as views. The
// views point into node messages, or straight into a mapped model file:
// ModelSplice reads the main graph's node records that way without parsing
// them into messages (a million NodeProtos cost more than everything else
// hp does with them).
#ifndef HP_IO_NODE_LIST_H_
#define HP_IO_NODE_LIST_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/arena.h"
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
  absl::string_view graph_path;
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
  // Nodes and the values their spans view, as one builder made them.
  struct Segment {
    std::vector<NodeRef> nodes;
    std::vector<absl::string_view> inputs;
    std::vector<absl::string_view> outputs;
    std::vector<MetadataView> metadata;
    // The subgraph paths the nodes' graph_path views; "main" is static.
    std::vector<std::unique_ptr<std::string>> graph_paths;
  };

 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = NodeRef;
    using difference_type = std::ptrdiff_t;
    using pointer = const NodeRef*;
    using reference = const NodeRef&;
    explicit const_iterator(std::vector<NodeRef*>::const_iterator at)
        : at_(at) {}
    const NodeRef& operator*() const { return **at_; }
    const NodeRef* operator->() const { return *at_; }
    const_iterator& operator++() {
      ++at_;
      return *this;
    }
    bool operator==(const const_iterator& other) const {
      return at_ == other.at_;
    }
    bool operator!=(const const_iterator& other) const {
      return at_ != other.at_;
    }

   private:
    std::vector<NodeRef*>::const_iterator at_;
  };

  NodeList() = default;
  NodeList(NodeList&&) = default;
  NodeList& operator=(NodeList&&) = default;
  NodeList(const NodeList&) = delete;
  NodeList& operator=(const NodeList&) = delete;

  size_t size() const { return index_.size(); }
  bool empty() const { return index_.empty(); }
  const NodeRef& operator[](size_t i) const { return *index_[i]; }
  const_iterator begin() const { return const_iterator(index_.begin()); }
  const_iterator end() const { return const_iterator(index_.end()); }

  // Keeps node i's first `count` metadata entries: for the owner of the
  // record or message the views point into, once it dropped the rest.
  void KeepMetadata(size_t i, size_t count) {
    index_[i]->metadata = index_[i]->metadata.subspan(0, count);
  }

 private:
  friend class NodeListBuilder;
  // Segments are kept as built, never copied into one: the nodes of a
  // large graph are read in parallel chunks and held only once.
  std::vector<std::unique_ptr<Segment>> segments_;
  std::vector<NodeRef*> index_;  // the nodes in order, across segments
};

// Builds a NodeList node by node; lists built apart (on several threads)
// are joined with Join.
class NodeListBuilder {
 public:
  NodeListBuilder() : segment_(std::make_unique<NodeList::Segment>()) {}
  size_t size() const { return segment_->nodes.size(); }

  // A node message and, after it, the nodes of its subgraph bodies.
  void AddMessage(const onnx::NodeProto& node, absl::string_view graph_path,
                  int owner);
  // Every node of a graph, subgraph bodies included.
  void AddGraph(const onnx::GraphProto& graph, absl::string_view graph_path,
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

  // The list, its views set. The builder is left empty.
  NodeList Finish();
  // The nodes of `parts` in order, as one list; owner indices move with
  // their nodes. `parts` is left empty.
  static NodeList Join(std::vector<NodeListBuilder>* parts);

 private:
  // Where each node's values end in the value vectors (they start where
  // the previous node's end); spans are set from these by Finish.
  struct Ends {
    uint32_t inputs = 0;
    uint32_t outputs = 0;
    uint32_t metadata = 0;
  };
  NodeRef& Start(absl::string_view graph_path, int owner,
                 const onnx::NodeProto* message);
  // The same with a graph path the list keeps already.
  void AddKeptMessage(const onnx::NodeProto& node, absl::string_view graph_path,
                      int owner);
  void AddKeptGraph(const onnx::GraphProto& graph, absl::string_view graph_path,
                    int owner);
  void Close();
  // Sets the spans of the segment's nodes.
  void SetSpans();
  // A graph path kept by the list, for its nodes to view.
  absl::string_view KeepPath(absl::string_view path);

  std::unique_ptr<NodeList::Segment> segment_;
  std::vector<Ends> ends_;
};

// One main-graph node parsed from its record (payload [begin, end) of
// `data`) onto `arena` as protobuf parses it inside a model, or null when
// it does not parse.
onnx::NodeProto* ParseNodeRecord(const uint8_t* data, const ByteRange& record,
                                 google::protobuf::Arena* arena);

// Reads the main graph's node records (payloads, in file order) as views
// on all cores; a node that only a message can stand for (AddRecord's
// needs_message) is parsed onto `arena` into parsed[i], and its subgraph
// bodies' nodes follow it. False when a record does not parse.
bool ReadNodeRecords(const uint8_t* data, const std::vector<ByteRange>& records,
                     google::protobuf::Arena* arena, NodeList* nodes,
                     std::vector<onnx::NodeProto*>* parsed);

// Whether the node holds subgraph bodies (If/Loop/Scan graph attributes).
bool OwnsSubgraphs(const onnx::NodeProto& node);

}  // namespace hp

#endif  // HP_IO_NODE_LIST_H_
