#include "hp/io/node_list.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "hp/util/freed_memory.h"
#include "hp/util/parallel.h"

namespace hp {
namespace {

// NodeProto fields (proto/onnx.proto); all are length-delimited.
constexpr uint32_t kNodeInput = 1;
constexpr uint32_t kNodeOutput = 2;
constexpr uint32_t kNodeName = 3;
constexpr uint32_t kNodeOpType = 4;
constexpr uint32_t kNodeAttribute = 5;
constexpr uint32_t kNodeDomain = 7;
constexpr uint32_t kNodeMetadataProps = 9;
constexpr uint32_t kLastNodeField = 9;
// StringStringEntryProto's fields.
constexpr uint32_t kEntryKey = 1;
constexpr uint32_t kEntryValue = 2;

// An attribute record's payload, checked as protobuf parses it inside a
// node (node, graph, model: three messages deep), into one message per
// thread that is reused. Sets `graph` when it holds a graph, `external`
// when it holds a tensor stored as external data.
bool ReadAttribute(const uint8_t* data, const WireRecord& record, bool* graph,
                   bool* external) {
  thread_local onnx::AttributeProto attribute;
  google::protobuf::io::CodedInputStream input(
      data + record.payload, static_cast<int>(record.end - record.payload));
  input.SetRecursionLimit(
      google::protobuf::io::CodedInputStream::GetDefaultRecursionLimit() - 3);
  attribute.Clear();
  if (!attribute.MergeFromCodedStream(&input) ||
      !input.ConsumedEntireMessage()) {
    return false;
  }
  *graph = *graph || attribute.has_g() || attribute.graphs_size() > 0;
  *external = *external || HoldsExternalData(attribute);
  return true;
}

}  // namespace

std::optional<absl::string_view> NodeRef::FindMetadata(
    absl::string_view key) const {
  for (const MetadataView entry : metadata) {
    if (entry.key == key) return entry.value;
  }
  return std::nullopt;
}

std::optional<absl::string_view> ScopeOfName(absl::string_view name) {
  if (name.empty() || name.front() != '/') return std::nullopt;
  return name.substr(0, name.rfind('/'));
}

bool OwnsSubgraphs(const onnx::NodeProto& node) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.has_g() || attribute.graphs_size() > 0) return true;
  }
  return false;
}

void NodeList::KeepMetadata(size_t i, size_t count) {
  const auto [segment, at] = Locate(i);
  Record& record = segments_[segment]->nodes[at];
  record.metadata_count =
      std::min(record.metadata_count, static_cast<uint32_t>(count));
}

void NodeList::ForgetMetadata() {
  for (std::unique_ptr<Segment>& segment : segments_) {
    for (Record& record : segment->nodes) {
      record.metadata_at = 0;
      record.metadata_count = 0;
    }
    std::vector<RecordEntry>().swap(segment->record_metadata);
    std::vector<MetadataView>().swap(segment->message_metadata);
  }
  // The entries were read in slices on several threads, into those
  // threads' malloc arenas; blocks freed there stay resident unless later
  // ones of their size reuse them. Give their pages back now.
  GiveBackFreedMemory();
}

bool NodeList::PlainRecords(size_t begin, size_t end) const {
  if (begin >= end) return true;
  for (size_t segment = Locate(begin).first;
       segment < segments_.size() && starts_[segment] < end; ++segment) {
    if (!segments_[segment]->plain) return false;
  }
  return true;
}

void NodeList::ForgetNameScopes() {
  for (std::unique_ptr<Segment>& segment : segments_) {
    std::vector<uint32_t>().swap(segment->name_scope_of);
    std::vector<absl::string_view>().swap(segment->name_scopes);
    segment->name_scope_text = StringArena();
  }
}

NodeList::Record& NodeListBuilder::Start(bool message) {
  NodeList::Segment& segment = *segment_;
  segment.nodes.emplace_back();
  NodeList::Record& node = segment.nodes.back();
  node.is_message = message;
  if (message) {
    segment.plain = false;
    has_messages_ = true;
  }
  node.values_at = static_cast<uint32_t>(
      message ? segment.message_values.size() : segment.record_values.size());
  node.metadata_at =
      static_cast<uint32_t>(message ? segment.message_metadata.size()
                                    : segment.record_metadata.size());
  return node;
}

void NodeListBuilder::AddMessage(const onnx::NodeProto& node,
                                 absl::string_view graph_path, int owner) {
  AddKeptMessage(node, KeepPath(graph_path), owner);
}

void NodeListBuilder::AddGraph(const onnx::GraphProto& graph,
                               absl::string_view graph_path, int owner) {
  AddKeptGraph(graph, KeepPath(graph_path), owner);
}

uint32_t NodeListBuilder::KeepPath(absl::string_view path) {
  if (path == NodeList::kMainGraph) return 0;
  segment_->graph_paths.push_back(std::make_unique<std::string>(path));
  return static_cast<uint32_t>(segment_->graph_paths.size());
}

void NodeListBuilder::AddKeptMessage(const onnx::NodeProto& node,
                                     uint32_t graph_path, int owner) {
  const int index = static_cast<int>(size());
  NodeList::Record& ref = Start(/*message=*/true);
  KeepNameScope(node.name(), node.metadata_props_size() > 0);
  ref.source = &node;
  ref.message.graph_path = graph_path;
  ref.message.owner = owner;
  ref.owns_subgraphs = OwnsSubgraphs(node);
  ref.has_unknown_fields = !node.unknown_fields().empty();
  ref.input_count = static_cast<uint32_t>(node.input_size());
  ref.output_count = static_cast<uint32_t>(node.output_size());
  ref.metadata_count = static_cast<uint32_t>(node.metadata_props_size());
  for (const std::string& input : node.input()) {
    segment_->message_values.push_back(input);
  }
  for (const std::string& output : node.output()) {
    segment_->message_values.push_back(output);
  }
  for (const onnx::StringStringEntryProto& entry : node.metadata_props()) {
    segment_->message_metadata.push_back({entry.key(), entry.value()});
  }
  if (!ref.owns_subgraphs) return;
  // The path of this node's graph, copied: KeepPath may move the paths.
  const std::string path(graph_path == 0
                             ? NodeList::kMainGraph
                             : *segment_->graph_paths[graph_path - 1]);
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (!attribute.has_g() && attribute.graphs_size() == 0) continue;
    const std::string prefix =
        absl::StrCat(path, "/", node.name(), "/", attribute.name());
    if (attribute.has_g()) AddKeptGraph(attribute.g(), KeepPath(prefix), index);
    for (int i = 0; i < attribute.graphs_size(); ++i) {
      AddKeptGraph(attribute.graphs(i),
                   KeepPath(absl::StrCat(prefix, "[", i, "]")), index);
    }
  }
}

void NodeListBuilder::AddKeptGraph(const onnx::GraphProto& graph,
                                   uint32_t graph_path, int owner) {
  for (const onnx::NodeProto& node : graph.node()) {
    AddKeptMessage(node, graph_path, owner);
  }
}

void NodeListBuilder::KeepNameScope(absl::string_view name, bool has_metadata) {
  if (!keep_name_scopes_) return;
  NodeList::Segment& segment = *segment_;
  if (segment.name_scopes.size() >= NameScope::kNotKept) {
    // Out of ids (2^31 scopes): its facts are read instead.
    segment.name_scope_of.push_back(NameScope::kNotKept);
    return;
  }
  const std::optional<absl::string_view> scope = ScopeOfName(name);
  uint32_t id = NameScope::kNone;
  if (scope.has_value()) {
    // Nodes in graph order cycle through a few scopes (a layer's q, k, v,
    // ... once per call): those are found among the latest ones, from the
    // last found on, before any hashing.
    for (size_t k = 0; k < recent_scopes_.size() && id == NameScope::kNone;
         ++k) {
      const size_t slot = (last_found_ + k) % recent_scopes_.size();
      const uint32_t recent = recent_scopes_[slot];
      if (recent != NameScope::kNone && segment.name_scopes[recent] == *scope) {
        id = recent;
        last_found_ = slot;
      }
    }
    if (id == NameScope::kNone) {
      auto it = name_scope_ids_.find(*scope);
      if (it == name_scope_ids_.end()) {
        const absl::string_view kept = segment.name_scope_text.Store(*scope);
        it = name_scope_ids_
                 .emplace(kept,
                          static_cast<uint32_t>(segment.name_scopes.size()))
                 .first;
        segment.name_scopes.push_back(kept);
      }
      id = it->second;
      last_found_ = next_recent_;
      recent_scopes_[next_recent_] = id;
      next_recent_ = (next_recent_ + 1) % recent_scopes_.size();
    }
  }
  segment.name_scope_of.push_back(id | uint32_t{has_metadata} << 31);
}

void NodeListBuilder::Reserve(size_t records, const NodeListBuilder* like) {
  NodeList::Segment& segment = *segment_;
  segment.nodes.reserve(segment.nodes.size() + records);
  if (keep_name_scopes_) {
    segment.name_scope_of.reserve(segment.name_scope_of.size() + records);
  }
  if (like == nullptr || like->size() == 0) return;
  const NodeList::Segment& seen = *like->segment_;
  // The per-node counts scaled to `records`, with 1/8 to spare.
  const auto room = [&](size_t seen_count) {
    const size_t scaled = seen_count * records / seen.nodes.size();
    return scaled + scaled / 8;
  };
  segment.record_values.reserve(segment.record_values.size() +
                                room(seen.record_values.size()));
  segment.record_metadata.reserve(segment.record_metadata.size() +
                                  room(seen.record_metadata.size()));
}

bool NodeListBuilder::AddRecord(const uint8_t* data, ByteRange record,
                                bool* needs_message, const uint8_t* viewed) {
  // Offsets into a record are 32-bit (protobuf refuses one over 2 GB).
  if (record.end - record.begin > std::numeric_limits<uint32_t>::max()) {
    return false;
  }
  bool external = false;
  NodeList::Record& node = Start(/*message=*/false);
  node.source = viewed != nullptr ? viewed : data + record.begin;
  auto fail = [&] {
    RemoveLast();
    return false;
  };
  // The view's place in the record.
  auto at = [&](const WireRecord& field) {
    return static_cast<uint32_t>(field.payload - record.begin);
  };
  auto size = [](const WireRecord& field) {
    return static_cast<uint32_t>(field.end - field.payload);
  };
  auto span = [&](const WireRecord& field) {
    return RecordSpan{at(field), size(field)};
  };
  WireReader reader(data, record.begin, record.end);
  WireRecord field;
  // Inputs and outputs come in any order in the record; outputs are kept
  // apart until the end, then follow the inputs.
  thread_local std::vector<RecordSpan> outputs;
  outputs.clear();
  while (!reader.done()) {
    if (!reader.Next(&field)) return fail();
    if (field.wire_type != kLengthDelimited || field.field == 0 ||
        field.field > kLastNodeField) {
      node.has_unknown_fields = true;
      continue;
    }
    switch (field.field) {
      case kNodeInput:
        segment_->record_values.push_back(span(field));
        ++node.input_count;
        break;
      case kNodeOutput:
        outputs.push_back(span(field));
        break;
      case kNodeName:
        node.strings.name_at = at(field);
        node.strings.name_size = size(field);
        break;
      case kNodeOpType:
        node.strings.op_type_at = at(field);
        node.strings.op_type_size = size(field);
        break;
      case kNodeDomain:
        node.strings.domain_at = at(field);
        node.strings.domain_size = size(field);
        break;
      case kNodeAttribute:
        if (!ReadAttribute(data, field, &node.owns_subgraphs, &external)) {
          return fail();
        }
        break;
      case kNodeMetadataProps: {
        RecordEntry entry;
        WireReader entry_reader(data, field.payload, field.end);
        WireRecord part;
        while (!entry_reader.done()) {
          if (!entry_reader.Next(&part)) return fail();
          if (part.wire_type != kLengthDelimited) continue;
          if (part.field == kEntryKey) entry.key = span(part);
          if (part.field == kEntryValue) entry.value = span(part);
        }
        segment_->record_metadata.push_back(entry);
        ++node.metadata_count;
        break;
      }
      default:  // doc_string, overload
        break;
    }
  }
  segment_->record_values.insert(segment_->record_values.end(), outputs.begin(),
                                 outputs.end());
  node.output_count = static_cast<uint32_t>(outputs.size());
  *needs_message = node.owns_subgraphs || external;
  if (node.metadata_count > 0 || node.has_unknown_fields ||
      node.owns_subgraphs) {
    segment_->plain = false;
  }
  KeepNameScope(absl::string_view(reinterpret_cast<const char*>(data) +
                                      record.begin + node.strings.name_at,
                                  node.strings.name_size),
                node.metadata_count > 0);
  return true;
}

void NodeListBuilder::RemoveLast() {
  NodeList::Segment& segment = *segment_;
  const NodeList::Record& last = segment.nodes.back();
  if (last.is_message) {
    segment.message_values.resize(last.values_at);
    segment.message_metadata.resize(last.metadata_at);
  } else {
    segment.record_values.resize(last.values_at);
    segment.record_metadata.resize(last.metadata_at);
  }
  // A record that failed to read has no scope yet.
  if (segment.name_scope_of.size() == segment.nodes.size()) {
    segment.name_scope_of.pop_back();
  }
  segment.nodes.pop_back();
}

bool NodeListBuilder::HasRoomFor(const ByteRange& record,
                                 uint64_t max_places) const {
  const uint64_t most = (record.end - record.begin) / 2;
  const NodeList::Segment& segment = *segment_;
  for (const size_t used :
       {segment.record_values.size(), segment.message_values.size(),
        segment.record_metadata.size(), segment.message_metadata.size()}) {
    if (used + most > max_places) return false;
  }
  return true;
}

NodeList NodeListBuilder::Finish() {
  std::vector<NodeListBuilder> parts;
  const bool keep_name_scopes = keep_name_scopes_;
  parts.push_back(std::move(*this));
  *this = NodeListBuilder(keep_name_scopes);
  return Join(&parts);
}

NodeList NodeListBuilder::Join(std::vector<NodeListBuilder>* parts,
                               const FileMapping* mapped) {
  NodeList list;
  list.starts_.reserve(parts->size());
  for (NodeListBuilder& part : *parts) {
    const int shift = static_cast<int>(list.size_);
    // Only message nodes have owners: a list of records (a million nodes'
    // 56 MB) is not read again to find none.
    if (part.has_messages_) {
      for (NodeList::Record& node : part.segment_->nodes) {
        if (node.is_message && node.message.owner >= 0) {
          node.message.owner += shift;
        }
      }
    }
    // A message node's views grew by doubling; a million nodes' would leave
    // tens of MB unused for the rest of the run. A record node's spans were
    // reserved (Reserve) with little to spare, never touched: copying them
    // into smaller blocks would fault the new blocks in for nothing.
    part.segment_->nodes.shrink_to_fit();
    part.segment_->message_values.shrink_to_fit();
    part.segment_->message_metadata.shrink_to_fit();
    list.starts_.push_back(list.size_);
    list.size_ += part.segment_->nodes.size();
    list.segments_.push_back(std::move(part.segment_));
  }
  parts->clear();
  list.segment_of_block_.resize((list.size_ >> NodeList::kLocateShift) + 1);
  size_t segment = 0;
  for (size_t block = 0; block < list.segment_of_block_.size(); ++block) {
    const size_t first = block << NodeList::kLocateShift;
    while (segment + 1 < list.starts_.size() &&
           list.starts_[segment + 1] <= first) {
      ++segment;
    }
    list.segment_of_block_[block] = static_cast<uint32_t>(segment);
  }
  list.mapped_ = mapped;
  return list;
}

ParsedNodes::ParsedNodes(size_t count)
    : pages_(new std::atomic<Page*>[(count + kPage - 1) / kPage](),
             PageDeleter((count + kPage - 1) / kPage)),
      size_(count) {}

void ParsedNodes::PageDeleter::operator()(std::atomic<Page*>* pages) const {
  for (size_t k = 0; k < count; ++k) delete pages[k].load();
  delete[] pages;
}

onnx::NodeProto*& ParsedNodes::Slot(size_t i) {
  std::atomic<Page*>& at = pages_[i / kPage];
  Page* page = at.load(std::memory_order_acquire);
  if (page == nullptr) {
    // Another thread may make the same page at once: one of them wins.
    auto made = std::make_unique<Page>();
    made->fill(nullptr);
    if (at.compare_exchange_strong(page, made.get(),
                                   std::memory_order_acq_rel)) {
      page = made.release();
    }
  }
  return (*page)[i % kPage];
}

// One main-graph node parsed from its record onto `arena`, or null when
// the record does not parse.
onnx::NodeProto* ParseNodeRecord(const uint8_t* data, const ByteRange& record,
                                 google::protobuf::Arena* arena) {
  google::protobuf::io::CodedInputStream input(
      data + record.begin, static_cast<int>(record.end - record.begin));
  // Inside the model a node is two messages deep (model, graph).
  input.SetRecursionLimit(
      google::protobuf::io::CodedInputStream::GetDefaultRecursionLimit() - 2);
  onnx::NodeProto* node =
      google::protobuf::Arena::CreateMessage<onnx::NodeProto>(arena);
  if (!node->MergeFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
    return nullptr;
  }
  return node;
}

const uint8_t* NodeList::RecordStart(size_t i) const {
  // Message nodes (parsed onto an arena) hold no file bytes.
  const auto [segment, at] = Locate(i);
  const Record& record = segments_[segment]->nodes[at];
  return record.is_message ? nullptr
                           : static_cast<const uint8_t*>(record.source);
}

std::optional<std::pair<uint64_t, uint64_t>> NodeList::RecordBytes(
    size_t begin, size_t end) const {
  if (mapped_ == nullptr || begin >= end || end > size_) return std::nullopt;
  // From the first record node's first byte to the last one's.
  const uint8_t* first = nullptr;
  for (size_t i = begin; i < end && first == nullptr; ++i) {
    first = RecordStart(i);
  }
  const uint8_t* last = nullptr;
  for (size_t i = end; i > begin && last == nullptr; --i) {
    last = RecordStart(i - 1);
  }
  if (first == nullptr || last <= first) return std::nullopt;
  return std::make_pair(static_cast<uint64_t>(first - mapped_->data()),
                        static_cast<uint64_t>(last - mapped_->data()));
}

void NodeList::Release(size_t begin, size_t end) const {
  if (const auto bytes = RecordBytes(begin, end)) {
    mapped_->Release(bytes->first, bytes->second);
  }
}

void NodeList::Touch(size_t begin, size_t end) const {
  if (const auto bytes = RecordBytes(begin, end)) {
    mapped_->Touch(bytes->first, bytes->second);
  }
}

bool RecordCopy::Read(size_t begin, size_t end) {
  first_ = last_ = 0;
  const FileMapping* mapped = nodes_.mapped_;
  if (mapped == nullptr || begin >= end || end > nodes_.size()) return false;
  const uint8_t* from = nullptr;
  for (size_t i = begin; i < end && from == nullptr; ++i) {
    from = nodes_.RecordStart(i);
  }
  const uint8_t* to = nullptr;
  for (size_t i = end; i < nodes_.size() && to == nullptr; ++i) {
    to = nodes_.RecordStart(i);
  }
  if (from == nullptr || to == nullptr || to <= from ||
      static_cast<uint64_t>(to - from) > kMaxBytes) {
    return false;
  }
  const uint64_t size = static_cast<uint64_t>(to - from);
  const uint64_t at = static_cast<uint64_t>(from - mapped->data());
  const uint8_t* copied = copy_.Read(mapped->fd(), at, size);
  if (copied == nullptr) return false;
  copied_ = reinterpret_cast<const char*>(copied);
  first_ = begin;
  last_ = end;
  at_ = at;
  return true;
}

NodeRef RecordCopy::operator[](size_t i) const {
  const auto [segment, at] = nodes_.Locate(i);
  const NodeList::Segment& nodes = *nodes_.segments_[segment];
  const NodeList::Record& record = nodes.nodes[at];
  if (i < first_ || i >= last_ || record.is_message) return nodes.Get(at);
  const uint64_t offset =
      static_cast<uint64_t>(static_cast<const uint8_t*>(record.source) -
                            nodes_.mapped_->data()) -
      at_;
  return nodes.Get(at, copied_ + offset);
}

// NodeReadAhead's thread: maps each list's pages from where it stopped
// (or from where its walk is, if that is further on) to kNodesPerRelease
// nodes past the walk, then waits to be told of the walks' progress. A
// backward walk's pages are mapped from below where it is, down.
class NodeReadAhead::Worker {
 public:
  Worker(std::vector<const NodeList*> lists, bool backward)
      : lists_(std::move(lists)), backward_(backward) {
    for (const NodeList* list : lists_) {
      // Nothing reached or mapped yet: an empty range at the start.
      const size_t start = backward_ ? list->size() : 0;
      reached_.push_back(start);
      mapped_.push_back(start);
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void Tell(size_t list, size_t i) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // A walk starting again (or turning back) is mapped from there.
      if (backward_ ? i > reached_[list] : i < reached_[list]) {
        mapped_[list] = backward_ ? i + 1 : i;
      }
      reached_[list] = i;
    }
    wake_.notify_one();
  }

 private:
  // Nodes [from, to) of list k are to be mapped next (empty when mapped
  // far enough ahead); `margin` nodes ahead of the walk is far enough.
  std::pair<size_t, size_t> Next(size_t k, size_t margin) const {
    const size_t size = lists_[k]->size();
    const size_t reached = std::min(reached_[k], size);
    if (backward_) {
      const size_t to = std::min(mapped_[k], reached + 1);
      const size_t from = reached > margin ? reached - margin : 0;
      return {from, std::max(from, to)};
    }
    const size_t from = std::max(mapped_[k], reached);
    return {from, std::max(from, std::min(reached + margin, size))};
  }
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || Behind(); });
      if (stopping_) return;
      for (size_t k = 0; k < lists_.size(); ++k) {
        const auto [from, to] = Next(k, kNodesPerRelease);
        if (from >= to) continue;
        mapped_[k] = backward_ ? from : to;
        lock.unlock();
        lists_[k]->Touch(from, to);
        lock.lock();
      }
    }
  }
  // Some list is mapped less than kNodesPerRelease / 2 nodes past its
  // walk.
  bool Behind() const {
    for (size_t k = 0; k < lists_.size(); ++k) {
      const auto [from, to] = Next(k, kNodesPerRelease / 2);
      if (from < to) return true;
    }
    return false;
  }

  const std::vector<const NodeList*> lists_;
  const bool backward_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<size_t> reached_;
  std::vector<size_t> mapped_;  // the end (backward: the start) mapped
  std::thread thread_;
};

NodeReadAhead::NodeReadAhead(std::vector<const NodeList*> lists,
                             Direction direction)
    : backward_(direction == Direction::kBackward),
      told_(lists.size(), kNever) {
  const bool any_mapped =
      std::any_of(lists.begin(), lists.end(), [](const NodeList* list) {
        return list->views_mapped_file() && list->size() > kNodesPerRelease;
      });
  if (any_mapped) {
    worker_ = std::make_unique<Worker>(std::move(lists), backward_);
  }
}

NodeReadAhead::~NodeReadAhead() = default;

void NodeReadAhead::Tell(size_t list, size_t i) {
  told_[list] = i;
  worker_->Tell(list, i);
}

namespace {

// NodeRecordReader's chunks: a read of at most kChunkBytes (from
// kMinChunkBytes, growing with the run, so that a short run of records
// reads little past its end: the first weights of a weight-heavy model),
// and at most kChunkRecords records handed over from a list. A chunk is a
// segment of the list, or more where its tables fill up.
constexpr uint64_t kChunkBytes = uint64_t{2} << 20;
constexpr uint64_t kMinChunkBytes = uint64_t{16} << 10;
constexpr size_t kChunkRecords = size_t{1} << 14;
// Records spanning more than this are read through the mapping.
constexpr uint64_t kMaxCopyBytes = uint64_t{64} << 20;
// A run this long reserves room for the records the rest could hold.
constexpr uint64_t kReserveAfterBytes = uint64_t{1} << 20;

}  // namespace

// What one thread keeps from chunk to chunk: the builder of the last
// chunk it read (kept until the next is reserved like it) and its buffer
// for chunks handed over without bytes.
struct NodeRecordReader::Read {
  NodeListBuilder last;
  size_t last_first = 0;
  RangeCopy copy;
};

NodeRecordReader::NodeRecordReader(const uint8_t* data,
                                   const FileMapping* mapped,
                                   google::protobuf::Arena* arena,
                                   uint64_t max_places, bool keep_name_scopes)
    : data_(data),
      mapped_(mapped),
      arena_(arena),
      max_places_(max_places),
      keep_name_scopes_(keep_name_scopes),
      own_read_(std::make_unique<Read>()) {}

NodeRecordReader::~NodeRecordReader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finishing_ = true;
    failed_ = true;
    waiting_.clear();
  }
  handed_.notify_all();
  for (std::thread& reader : readers_) {
    if (reader.joinable()) reader.join();
  }
}

std::unique_ptr<uint8_t[]> NodeRecordReader::Buffer(uint64_t bytes,
                                                    bool* pooled) {
  *pooled = bytes <= kChunkBytes;
  if (!*pooled) return std::unique_ptr<uint8_t[]>(new uint8_t[bytes]);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!spare_buffers_.empty()) {
      std::unique_ptr<uint8_t[]> buffer = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
      return buffer;
    }
  }
  return std::unique_ptr<uint8_t[]>(new uint8_t[kChunkBytes]);
}

void NodeRecordReader::GiveBack(Chunk* chunk) {
  if (!chunk->pooled || chunk->bytes == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  spare_buffers_.push_back(std::move(chunk->bytes));
}

WireRecord NodeRecordReader::ReadRun(int fd, uint8_t tag_byte,
                                     const WireRecord& first, uint64_t end) {
  WireRecord last = first;
  const size_t first_taken = taken_;  // records taken before this run
  auto take = [&](Chunk* chunk, const WireRecord& record) {
    chunk->records.push_back({record.payload, record.end});
    records_.push_back({record.payload, record.end});
    ++taken_;
    last = record;
  };
  // A record handed over alone, without bytes (the reader reads it, or
  // past kMaxCopyBytes maps it): one longer than a copy may be, or the
  // caller's own where this reading does not find it (a read that failed,
  // a tag spelled in more than one byte).
  auto take_alone = [&](const WireRecord& record) {
    Chunk alone;
    alone.first = taken_;
    take(&alone, record);
    Hand(std::move(alone));
  };
  uint64_t at = first.begin;
  uint64_t at_least = 0;  // a record longer than the chunk would be
  bool run_over = false;
  bool reserved = false;
  while (!run_over) {
    const uint64_t want = std::max(
        at_least, std::min({end - at, kChunkBytes,
                            std::max(kMinChunkBytes, at - first.begin)}));
    at_least = 0;
    Chunk chunk;
    chunk.first = taken_;
    chunk.bytes = Buffer(want, &chunk.pooled);
    chunk.bytes_at = at;
    const int64_t got = ReadAt(fd, chunk.bytes.get(), want, at);
    const uint64_t window_end = at + (got > 0 ? static_cast<uint64_t>(got) : 0);
    const bool short_read = window_end < at + want;
    while (true) {
      if (!HeaderInWindow(window_end, at, end)) {
        run_over = short_read || at >= end;
        break;
      }
      WireRecord record;
      if (!RecordAt(chunk.bytes.get(), chunk.bytes_at, window_end, tag_byte, at,
                    end, &record)) {
        run_over = true;
        break;
      }
      if (record.end <= window_end) {
        take(&chunk, record);
        at = record.end;
        continue;
      }
      if (short_read) {
        run_over = true;
      } else if (chunk.records.empty()) {
        if (record.end - at > kMaxCopyBytes) {
          take_alone(record);
          at = record.end;
        } else {
          at_least = record.end - at;
        }
      }
      break;
    }
    if (chunk.records.empty()) {
      GiveBack(&chunk);
      continue;
    }
    if (!reserved && at - first.begin >= kReserveAfterBytes) {
      // A long run: room for the records the rest of the message could
      // hold at the size they average so far. Growing by doubling would
      // copy and fault in twice the memory (a million records' 16 MB);
      // the room a shorter run leaves is never touched.
      reserved = true;
      const uint64_t average = (at - first.begin) / (taken_ - first_taken);
      records_.reserve(records_.size() + (end - at) / average);
    }
    Hand(std::move(chunk));
  }
  if (taken_ == first_taken) take_alone(first);
  return last;
}

void NodeRecordReader::Add(const std::vector<ByteRange>& records) {
  for (size_t first = 0; first < records.size(); first += kChunkRecords) {
    Chunk chunk;
    chunk.first = taken_;
    const size_t last = std::min(records.size(), first + kChunkRecords);
    chunk.records.assign(records.begin() + first, records.begin() + last);
    records_.insert(records_.end(), chunk.records.begin(), chunk.records.end());
    taken_ += chunk.records.size();
    Hand(std::move(chunk));
  }
}

void NodeRecordReader::Hand(Chunk chunk) {
  // Other threads join once the records are enough to share out (as
  // ForSlices shares a loop, and as many at most): a small model is read
  // on this thread alone, with no thread started for it.
  if (!readers_started_ && taken_ >= kNodesPerSlice) {
    readers_started_ = true;
    const size_t threads =
        SliceCount(std::numeric_limits<size_t>::max(), kNodesPerSlice);
    for (size_t t = 1; t < threads; ++t) {
      readers_.emplace_back([this] { ReadChunks(); });
    }
  }
  if (readers_.empty()) {
    ReadChunk(&chunk, own_read_.get());
    return;
  }
  bool too_many;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.push_back(std::move(chunk));
    too_many = waiting_.size() > 2 * readers_.size();
  }
  handed_.notify_one();
  // More waiting than the other cores keep up with: this core reads the
  // oldest, rather than holding every chunk's bytes at once.
  if (too_many && TakeWaiting(/*wait=*/false, &chunk)) {
    ReadChunk(&chunk, own_read_.get());
  }
}

bool NodeRecordReader::TakeWaiting(bool wait, Chunk* chunk) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (wait) {
    handed_.wait(lock, [this] { return !waiting_.empty() || finishing_; });
  }
  if (waiting_.empty()) return false;
  *chunk = std::move(waiting_.front());
  waiting_.pop_front();
  return true;
}

void NodeRecordReader::ReadChunks() {
  Read read;
  Chunk chunk;
  while (TakeWaiting(/*wait=*/true, &chunk)) ReadChunk(&chunk, &read);
  Keep(&read);
}

void NodeRecordReader::Keep(Read* read) {
  if (read->last.size() == 0) return;
  KeepSegment(read->last_first, std::move(read->last));
  read->last = NodeListBuilder(keep_name_scopes_);
}

void NodeRecordReader::KeepSegment(size_t first, NodeListBuilder builder) {
  std::lock_guard<std::mutex> lock(mutex_);
  segments_.emplace_back(first, std::move(builder));
}

void NodeRecordReader::ReadChunk(Chunk* chunk, Read* read) {
  ParseChunk(*chunk, read);
  GiveBack(chunk);
}

void NodeRecordReader::ParseChunk(const Chunk& chunk, Read* read) {
  if (failed_ || chunk.records.empty()) return;
  const std::vector<ByteRange>& records = chunk.records;
  const uint8_t* from = data_;  // the chunk's bytes: from[0] is the file's
  uint64_t from_at = 0;         // byte `from_at`
  if (chunk.bytes != nullptr) {
    from = chunk.bytes.get();
    from_at = chunk.bytes_at;
  } else if (mapped_ != nullptr) {
    const uint64_t span = records.back().end - records.front().begin;
    if (span <= kMaxCopyBytes) {
      if (const uint8_t* copied =
              read->copy.Read(mapped_->fd(), records.front().begin, span)) {
        from = copied;
        from_at = records.front().begin;
      }
    }
  }
  // Reserved like the last chunk this thread read, which is then kept.
  NodeListBuilder builder(keep_name_scopes_);
  builder.Reserve(records.size(),
                  read->last.size() > 0 ? &read->last : nullptr);
  Keep(read);
  size_t builder_first = chunk.first;
  std::vector<std::pair<size_t, onnx::NodeProto*>> messages;
  for (size_t k = 0; k < records.size(); ++k) {
    const size_t i = chunk.first + k;
    const ByteRange record{records[k].begin - from_at,
                           records[k].end - from_at};
    const uint8_t* viewed = from == data_ ? nullptr : data_ + records[k].begin;
    if (builder.size() > 0 && !builder.HasRoomFor(records[k], max_places_)) {
      // As many records as the full one took, at most those left.
      NodeListBuilder next(keep_name_scopes_);
      next.Reserve(std::min(records.size() - k, builder.size()), &builder);
      KeepSegment(builder_first, std::move(builder));
      builder = std::move(next);
      builder_first = i;
    }
    bool needs_message = false;
    if (!builder.AddRecord(from, record, &needs_message, viewed)) {
      failed_ = true;
      return;
    }
    if (!needs_message) continue;
    builder.RemoveLast();
    onnx::NodeProto* message = ParseNodeRecord(from, record, arena_);
    if (message == nullptr) {
      failed_ = true;
      return;
    }
    messages.emplace_back(i, message);
    builder.AddMessage(*message, "main", -1);
  }
  if (mapped_ != nullptr && from == data_) {
    mapped_->Release(records.front().begin, records.back().end);
  }
  read->last = std::move(builder);
  read->last_first = builder_first;
  if (!messages.empty()) {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.insert(messages_.end(), messages.begin(), messages.end());
  }
}

bool NodeRecordReader::Finish(NodeList* nodes, ParsedNodes* parsed) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finishing_ = true;
  }
  handed_.notify_all();
  // What still waits is read here too.
  Chunk chunk;
  while (TakeWaiting(/*wait=*/false, &chunk)) {
    ReadChunk(&chunk, own_read_.get());
  }
  for (std::thread& reader : readers_) reader.join();
  readers_.clear();
  Keep(own_read_.get());
  spare_buffers_.clear();
  if (failed_) return false;
  std::sort(segments_.begin(), segments_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<NodeListBuilder> parts;
  parts.reserve(segments_.size());
  for (auto& [first, builder] : segments_) parts.push_back(std::move(builder));
  segments_.clear();
  *nodes = NodeListBuilder::Join(&parts, mapped_);
  *parsed = ParsedNodes(taken_);
  for (const auto& [i, message] : messages_) parsed->Slot(i) = message;
  messages_.clear();
  return true;
}

bool ReadNodeRecords(const uint8_t* data, const std::vector<ByteRange>& records,
                     google::protobuf::Arena* arena, NodeList* nodes,
                     ParsedNodes* parsed, const FileMapping* mapped,
                     uint64_t max_places, bool keep_name_scopes) {
  NodeRecordReader reader(data, mapped, arena, max_places, keep_name_scopes);
  reader.Add(records);
  return reader.Finish(nodes, parsed);
}

}  // namespace hp
