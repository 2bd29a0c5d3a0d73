// What hp reads of a model's nodes: every node in graph order, subgraph
// bodies (If/Loop/Scan attributes) right after the node that owns them, each
// with its name, op, inputs, outputs and metadata entries as views. The
// views point into node messages, or straight into a mapped model file:
// ModelSplice reads the main graph's node records that way without parsing
// them into messages (a million NodeProtos cost more than everything else
// hp does with them).
#ifndef HP_IO_NODE_LIST_H_
#define HP_IO_NODE_LIST_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/arena.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/wire_format.h"
#include "hp/util/string_arena.h"
#include "proto/onnx.pb.h"

namespace hp {

struct MetadataView {
  absl::string_view key;
  absl::string_view value;
};

// The scope part of a torch-style node name: all before its op's "/"
// ("/encoder/fc/MatMul" -> "/encoder/fc"; "/Cast" -> ""). nullopt for a
// name that does not start with "/", which has none.
std::optional<absl::string_view> ScopeOfName(absl::string_view name);

// A node's name scope (ScopeOfName) in a list that keeps them
// (NodeListBuilder's keep_name_scopes): nodes of one segment with the same
// scope have the same id, so that a walk resolves each scope once and
// reads no node's name to find it (NodeList::NameScopeText).
struct NameScope {
  // `id` for a name without a scope, and for a list that keeps none.
  static constexpr uint32_t kNone = (uint32_t{1} << 31) - 1;
  static constexpr uint32_t kNotKept = kNone - 1;
  uint32_t segment = 0;
  uint32_t id = kNotKept;
  // Whether the node had metadata entries when read (it has none else:
  // entries are only ever dropped), so that a walk that needs none reads
  // the node only where it had some.
  bool had_metadata = false;
};

// A string of a node record as the list keeps it: its place in the record
// (a record is under 2 GB), 8 bytes where a view takes 16. A million nodes'
// value names and a tagged model's metadata entries are most of a list.
struct RecordSpan {
  uint32_t at = 0;
  uint32_t size = 0;
};
struct RecordEntry {
  RecordSpan key;
  RecordSpan value;
};

// The views of one node's strings of one kind (its inputs, its outputs or
// its metadata entries), read like an absl::Span of them: made on access
// from the record's spans, or kept as views for a node read from a message.
// `View` is absl::string_view or MetadataView; `Packed` how a record keeps
// it.
template <typename View, typename Packed>
class NodeViews {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = View;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = View;
    const_iterator() = default;
    const_iterator(const NodeViews& views, size_t at)
        : views_(views), at_(at) {}
    View operator*() const { return views_[at_]; }
    View operator[](difference_type k) const { return views_[at_ + k]; }
    const_iterator& operator++() {
      ++at_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++at_;
      return old;
    }
    const_iterator& operator--() {
      --at_;
      return *this;
    }
    const_iterator& operator+=(difference_type k) {
      at_ += k;
      return *this;
    }
    const_iterator& operator-=(difference_type k) {
      at_ -= k;
      return *this;
    }
    const_iterator operator+(difference_type k) const {
      return const_iterator(views_, at_ + k);
    }
    const_iterator operator-(difference_type k) const {
      return const_iterator(views_, at_ - k);
    }
    difference_type operator-(const const_iterator& other) const {
      return static_cast<difference_type>(at_) -
             static_cast<difference_type>(other.at_);
    }
    bool operator==(const const_iterator& other) const {
      return at_ == other.at_;
    }
    bool operator!=(const const_iterator& other) const {
      return at_ != other.at_;
    }
    bool operator<(const const_iterator& other) const {
      return at_ < other.at_;
    }

   private:
    // A copy: the iterator stays valid as long as the list, like a span's,
    // not only while the NodeRef it came from lives.
    NodeViews views_;
    size_t at_ = 0;
  };

  NodeViews() = default;
  // A record node's: spans into the record starting at `record`.
  NodeViews(const char* record, const Packed* packed, size_t size)
      : record_(record), packed_(packed), size_(size) {}
  // A message node's: views into its message.
  NodeViews(const View* views, size_t size) : views_(views), size_(size) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  View operator[](size_t i) const {
    return record_ != nullptr ? Unpack(packed_[i]) : views_[i];
  }
  View front() const { return (*this)[0]; }
  View back() const { return (*this)[size_ - 1]; }
  const_iterator begin() const { return const_iterator(*this, 0); }
  const_iterator end() const { return const_iterator(*this, size_); }

 private:
  absl::string_view Unpack(const RecordSpan& span) const {
    return absl::string_view(record_ + span.at, span.size);
  }
  MetadataView Unpack(const RecordEntry& entry) const {
    return {Unpack(entry.key), Unpack(entry.value)};
  }

  const char* record_ = nullptr;  // null: views_
  union {
    const Packed* packed_;
    const View* views_ = nullptr;
  };
  size_t size_ = 0;
};
using NodeValueNames = NodeViews<absl::string_view, RecordSpan>;
using MetadataViews = NodeViews<MetadataView, RecordEntry>;

// A node as its list shows it: built on each access from the list's
// compact record of it, so it is a value to read, not to keep the address
// of. Its views stay valid as long as the list.
struct NodeRef {
  absl::string_view name;
  absl::string_view op_type;
  absl::string_view domain;
  NodeValueNames inputs;
  NodeValueNames outputs;
  MetadataViews metadata;
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

  // The value of the first metadata entry with that key, if any.
  std::optional<absl::string_view> FindMetadata(absl::string_view key) const;
};

// The nodes, read-only once built. Moving keeps the views valid; the
// messages or file they point into must outlive the list.
class NodeList {
  // What the list keeps of one node (56 bytes, where a NodeRef is 152): a
  // node of a million-node graph costs its record and the spans of its
  // values and metadata entries, nothing more.
  struct Record {
    // The node record's first byte in the file, or the node's message.
    const void* source = nullptr;
    // The node's inputs, then its outputs, in the segment's values (of
    // records or of messages, as the node is).
    uint32_t values_at = 0;
    uint32_t input_count = 0;
    uint32_t output_count = 0;
    uint32_t metadata_at = 0;
    uint32_t metadata_count = 0;
    // A record node is in the main graph at the top level; its strings are
    // [at, at + size) from its first byte (a record is under 2 GB, wherever
    // it lies in the file). A message node has its strings in the message;
    // its graph path and owner are kept instead.
    struct Strings {
      uint32_t name_at, name_size;
      uint32_t op_type_at, op_type_size;
      uint32_t domain_at, domain_size;
    };
    struct Place {
      uint32_t graph_path;  // 0 for "main", else graph_paths[graph_path - 1]
      int32_t owner;
    };
    union {
      Strings strings = {};
      Place message;
    };
    bool is_message = false;
    bool owns_subgraphs = false;
    bool has_unknown_fields = false;
  };
  // Nodes and the values they view, as one builder made them.
  struct Segment {
    std::vector<Record> nodes;
    // Whether every node was read as a main-graph record without metadata
    // entries, unknown fields or subgraph bodies (false may be too
    // cautious: a record refused after a message keeps it false).
    bool plain = true;
    // A record node's values_at and metadata_at index the record_ vectors,
    // a message node's the message_ ones.
    std::vector<RecordSpan> record_values;
    std::vector<RecordEntry> record_metadata;
    std::vector<absl::string_view> message_values;
    std::vector<MetadataView> message_metadata;
    // The subgraph paths of message nodes; "main" is static.
    std::vector<std::unique_ptr<std::string>> graph_paths;
    // With name scopes kept: per node its scope's id (the top bit set
    // where it had metadata entries), the scopes by id, and their text.
    std::vector<uint32_t> name_scope_of;
    std::vector<absl::string_view> name_scopes;
    StringArena name_scope_text;

    // Node i; a record node's views from `copied` when set (a copy of its
    // record's bytes), else from the file.
    NodeRef Get(size_t i, const char* copied = nullptr) const;
  };

 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = NodeRef;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = NodeRef;
    const_iterator(const NodeList* list, size_t segment, size_t at)
        : list_(list), segment_(segment), at_(at) {
      Settle();
    }
    NodeRef operator*() const { return list_->segments_[segment_]->Get(at_); }
    // The node's name scope; id kNotKept where its segment keeps none.
    NameScope name_scope() const {
      const std::vector<uint32_t>& of =
          list_->segments_[segment_]->name_scope_of;
      if (at_ >= of.size()) return {static_cast<uint32_t>(segment_)};
      return {static_cast<uint32_t>(segment_), of[at_] & NameScope::kNone,
              (of[at_] >> 31) != 0};
    }
    const_iterator& operator++() {
      ++at_;
      Settle();
      return *this;
    }
    bool operator==(const const_iterator& other) const {
      return segment_ == other.segment_ && at_ == other.at_;
    }
    bool operator!=(const const_iterator& other) const {
      return !(*this == other);
    }

   private:
    // Steps over the ends of segments (and empty ones).
    void Settle() {
      while (segment_ < list_->segments_.size() &&
             at_ == list_->segments_[segment_]->nodes.size()) {
        ++segment_;
        at_ = 0;
      }
    }
    const NodeList* list_;
    size_t segment_;
    size_t at_;
  };

  NodeList() = default;
  NodeList(NodeList&&) = default;
  NodeList& operator=(NodeList&&) = default;
  NodeList(const NodeList&) = delete;
  NodeList& operator=(const NodeList&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  NodeRef operator[](size_t i) const;
  const_iterator begin() const { return const_iterator(this, 0, 0); }
  const_iterator end() const {
    return const_iterator(this, segments_.size(), 0);
  }
  // Node i's position, for walking [i, j) in order: operator[] finds the
  // segment of each node anew, the iterator steps to the next.
  const_iterator At(size_t i) const {
    if (i >= size_) return end();
    const auto [segment, at] = Locate(i);
    return const_iterator(this, segment, at);
  }

  // The text of a name scope the list keeps (id neither kNone nor
  // kNotKept).
  absl::string_view NameScopeText(NameScope scope) const {
    return segments_[scope.segment]->name_scopes[scope.id];
  }
  // Whether nodes [begin, end) are all main-graph records without
  // metadata entries, unknown fields or subgraph bodies, as their segments
  // tell (false where it would take reading the nodes).
  bool PlainRecords(size_t begin, size_t end) const;
  // Every node's name scope dropped (each is kNotKept after): for a caller
  // done walking them, before it allocates more (a million nodes: 7 MB).
  void ForgetNameScopes();

  // Keeps node i's first `count` metadata entries: for the owner of the
  // record or message the views point into, once it dropped the rest.
  void KeepMetadata(size_t i, size_t count);
  // Every node's metadata entries dropped from the list (not from the
  // records or messages), and the freed memory given back to the system:
  // for a reader that took what it needed of them (the tags) and reads
  // on, where the entries' places (16 bytes each, 64 MB for a tagged
  // million-node graph) would stay for nothing.
  void ForgetMetadata();

  // A walk in file order says it is done with nodes [begin, end): where
  // they are records of a mapped file, their pages are given back (the
  // views stay valid and fault them in again if read). Keeps a pass over a
  // million-node graph to a window of the file resident.
  void Release(size_t begin, size_t end) const;
  // Maps the pages of nodes [begin, end)'s records now, on the calling
  // thread (NodeReadAhead).
  void Touch(size_t begin, size_t end) const;
  // Whether the list has record nodes in a mapped file (Release and Touch
  // act on none otherwise).
  bool views_mapped_file() const { return mapped_ != nullptr; }

 private:
  // The first and last bytes of the records of nodes [begin, end) in the
  // mapped file; nullopt where none of them is a record.
  std::optional<std::pair<uint64_t, uint64_t>> RecordBytes(size_t begin,
                                                           size_t end) const;
  // Node i's record's first byte in the mapped file; null for a message
  // node.
  const uint8_t* RecordStart(size_t i) const;
  friend class NodeListBuilder;
  friend class RecordCopy;
  static constexpr absl::string_view kMainGraph = "main";
  // The segment holding node i, and i's place in it.
  std::pair<size_t, size_t> Locate(size_t i) const;

  // Segments are kept as built, never copied into one: the nodes of a
  // large graph are read in parallel slices and held only once.
  std::vector<std::unique_ptr<Segment>> segments_;
  std::vector<size_t> starts_;  // each segment's first node's index
  // Per block of 2^kLocateShift nodes, the segment holding its first node:
  // a list read in chunks has a segment per few thousand nodes, and a
  // binary search over them for every node looked up cost extract 10%.
  static constexpr int kLocateShift = 12;
  std::vector<uint32_t> segment_of_block_;
  size_t size_ = 0;
  // The mapping record nodes point into, when ReadNodeRecords was given it.
  const FileMapping* mapped_ = nullptr;
};

// Inline: callers read a million nodes, most of them one field or two.
inline NodeRef NodeList::Segment::Get(size_t i, const char* copied) const {
  static_assert(sizeof(Record) <= 56, "a node's record grew");
  const Record& record = nodes[i];
  NodeRef node;
  if (record.is_message) {
    node.node = static_cast<const onnx::NodeProto*>(record.source);
    node.name = node.node->name();
    node.op_type = node.node->op_type();
    node.domain = node.node->domain();
    node.graph_path = record.message.graph_path == 0
                          ? absl::string_view(kMainGraph)
                          : *graph_paths[record.message.graph_path - 1];
    node.owner = record.message.owner;
    const absl::string_view* values = message_values.data() + record.values_at;
    node.inputs = NodeValueNames(values, record.input_count);
    node.outputs =
        NodeValueNames(values + record.input_count, record.output_count);
    node.metadata = MetadataViews(message_metadata.data() + record.metadata_at,
                                  record.metadata_count);
  } else {
    const char* base =
        copied != nullptr ? copied : static_cast<const char*>(record.source);
    node.name = absl::string_view(base + record.strings.name_at,
                                  record.strings.name_size);
    node.op_type = absl::string_view(base + record.strings.op_type_at,
                                     record.strings.op_type_size);
    node.domain = absl::string_view(base + record.strings.domain_at,
                                    record.strings.domain_size);
    node.graph_path = kMainGraph;
    const RecordSpan* values = record_values.data() + record.values_at;
    node.inputs = NodeValueNames(base, values, record.input_count);
    node.outputs =
        NodeValueNames(base, values + record.input_count, record.output_count);
    node.metadata =
        MetadataViews(base, record_metadata.data() + record.metadata_at,
                      record.metadata_count);
  }
  node.owns_subgraphs = record.owns_subgraphs;
  node.has_unknown_fields = record.has_unknown_fields;
  return node;
}

inline std::pair<size_t, size_t> NodeList::Locate(size_t i) const {
  // The last segment starting at or before i (empty ones start where the
  // next does, so it is never one of them): from the one holding the first
  // node of i's block, a step or two on at most.
  size_t segment = segment_of_block_[i >> kLocateShift];
  while (segment + 1 < starts_.size() && starts_[segment + 1] <= i) ++segment;
  return {segment, i - starts_[segment]};
}

inline NodeRef NodeList::operator[](size_t i) const {
  const auto [segment, at] = Locate(i);
  return segments_[segment]->Get(at);
}

// How many nodes a walk passes between two NodeList::Release calls: a
// few megabytes of a file of node records.
inline constexpr size_t kNodesPerRelease = 8192;

// Gives back a walk's nodes in steps as it passes them (NodeList::Release),
// so that a walk over a slice of a million nodes holds a window of the
// file, not the slice.
class NodeReleaser {
 public:
  NodeReleaser(const NodeList& nodes, size_t begin)
      : nodes_(nodes), from_(begin) {}
  // The walk reached node i: it is done with the nodes before it. A node
  // before the last one reached starts a new pass from there.
  void Reached(size_t i) {
    if (i < from_) from_ = i;
    if (i - from_ < kNodesPerRelease) return;
    nodes_.Release(from_, i);
    from_ = i;
  }

 private:
  const NodeList& nodes_;
  size_t from_;
};

// The same for a walk from node `end` - 1 back to the first.
class BackwardNodeReleaser {
 public:
  BackwardNodeReleaser(const NodeList& nodes, size_t end)
      : nodes_(nodes), to_(end) {}
  // The walk reached node i: it is done with the nodes after it.
  void Reached(size_t i) {
    if (to_ - (i + 1) < kNodesPerRelease) return;
    nodes_.Release(i + 1, to_);
    to_ = i + 1;
  }

 private:
  const NodeList& nodes_;
  size_t to_;
};

// Maps the file pages of the nodes that walks in node order (or in
// reverse order) read next, on a thread of its own, up to kNodesPerRelease
// nodes ahead of each walk: on a virtual machine the first read of a page
// given back costs microseconds (docs/benchmarks.md, "Machine"), which a
// serial walk then finds paid on the other core. One thread serves several
// lists (two models compared node by node); none starts when no list
// views a mapped file. Reads only: no walk's result depends on it.
class NodeReadAhead {
 public:
  enum class Direction { kForward, kBackward };
  explicit NodeReadAhead(std::vector<const NodeList*> lists,
                         Direction direction = Direction::kForward);
  explicit NodeReadAhead(const NodeList& list,
                         Direction direction = Direction::kForward)
      : NodeReadAhead(std::vector<const NodeList*>{&list}, direction) {}
  ~NodeReadAhead();
  NodeReadAhead(const NodeReadAhead&) = delete;
  NodeReadAhead& operator=(const NodeReadAhead&) = delete;

  // The walk over lists[list] reached node i. Cheap: the thread hears of
  // it every kStep nodes the walk goes on, at once when it starts or turns
  // back.
  void Reached(size_t list, size_t i) {
    if (worker_ == nullptr) return;
    const size_t told = told_[list];
    const bool on = backward_ ? i <= told : i >= told;
    if (told != kNever && on && (backward_ ? told - i : i - told) < kStep) {
      return;
    }
    Tell(list, i);
  }
  // The same for a reader of one list.
  void Reached(size_t i) { Reached(0, i); }

 private:
  static constexpr size_t kStep = 1024;
  static constexpr size_t kNever = ~size_t{0};
  class Worker;
  void Tell(size_t list, size_t i);

  bool backward_;
  std::vector<size_t> told_;  // per list, the last node told; kNever
  std::unique_ptr<Worker> worker_;
};

// A pass's nodes read from a copy of their records rather than through the
// mapping: a pass over views whose pages were given back would fault each
// page in again, and on a virtual machine a page mapped again costs several
// times what copying it does (docs/benchmarks.md, "Machine"). One pread per
// run of nodes, into a buffer kept from run to run.
class RecordCopy {
 public:
  explicit RecordCopy(const NodeList& nodes) : nodes_(nodes) {}
  RecordCopy(const RecordCopy&) = delete;
  RecordCopy& operator=(const RecordCopy&) = delete;

  // Copies the records of nodes [begin, end): from the first record's
  // first byte to the first byte of the next record after them (records
  // lie in file order, each ending before the next begins). False, and
  // nothing held, when there is no such record, the range holds none, it
  // spans more than kMaxBytes, or the read comes up short (a file cut
  // under us: reading the views then meets the mapping's guard).
  bool Read(size_t begin, size_t end);
  // A walk forward through nodes [.., end) reached node i: when i is not
  // in the run last read (or tried), reads the run of kNodesPerRelease
  // nodes from i. True when it read: views into the run before are gone.
  bool Reached(size_t i, size_t end) {
    if (i >= run_begin_ && i < run_end_) return false;
    run_begin_ = i;
    run_end_ = std::min(end, i + kNodesPerRelease);
    Read(run_begin_, run_end_);
    return true;
  }
  // The same for reads that mostly go forward but skip: a run is read
  // from i only when i lies past the run read last, and a node before it
  // is read through the file. The runs read never overlap: however the
  // reads jump, they copy the records once at most.
  bool ReachedSkipping(size_t i, size_t end) {
    return i >= run_end_ && Reached(i, end);
  }
  // The same for a walk backward: the run read ends at node i.
  bool ReachedGoingBack(size_t i) {
    if (i >= run_begin_ && i < run_end_) return false;
    run_end_ = i + 1;
    run_begin_ = run_end_ > kNodesPerRelease ? run_end_ - kNodesPerRelease : 0;
    Read(run_begin_, run_end_);
    return true;
  }
  // Node i, its views into the copy when the last Read holds it, else
  // into the file (nodes[i]).
  NodeRef operator[](size_t i) const;

 private:
  static constexpr uint64_t kMaxBytes = uint64_t{64} << 20;
  const NodeList& nodes_;
  // The run Reached read last, whether or not Read could copy it: a run
  // that could not be copied is not tried again node by node.
  size_t run_begin_ = 0;
  size_t run_end_ = 0;
  RangeCopy copy_;
  const char* copied_ = nullptr;  // the run's bytes, in copy_
  size_t first_ = 0;              // the nodes held: [first_, last_)
  size_t last_ = 0;
  uint64_t at_ = 0;  // the file's byte that copied_[0] holds
};

// Builds a NodeList node by node; lists built apart (on several threads)
// are joined with Join.
class NodeListBuilder {
 public:
  // With `keep_name_scopes`, each node's name scope is kept as an id
  // (NameScope), for a walk that resolves scopes.
  explicit NodeListBuilder(bool keep_name_scopes = false)
      : segment_(std::make_unique<NodeList::Segment>()),
        keep_name_scopes_(keep_name_scopes) {}
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
  // `viewed`, when set, is where the same bytes lie in the mapped file the
  // node is to view (`data` a copy of them): its views point there.
  bool AddRecord(const uint8_t* data, ByteRange record, bool* needs_message,
                 const uint8_t* viewed = nullptr);
  // Takes the last node back out.
  void RemoveLast();
  // Whether `record`, however many values and metadata entries it holds,
  // can be added with every node's places in this builder's tables under
  // `max_places` (each takes two bytes of a record at least).
  bool HasRoomFor(const ByteRange& record, uint64_t max_places) const;
  // Room for `records` more record nodes, with a little more than as many
  // values and metadata entries per node as `like` holds (this builder or
  // another of the same file's records, or null): one allocation each,
  // where growing copies and faults in about twice the memory.
  void Reserve(size_t records, const NodeListBuilder* like);

  // The list, its views set. The builder is left empty.
  NodeList Finish();
  // The nodes of `parts` in order, as one list; owner indices move with
  // their nodes. `parts` is left empty. `mapped`: the mapping their record
  // nodes point into, for NodeList::Release.
  static NodeList Join(std::vector<NodeListBuilder>* parts,
                       const FileMapping* mapped = nullptr);

 private:
  // A new node, read from a message or from a record.
  NodeList::Record& Start(bool message);
  // AddMessage and AddGraph with a graph path the list keeps already (its
  // index).
  void AddKeptMessage(const onnx::NodeProto& node, uint32_t graph_path,
                      int owner);
  void AddKeptGraph(const onnx::GraphProto& graph, uint32_t graph_path,
                    int owner);
  // A graph path kept by the list, for its nodes to view (its index).
  uint32_t KeepPath(absl::string_view path);
  // The last node's name scope, with keep_name_scopes.
  void KeepNameScope(absl::string_view name, bool has_metadata);

  std::unique_ptr<NodeList::Segment> segment_;
  bool has_messages_ = false;  // a node was added from a message
  bool keep_name_scopes_ = false;
  // The segment's scopes by text, while it is built, and the ids met last
  // (kNone: none yet), oldest overwritten first.
  absl::flat_hash_map<absl::string_view, uint32_t> name_scope_ids_;
  std::array<uint32_t, 16> recent_scopes_ = Unset();
  size_t next_recent_ = 0;
  size_t last_found_ = 0;
  static std::array<uint32_t, 16> Unset() {
    std::array<uint32_t, 16> ids;
    ids.fill(NameScope::kNone);
    return ids;
  }
};

// Per main-graph node, its message once parsed from its record, else null.
// Most nodes of a large graph are never parsed: pointers are kept in pages
// made on first use, not 8 bytes for every node.
class ParsedNodes {
 public:
  ParsedNodes() = default;
  explicit ParsedNodes(size_t count);
  ParsedNodes(ParsedNodes&&) = default;
  ParsedNodes& operator=(ParsedNodes&&) = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  onnx::NodeProto* operator[](size_t i) const {
    const Page* page = pages_[i / kPage].load(std::memory_order_acquire);
    return page == nullptr ? nullptr : (*page)[i % kPage];
  }
  // Node i's slot, its page made if needed. Safe to call for different
  // nodes at once (not while reading the same node).
  onnx::NodeProto*& Slot(size_t i);

 private:
  static constexpr size_t kPage = 4096;
  using Page = std::array<onnx::NodeProto*, kPage>;
  struct PageDeleter {
    PageDeleter() : count(0) {}
    explicit PageDeleter(size_t pages) : count(pages) {}
    void operator()(std::atomic<Page*>* pages) const;
    size_t count;
  };
  std::unique_ptr<std::atomic<Page*>[], PageDeleter> pages_;
  size_t size_ = 0;
};

// One main-graph node parsed from its record (payload [begin, end) of
// `data`) onto `arena` as protobuf parses it inside a model, or null when
// it does not parse.
onnx::NodeProto* ParseNodeRecord(const uint8_t* data, const ByteRange& record,
                                 google::protobuf::Arena* arena);

// A segment's nodes keep 32-bit places into its tables of values and
// metadata entries.
inline constexpr uint64_t kMaxSegmentPlaces =
    std::numeric_limits<uint32_t>::max();

// Reads the main graph's node records (payloads, in file order) as views
// on all cores; a node that only a message can stand for (AddRecord's
// needs_message) is parsed onto `arena` into parsed[i], and its subgraph
// bodies' nodes follow it. False when a record does not parse. With
// `mapped` (the mapping `data` is), each chunk of records is read with one
// pread and parsed from the copy, the views pointing into the mapping: its
// pages are mapped only when a later pass reads them through the views
// (where a chunk spans too much, or the read comes up short, it is parsed
// from the mapping, whose pages are then given back). Each chunk of up to
// 16,384 records is a segment of the list, or more where the next record
// might take a segment's tables past `max_places` (tests lower it). With
// `keep_name_scopes`, the list keeps each node's name scope (NameScope),
// found while its record is read. NodeRecordReader with its records
// handed over (Add).
bool ReadNodeRecords(const uint8_t* data, const std::vector<ByteRange>& records,
                     google::protobuf::Arena* arena, NodeList* nodes,
                     ParsedNodes* parsed, const FileMapping* mapped = nullptr,
                     uint64_t max_places = kMaxSegmentPlaces,
                     bool keep_name_scopes = false);

// Main-graph node records found and read in one pass over the file. The
// pass that finds them (ModelSplice's first) reads each chunk of records
// with one pread to step from header to header, and hands the chunk's
// bytes over to be read as ReadNodeRecords reads records, on the other
// cores meanwhile (as many as ForSlices would use, once there are records
// enough to share: a small model's are read on the finding thread alone):
// the records leave the page cache once, not once to be found and again
// to be read (a million-node graph's 125 MB: about 30 ms of a core). The
// finding core reads the chunks still waiting once it is done, and
// whenever more wait than the other cores keep up with.
class NodeRecordReader {
 public:
  // As ReadNodeRecords: views point into `mapped` (which may be null: then
  // every chunk is read from `data`, the bytes the records' offsets are
  // into); messages go on `arena`.
  NodeRecordReader(const uint8_t* data, const FileMapping* mapped,
                   google::protobuf::Arena* arena,
                   uint64_t max_places = kMaxSegmentPlaces,
                   bool keep_name_scopes = false);
  NodeRecordReader(const NodeRecordReader&) = delete;
  NodeRecordReader& operator=(const NodeRecordReader&) = delete;
  // Stops the reading and waits for its threads.
  ~NodeRecordReader();

  // `first`, a record of `tag_byte` the caller read, and the records of
  // that tag after it, one after another, up to `end`, found in file
  // `fd` through pread. Returns the last record taken: the caller reads
  // on from its end. A run stops at anything else, at a read that fails
  // or comes up short, and wherever else is convenient (every record is
  // then judged by the caller's reader, which may start another run).
  WireRecord ReadRun(int fd, uint8_t tag_byte, const WireRecord& first,
                     uint64_t end);
  // Records whose bytes the reader reads itself (with pread where it has
  // `mapped`, else from `data`): payloads [begin, end), in file order.
  void Add(const std::vector<ByteRange>& records);

  // Every record taken, in file order: payload and end.
  const std::vector<ByteRange>& records() const { return records_; }
  std::vector<ByteRange> TakeRecords() { return std::move(records_); }

  // Waits for every record taken to be read, reading on this thread too,
  // and sets `nodes` and `parsed` as ReadNodeRecords does. False when a
  // record does not parse as a node. Call once.
  bool Finish(NodeList* nodes, ParsedNodes* parsed);

 private:
  // Records [first, first + records.size()) and, unless null, the file's
  // bytes from `bytes_at` that hold them.
  struct Chunk {
    size_t first = 0;
    std::vector<ByteRange> records;
    std::unique_ptr<uint8_t[]> bytes;
    uint64_t bytes_at = 0;
    bool pooled = false;  // `bytes` is a pooled chunk buffer to reuse
  };
  struct Read;
  // Hands `chunk` over, or reads it on this thread where no other reads
  // or too many chunks wait.
  void Hand(Chunk chunk);
  // Another thread's work: reads chunks as they are handed over, until
  // Finish.
  void ReadChunks();
  // The oldest chunk waiting, if any (with `wait`, once there is one or
  // Finish was called).
  bool TakeWaiting(bool wait, Chunk* chunk);
  // Parses the chunk's records (ParseChunk), then gives its buffer back.
  void ReadChunk(Chunk* chunk, Read* read);
  void ParseChunk(const Chunk& chunk, Read* read);
  // Keeps the builder `read` holds as a segment of the list.
  void Keep(Read* read);
  // Keeps `builder`, whose first record is record `first`, as a segment.
  void KeepSegment(size_t first, NodeListBuilder builder);
  // A buffer of at least `bytes` for a chunk; `pooled` when it is one of
  // the reused kChunkBytes ones, for GiveBack.
  std::unique_ptr<uint8_t[]> Buffer(uint64_t bytes, bool* pooled);
  void GiveBack(Chunk* chunk);

  const uint8_t* data_;
  const FileMapping* mapped_;
  google::protobuf::Arena* arena_;
  uint64_t max_places_;
  bool keep_name_scopes_;
  std::vector<ByteRange> records_;
  size_t taken_ = 0;  // records taken, also once records_ is taken

  std::mutex mutex_;
  std::condition_variable handed_;
  std::deque<Chunk> waiting_;
  bool finishing_ = false;
  std::atomic<bool> failed_{false};
  // What the reads made: builders by their first record, and parsed
  // messages by record.
  std::vector<std::pair<size_t, NodeListBuilder>> segments_;
  std::vector<std::pair<size_t, onnx::NodeProto*>> messages_;
  std::vector<std::unique_ptr<uint8_t[]>> spare_buffers_;
  std::unique_ptr<Read> own_read_;  // this thread's
  bool readers_started_ = false;
  std::vector<std::thread> readers_;
};

// Whether the node holds subgraph bodies (If/Loop/Scan graph attributes).
bool OwnsSubgraphs(const onnx::NodeProto& node);

}  // namespace hp

#endif  // HP_IO_NODE_LIST_H_
