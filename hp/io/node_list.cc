#include "hp/io/node_list.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "hp/io/external_data.h"
#include "hp/util/parallel.h"

namespace hp {
namespace {

constexpr char kMainGraph[] = "main";

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

absl::string_view View(const uint8_t* data, const WireRecord& record) {
  return absl::string_view(reinterpret_cast<const char*>(data + record.payload),
                           record.end - record.payload);
}

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

const absl::string_view* NodeRef::FindMetadata(absl::string_view key) const {
  for (const MetadataView& entry : metadata) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

bool OwnsSubgraphs(const onnx::NodeProto& node) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.has_g() || attribute.graphs_size() > 0) return true;
  }
  return false;
}

NodeRef& NodeListBuilder::Start(absl::string_view graph_path, int owner,
                                const onnx::NodeProto* message) {
  segment_->nodes.emplace_back();
  NodeRef& node = segment_->nodes.back();
  node.graph_path = graph_path;
  node.owner = owner;
  node.node = message;
  return node;
}

void NodeListBuilder::Close() {
  ends_.push_back({static_cast<uint32_t>(segment_->inputs.size()),
                   static_cast<uint32_t>(segment_->outputs.size()),
                   static_cast<uint32_t>(segment_->metadata.size())});
}

void NodeListBuilder::AddMessage(const onnx::NodeProto& node,
                                 absl::string_view graph_path, int owner) {
  AddKeptMessage(node, KeepPath(graph_path), owner);
}

void NodeListBuilder::AddGraph(const onnx::GraphProto& graph,
                               absl::string_view graph_path, int owner) {
  AddKeptGraph(graph, KeepPath(graph_path), owner);
}

absl::string_view NodeListBuilder::KeepPath(absl::string_view path) {
  if (path == kMainGraph) return kMainGraph;
  segment_->graph_paths.push_back(std::make_unique<std::string>(path));
  return *segment_->graph_paths.back();
}

void NodeListBuilder::AddKeptMessage(const onnx::NodeProto& node,
                                     absl::string_view graph_path, int owner) {
  const int index = static_cast<int>(size());
  NodeRef& ref = Start(graph_path, owner, &node);
  ref.name = node.name();
  ref.op_type = node.op_type();
  ref.domain = node.domain();
  ref.owns_subgraphs = OwnsSubgraphs(node);
  ref.has_unknown_fields = !node.unknown_fields().empty();
  for (const std::string& input : node.input()) segment_->inputs.push_back(input);
  for (const std::string& output : node.output()) {
    segment_->outputs.push_back(output);
  }
  for (const onnx::StringStringEntryProto& entry : node.metadata_props()) {
    segment_->metadata.push_back({entry.key(), entry.value()});
  }
  Close();
  if (!ref.owns_subgraphs) return;
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (!attribute.has_g() && attribute.graphs_size() == 0) continue;
    const std::string prefix =
        absl::StrCat(graph_path, "/", node.name(), "/", attribute.name());
    if (attribute.has_g()) AddKeptGraph(attribute.g(), KeepPath(prefix), index);
    for (int i = 0; i < attribute.graphs_size(); ++i) {
      AddKeptGraph(attribute.graphs(i),
                   KeepPath(absl::StrCat(prefix, "[", i, "]")), index);
    }
  }
}

void NodeListBuilder::AddKeptGraph(const onnx::GraphProto& graph,
                                   absl::string_view graph_path, int owner) {
  for (const onnx::NodeProto& node : graph.node()) {
    AddKeptMessage(node, graph_path, owner);
  }
}

bool NodeListBuilder::AddRecord(const uint8_t* data, ByteRange record,
                                bool* needs_message) {
  bool external = false;
  const size_t inputs = segment_->inputs.size();
  const size_t outputs = segment_->outputs.size();
  const size_t metadata = segment_->metadata.size();
  NodeRef& node = Start(kMainGraph, -1, nullptr);
  auto fail = [&] {
    segment_->nodes.pop_back();
    segment_->inputs.resize(inputs);
    segment_->outputs.resize(outputs);
    segment_->metadata.resize(metadata);
    return false;
  };
  WireReader reader(data, record.begin, record.end);
  WireRecord field;
  while (!reader.done()) {
    if (!reader.Next(&field)) return fail();
    if (field.wire_type != kLengthDelimited || field.field == 0 ||
        field.field > kLastNodeField) {
      node.has_unknown_fields = true;
      continue;
    }
    switch (field.field) {
      case kNodeInput:
        segment_->inputs.push_back(View(data, field));
        break;
      case kNodeOutput:
        segment_->outputs.push_back(View(data, field));
        break;
      case kNodeName:
        node.name = View(data, field);
        break;
      case kNodeOpType:
        node.op_type = View(data, field);
        break;
      case kNodeDomain:
        node.domain = View(data, field);
        break;
      case kNodeAttribute:
        if (!ReadAttribute(data, field, &node.owns_subgraphs, &external)) {
          return fail();
        }
        break;
      case kNodeMetadataProps: {
        MetadataView entry;
        WireReader entry_reader(data, field.payload, field.end);
        WireRecord part;
        while (!entry_reader.done()) {
          if (!entry_reader.Next(&part)) return fail();
          if (part.wire_type != kLengthDelimited) continue;
          if (part.field == kEntryKey) entry.key = View(data, part);
          if (part.field == kEntryValue) entry.value = View(data, part);
        }
        segment_->metadata.push_back(entry);
        break;
      }
      default:  // doc_string, overload
        break;
    }
  }
  Close();
  *needs_message = node.owns_subgraphs || external;
  return true;
}

void NodeListBuilder::RemoveLast() {
  segment_->nodes.pop_back();
  ends_.pop_back();
  const Ends last = ends_.empty() ? Ends() : ends_.back();
  segment_->inputs.resize(last.inputs);
  segment_->outputs.resize(last.outputs);
  segment_->metadata.resize(last.metadata);
}

void NodeListBuilder::SetSpans() {
  NodeList::Segment& segment = *segment_;
  Ends begin;
  for (size_t i = 0; i < segment.nodes.size(); ++i) {
    NodeRef& node = segment.nodes[i];
    const Ends& end = ends_[i];
    node.inputs = absl::MakeConstSpan(segment.inputs.data() + begin.inputs,
                                      end.inputs - begin.inputs);
    node.outputs = absl::MakeConstSpan(segment.outputs.data() + begin.outputs,
                                       end.outputs - begin.outputs);
    node.metadata = absl::MakeConstSpan(
        segment.metadata.data() + begin.metadata, end.metadata - begin.metadata);
    begin = end;
  }
  ends_.clear();
  ends_.shrink_to_fit();
}

NodeList NodeListBuilder::Finish() {
  std::vector<NodeListBuilder> parts;
  parts.push_back(std::move(*this));
  *this = NodeListBuilder();
  return Join(&parts);
}

NodeList NodeListBuilder::Join(std::vector<NodeListBuilder>* parts) {
  NodeList list;
  size_t count = 0;
  for (const NodeListBuilder& part : *parts) count += part.size();
  list.index_.reserve(count);
  for (NodeListBuilder& part : *parts) {
    part.SetSpans();
    const int shift = static_cast<int>(list.index_.size());
    for (NodeRef& node : part.segment_->nodes) {
      if (node.owner >= 0) node.owner += shift;
      list.index_.push_back(&node);
    }
    list.segments_.push_back(std::move(part.segment_));
  }
  parts->clear();
  return list;
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

// Reads the main graph's node records as views (NodeListBuilder::AddRecord)
// on all cores; a node that owns subgraphs is parsed onto `arena`, and its
// bodies' nodes follow it. False when a record does not parse.
bool ReadNodeRecords(const uint8_t* data, const std::vector<ByteRange>& records,
                     google::protobuf::Arena* arena, NodeList* nodes,
                     std::vector<onnx::NodeProto*>* parsed) {
  parsed->assign(records.size(), nullptr);
  // Read in chunks, several to a thread, that the list then keeps as they
  // are: nothing is copied to join them.
  constexpr size_t kChunk = 1 << 14;
  std::vector<NodeListBuilder> chunks((records.size() + kChunk - 1) / kChunk);
  std::atomic<bool> read{true};
  const size_t min_chunks = (kNodesPerSlice + kChunk - 1) / kChunk;
  ForSlices(chunks.size(), min_chunks, [&](size_t first, size_t last) {
    for (size_t chunk = first; chunk < last && read; ++chunk) {
      NodeListBuilder& slice = chunks[chunk];
      const size_t begin = chunk * kChunk;
      const size_t end = std::min(records.size(), begin + kChunk);
      for (size_t i = begin; i < end && read; ++i) {
        bool needs_message = false;
        if (!slice.AddRecord(data, records[i], &needs_message)) {
          read = false;
          break;
        }
        if (!needs_message) continue;
        slice.RemoveLast();
        (*parsed)[i] = ParseNodeRecord(data, records[i], arena);
        if ((*parsed)[i] == nullptr) {
          read = false;
          break;
        }
        slice.AddMessage(*(*parsed)[i], "main", -1);
      }
    }
  });
  if (!read) return false;
  *nodes = NodeListBuilder::Join(&chunks);
  return true;
}

}  // namespace hp
