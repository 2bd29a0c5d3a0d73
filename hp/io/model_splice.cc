// One file, over 450 lines on purpose: scanning a model's records, the
// skeleton parsed from them, the copy plan and the writer all walk the same
// record layout, and splitting them would spread that layout over four files.
#include "hp/io/model_splice.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "hp/io/atomic_file.h"
#include "hp/io/external_data.h"
#include "hp/io/structure_digest.h"
#include "hp/io/wire_format.h"
#include "hp/util/parallel.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

using ::google::protobuf::io::CodedOutputStream;

// Field numbers inside a SparseTensorProto.
constexpr uint32_t kSparseValues = 1;
constexpr uint32_t kSparseIndices = 2;

absl::Status ParseError(const std::string& path) {
  // LoadModel's words for the same file.
  return absl::InvalidArgumentError(
      absl::StrCat(path,
                   ": not an ONNX model (protobuf parse failed: the file is "
                   "truncated, corrupt or of another format)"));
}

// The error for node records of which one does not parse, on a model too
// big to parse whole for protobuf's own message: the first such record.
absl::Status FirstBadNodeRecord(const uint8_t* data,
                                const std::vector<ByteRange>& records,
                                const std::string& path) {
  google::protobuf::Arena arena;
  for (size_t i = 0; i < records.size(); ++i) {
    if (ParseNodeRecord(data, records[i], &arena) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": node record ", i,
                       " does not parse as a NodeProto (the file is "
                       "truncated or corrupt)"));
    }
    arena.Reset();
  }
  return ParseError(path);
}

// The bytes that make up the skeleton: ranges of the file and a few bytes
// written anew (the graph's tag and shortened length).
class SkeletonPieces {
 public:
  void AddRange(uint64_t begin, uint64_t end) {
    if (begin == end) return;
    size_ += end - begin;
    if (!pieces_.empty() && pieces_.back().literal.empty() &&
        pieces_.back().end == begin) {
      pieces_.back().end = end;
      return;
    }
    pieces_.push_back({begin, end, ""});
  }
  void AddLiteral(std::string bytes) {
    size_ += bytes.size();
    pieces_.push_back({0, 0, std::move(bytes)});
  }
  void AddAll(const SkeletonPieces& other) {
    for (const Piece& piece : other.pieces_) {
      if (piece.literal.empty()) {
        AddRange(piece.begin, piece.end);
      } else {
        AddLiteral(piece.literal);
      }
    }
  }
  uint64_t size() const { return size_; }

  std::string Assemble(const uint8_t* data) const {
    std::string bytes;
    bytes.reserve(size_);
    for (const Piece& piece : pieces_) {
      if (!piece.literal.empty()) {
        bytes.append(piece.literal);
      } else {
        bytes.append(reinterpret_cast<const char*>(data + piece.begin),
                     piece.end - piece.begin);
      }
    }
    return bytes;
  }

 private:
  struct Piece {
    uint64_t begin;
    uint64_t end;
    std::string literal;
  };
  std::vector<Piece> pieces_;
  uint64_t size_ = 0;
};

std::string LengthHeader(uint32_t field, uint64_t length) {
  std::string header(1 + CodedOutputStream::VarintSize64(length), '\0');
  uint8_t* target = reinterpret_cast<uint8_t*>(&header[0]);
  *target++ = TagByte(field);
  CodedOutputStream::WriteVarint64ToArray(length, target);
  return header;
}

bool IsTensorPayloadField(uint32_t field) {
  // TensorProto float_data, int32_data, string_data, int64_data, raw_data,
  // double_data, uint64_data.
  return (field >= 4 && field <= 7) || (field >= 9 && field <= 11);
}

// The tensor without its data fields: enough to check where external data
// lives, as LoadModel does, without reading the weights.
bool ParseTensorHeader(const uint8_t* data, uint64_t begin, uint64_t end,
                       onnx::TensorProto* header) {
  std::string kept;
  WireReader reader(data, begin, end);
  WireRecord record;
  while (!reader.done()) {
    if (!reader.Next(&record)) return false;
    if (IsTensorPayloadField(record.field)) continue;
    kept.append(reinterpret_cast<const char*>(data + record.begin),
                record.end - record.begin);
  }
  return header->ParseFromString(kept);
}

bool ParseSparseHeader(const uint8_t* data, uint64_t begin, uint64_t end,
                       onnx::SparseTensorProto* header) {
  std::string kept;
  onnx::TensorProto values;
  onnx::TensorProto indices;
  bool has_values = false;
  bool has_indices = false;
  WireReader reader(data, begin, end);
  WireRecord record;
  while (!reader.done()) {
    if (!reader.Next(&record)) return false;
    const bool tensor =
        record.wire_type == kLengthDelimited &&
        (record.field == kSparseValues || record.field == kSparseIndices);
    if (!tensor) {
      kept.append(reinterpret_cast<const char*>(data + record.begin),
                  record.end - record.begin);
      continue;
    }
    onnx::TensorProto part;
    if (!ParseTensorHeader(data, record.payload, record.end, &part))
      return false;
    (record.field == kSparseValues ? values : indices).MergeFrom(part);
    (record.field == kSparseValues ? has_values : has_indices) = true;
  }
  if (!header->ParseFromString(kept)) return false;
  if (has_values) header->mutable_values()->MergeFrom(values);
  if (has_indices) header->mutable_indices()->MergeFrom(indices);
  return true;
}

// SerializeModel() for the graph's fields other than nodes.
absl::StatusOr<std::string> SerializeGraphRest(const onnx::GraphProto& message,
                                               const std::string& destination) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxProtobufBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(destination,
                     ": the graph's fields other than nodes and initializers "
                     "take ",
                     size,
                     " bytes, over protobuf's 2 GB limit for one "
                     "message"));
  }
  return SerializeSized(message, destination, "graph");
}

// Where protobuf's serializer would have put `field` into the serialized
// message `bytes` that lacks it: before the first record of a higher known
// field or of an unknown field (those always come last).
size_t InsertionPoint(absl::string_view bytes, uint32_t field,
                      const google::protobuf::Descriptor* descriptor) {
  const uint8_t* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WireReader reader(data, 0, bytes.size());
  WireRecord record;
  while (!reader.done() && reader.Next(&record)) {
    if (record.field > field || descriptor->FindFieldByNumber(static_cast<int>(
                                    record.field)) == nullptr) {
      return static_cast<size_t>(record.begin);
    }
  }
  return bytes.size();
}

// Takes the graph out of the model and the nodes out of the graph for the
// scope's length, without copying either (same arena), and puts them back.
class GraphDetacher {
 public:
  using Nodes = google::protobuf::RepeatedPtrField<onnx::NodeProto>;

  explicit GraphDetacher(onnx::ModelProto* model)
      : model_(model), nodes_(model->GetArena()) {
    if (model_->has_graph()) graph_ = model_->unsafe_arena_release_graph();
    if (graph_ != nullptr) nodes_.UnsafeArenaSwap(graph_->mutable_node());
  }
  ~GraphDetacher() {
    if (graph_ == nullptr) return;
    nodes_.UnsafeArenaSwap(graph_->mutable_node());
    model_->unsafe_arena_set_allocated_graph(graph_);
  }
  GraphDetacher(const GraphDetacher&) = delete;
  GraphDetacher& operator=(const GraphDetacher&) = delete;

  // Null when the model has no graph.
  const onnx::GraphProto* graph_without_nodes() const { return graph_; }
  const Nodes& nodes() const { return nodes_; }

 private:
  onnx::ModelProto* model_;
  onnx::GraphProto* graph_ = nullptr;
  Nodes nodes_;  // on the model's arena, so that swapping copies nothing
};

// ParseModel() into an arena-allocated message. The checks are ParseModel's;
// on failure ParseModel itself gives the error, in LoadModel's words.
absl::Status ParseSkeleton(absl::string_view bytes, const std::string& path,
                           onnx::ModelProto* model) {
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  input.SetTotalBytesLimit(static_cast<int>(kMaxProtobufBytes));
  if (!bytes.empty() && model->ParseFromCodedStream(&input) &&
      input.ConsumedEntireMessage() && model->has_ir_version() &&
      model->ir_version() > 0) {
    return absl::OkStatus();
  }
  absl::Status error = ParseModel(bytes, path).status();
  if (!error.ok()) return error;
  return ParseError(path);
}

// Appends the main graph's node records (payloads, in file order) to
// `model`'s graph as protobuf parses them inside the whole model: a
// million nodes are parsed on all cores, as arena allocation is thread-safe.
// False when one fails to parse.
bool ParseNodes(const uint8_t* data, const std::vector<ByteRange>& records,
                onnx::ModelProto* model) {
  if (records.empty()) return true;
  google::protobuf::Arena* arena = model->GetArena();
  std::vector<onnx::NodeProto*> nodes(records.size());
  std::atomic<bool> parsed{true};
  ForSlices(records.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end && parsed; ++i) {
      nodes[i] = ParseNodeRecord(data, records[i], arena);
      if (nodes[i] == nullptr) parsed = false;
    }
  });
  if (!parsed) return false;
  auto* graph_nodes = model->mutable_graph()->mutable_node();
  graph_nodes->Reserve(static_cast<int>(nodes.size()));
  for (onnx::NodeProto* node : nodes) {
    graph_nodes->UnsafeArenaAddAllocated(node);
  }
  return true;
}

}  // namespace

void ModelSplice::NewSkeleton() {
  // Large blocks: a big skeleton takes thousands of them, not millions.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = size_t{64} << 10;
  arena_options.max_block_size = size_t{4} << 20;
  arena_ = std::make_unique<google::protobuf::Arena>(arena_options);
  skeleton_ =
      google::protobuf::Arena::CreateMessage<onnx::ModelProto>(arena_.get());
}

absl::StatusOr<ModelSplice> ModelSplice::Open(const std::string& path,
                                              const SpliceOptions& options) {
  ModelSplice splice;
  splice.path_ = path;
  HP_ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  splice.fd_ = std::move(file.fd);
  splice.file_bytes_ = file.size;
  const absl::Status read = splice.Read(options);
  // A file cut short under the mapping reads as zeros past its new end
  // (FileMapping): whatever the parse made of them, say what happened.
  HP_RETURN_IF_ERROR(splice.CheckNotTruncated());
  HP_RETURN_IF_ERROR(read);
  return splice;
}

absl::Status ModelSplice::CheckNotTruncated() const {
  return CheckFileNotShrunk(fd_.get(), file_bytes_, path_, mapping_.get());
}

absl::Status ModelSplice::Read(const SpliceOptions& options) {
  const std::string& path = path_;
  auto mapping = std::make_unique<FileMapping>(fd_.get(), file_bytes_);
  const uint8_t* data = mapping->data();
  if (file_bytes_ > 0 && data == nullptr) {
    return ErrnoError("cannot map", path);
  }

  // Only the records around the weights are read, not the weights (a
  // layer extracted from a 1 GB model read 528 MB with read-around); the
  // node records, read in order, are asked for ahead of the scan. The
  // window grows with the node bytes already seen (up to 256 KiB), so what
  // it asks for past the last node (the first weights) is at most the size
  // of the nodes: a layer extracted from a 1 GB model read 217 KB of
  // another layer's weights with a fixed 256 KiB window.
  mapping->ReadOnlyTouchedPages();
  constexpr uint64_t kMinReadAheadBytes = uint64_t{16} << 10;
  constexpr uint64_t kMaxReadAheadBytes = uint64_t{256} << 10;
  uint64_t nodes_begin = 0;
  uint64_t read_ahead_to = 0;
  auto read_ahead = [&](uint64_t node_begin, uint64_t at) {
    if (read_ahead_to == 0) nodes_begin = node_begin;
    if (at < read_ahead_to) return;
    const uint64_t window = std::min(
        kMaxReadAheadBytes, std::max(kMinReadAheadBytes, at - nodes_begin));
    read_ahead_to = at + window;
    mapping->ReadAhead(at, read_ahead_to);
  };

  // Each pass over the node records gives back the pages behind it: a
  // million-node graph is read with a window of it resident, not all of it
  // (twice, with the hash of its structure on another thread).
  constexpr uint64_t kReleaseBytes = uint64_t{4} << 20;
  uint64_t released_to = 0;
  auto release_behind = [&](uint64_t at) {
    if (at < released_to + kReleaseBytes) return;
    mapping->Release(released_to, at);
    released_to = at;
  };

  // Pass 1: find the initializer records and what stays in the skeleton:
  // `pieces`, or the main graph's node records and `rest`, the others.
  SkeletonPieces pieces;
  SkeletonPieces rest;
  std::vector<ByteRange> node_records;
  // Read as records, the main graph's nodes are read (pass 2's work) on
  // the other cores as pass 1 finds them, from the bytes it found them in.
  // Their messages, if any, go on the new skeleton's arena.
  NewSkeleton();
  std::optional<NodeRecordReader> records_read;
  if (options.read_node_records) {
    records_read.emplace(data, mapping.get(), arena_.get(), kMaxSegmentPlaces,
                         options.keep_name_scopes);
  }
  WireReader top(data, 0, file_bytes_);
  WireRecord record;
  while (!top.done()) {
    if (!top.Next(&record)) return ParseError(path);
    if (record.field != kModelGraph || record.wire_type != kLengthDelimited) {
      pieces.AddRange(record.begin, record.end);
      rest.AddRange(record.begin, record.end);
      continue;
    }
    SkeletonPieces graph;
    SkeletonPieces graph_rest;
    WireReader reader(data, record.payload, record.end);
    RecordRunReader node_runs(fd_.get(), record.end);
    WireRecord field;
    while (!reader.done()) {
      if (!reader.Next(&field)) return ParseError(path);
      const bool skipped = field.wire_type == kLengthDelimited &&
                           (field.field == kGraphInitializer ||
                            field.field == kGraphSparseInitializer);
      const bool node =
          field.wire_type == kLengthDelimited && field.field == kGraphNode;
      if (node && records_read.has_value()) {
        const uint64_t run_begin = field.begin;
        field = records_read->ReadRun(fd_.get(), TagByte(kGraphNode), field,
                                      record.end);
        graph.AddRange(run_begin, field.end);
        reader = WireReader(data, field.end, record.end);
      } else if (node) {
        read_ahead(field.begin, field.end);
        release_behind(field.begin);
        graph.AddRange(field.begin, field.end);
        node_records.push_back({field.payload, field.end});
        // The node records after it, read without mapping their pages; the
        // later part of a long run on a second thread meanwhile, taken if
        // this reading ends a record where that one started.
        const uint64_t run_begin = field.begin;
        std::optional<RecordRunAhead> ahead;
        bool looked_ahead = false;
        while (true) {
          if (ahead.has_value() && field.end >= ahead->start()) {
            if (field.end == ahead->start()) {
              RecordRunAhead::Run run = ahead->Take();
              if (!run.records.empty()) {
                graph.AddRange(field.end, run.last.end);
                node_records.insert(node_records.end(), run.records.begin(),
                                    run.records.end());
                field = run.last;
              }
            }
            ahead.reset();
          }
          const uint64_t read = field.end - run_begin;
          if (!looked_ahead && read >= options.node_run_ahead_after &&
              HardwareThreads() > 1) {
            looked_ahead = true;
            const uint64_t left = record.end - field.end;
            if (left >= read) {
              ahead.emplace(data, fd_.get(), TagByte(kGraphNode),
                            field.end + left / 2, record.end);
              if (!ahead->found()) ahead.reset();
            }
          }
          if (!node_runs.Next(TagByte(kGraphNode), field.end, &field)) break;
          graph.AddRange(field.begin, field.end);
          node_records.push_back({field.payload, field.end});
        }
        // A run that started past where this one ended is dropped.
        ahead.reset();
        reader = WireReader(data, field.end, record.end);
      } else if (!skipped) {
        graph.AddRange(field.begin, field.end);
        graph_rest.AddRange(field.begin, field.end);
      } else if (field.field == kGraphInitializer) {
        initializers_.push_back({field.begin, field.end});
        if (!ParseTensorHeader(data, field.payload, field.end,
                               headers_.add_initializer())) {
          return ParseError(path);
        }
      } else {
        sparse_initializers_.push_back({field.begin, field.end});
        if (!ParseSparseHeader(data, field.payload, field.end,
                               headers_.add_sparse_initializer())) {
          return ParseError(path);
        }
      }
    }
    pieces.AddLiteral(LengthHeader(kModelGraph, graph.size()));
    pieces.AddAll(graph);
    rest.AddLiteral(LengthHeader(kModelGraph, graph_rest.size()));
    rest.AddAll(graph_rest);
  }
  if (records_read.has_value()) node_records = records_read->TakeRecords();
  // Node records read as records are parsed one at a time, if ever: past
  // 2 GB of nodes, only each record and the rest must fit one message.
  const uint64_t skeleton_bytes =
      options.read_node_records ? rest.size() : pieces.size();
  if (skeleton_bytes > options.max_skeleton_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the model without its graph initializers",
        options.read_node_records ? " and node records" : "", " is ",
        skeleton_bytes, " bytes, over protobuf's ", options.max_skeleton_bytes,
        "-byte limit for one message. hp tags models of any size as long as "
        "the weights are graph initializers; here nodes (e.g. Constant "
        "tensors in attributes), subgraphs or functions hold too much: move "
        "large constants into initializers or ONNX external data"));
  }
  if (options.read_node_records) {
    for (size_t i = 0; i < node_records.size(); ++i) {
      const uint64_t size = node_records[i].end - node_records[i].begin;
      if (size > options.max_skeleton_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": node record ", i, " is ", size, " bytes, over protobuf's ",
            options.max_skeleton_bytes,
            "-byte limit for one message: move large constants into "
            "initializers or ONNX external data"));
      }
    }
  }

  // Pass 2: parse the skeleton and check it as LoadModel checks a model:
  // the rest, then the node records (read as records while pass 1 found
  // them, else parsed in parallel now). Where that fails, the skeleton is
  // parsed again as one message for LoadModel's error.
  const bool skeleton_read =
      ParseSkeleton(rest.Assemble(data), path, skeleton_).ok();
  // Waited for also where the skeleton failed: the reads use its arena.
  const bool nodes_read =
      records_read.has_value()
          ? records_read->Finish(&nodes_, &parsed_) && skeleton_read
          : skeleton_read && ParseNodes(data, node_records, skeleton_);
  if (nodes_read) {
    node_records_ = std::move(node_records);
    reads_records_ = options.read_node_records;
    // Without subgraph bodies, node i is record i: nothing to keep.
    if (nodes_.size() != node_records_.size()) {
      int64_t next = 0;
      for (const NodeRef& node : nodes_) {
        record_of_.push_back(node.owner < 0 ? next++ : -1);
      }
    }
  } else {
    // Nodes read before the failing record point into the old arena.
    nodes_ = NodeList();
    parsed_ = ParsedNodes();
    NewSkeleton();
    if (pieces.size() > options.max_skeleton_bytes) {
      // Too big to parse whole for protobuf's words: name the record.
      HP_RETURN_IF_ERROR(ParseSkeleton(rest.Assemble(data), path, skeleton_));
      return FirstBadNodeRecord(data, node_records, path);
    }
    HP_RETURN_IF_ERROR(ParseSkeleton(pieces.Assemble(data), path, skeleton_));
  }
  onnx::ModelProto initializers;
  *initializers.mutable_graph() = headers_;
  if (reads_records_) {
    // The views point into the file: it stays mapped. Of the main-graph
    // nodes, only those parsed can hold external data.
    mapping_ = std::move(mapping);
    if (options.release_pages_periodically) {
      // What a pass reads back in one period stays resident: a faster
      // machine reads more of the file in it (20 ms kept 1.55-1.7x the
      // tagged nodes_1m resident on one where 5 ms keeps 1.25-1.35x).
      mapping_->ReleaseEvery(std::chrono::milliseconds(5));
    }
    for (size_t i = 0; i < parsed_.size(); ++i) {
      if (parsed_[i] != nullptr) {
        *initializers.mutable_graph()->add_node() = *parsed_[i];
      }
    }
  }
  HP_RETURN_IF_ERROR(CheckExternalDataLocations(initializers, path));
  HP_RETURN_IF_ERROR(CheckExternalDataLocations(*skeleton_, path));
  AddExternalDataFiles(initializers, &external_data_files_);
  AddExternalDataFiles(*skeleton_, &external_data_files_);
  return absl::OkStatus();
}

int64_t ModelSplice::RecordOf(size_t i) const {
  return record_of_.empty() ? static_cast<int64_t>(i) : record_of_[i];
}

absl::StatusOr<onnx::NodeProto*> ModelSplice::MutableNode(size_t i) {
  const int64_t record = RecordOf(i);
  if (record < 0) {
    // A subgraph body's node, inside a message this splice parsed and owns.
    return const_cast<onnx::NodeProto*>(nodes_[i].node);
  }
  onnx::NodeProto*& parsed = parsed_.Slot(static_cast<size_t>(record));
  if (parsed == nullptr) {
    parsed = ParseNodeRecord(mapping_->data(),
                             node_records_[static_cast<size_t>(record)],
                             arena_.get());
  }
  if (parsed == nullptr) {
    HP_RETURN_IF_ERROR(CheckNotTruncated());
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": node record ", record, " ('", nodes_[i].name,
                     "') does not parse as a NodeProto"));
  }
  return parsed;
}

std::optional<absl::string_view> ModelSplice::NodeRecord(size_t i) const {
  if (!reads_records_ || RecordOf(i) < 0) return std::nullopt;
  const size_t record = static_cast<size_t>(RecordOf(i));
  if (parsed_[record] != nullptr) return std::nullopt;
  const ByteRange& range = node_records_[record];
  return absl::string_view(
      reinterpret_cast<const char*>(mapping_->data() + range.begin),
      range.end - range.begin);
}

void ModelSplice::TruncateNodeRecord(size_t i, uint64_t keep,
                                     size_t metadata_entries) {
  ByteRange& range = node_records_[static_cast<size_t>(RecordOf(i))];
  range.end = std::min(range.end, range.begin + keep);
  nodes_.KeepMetadata(i, metadata_entries);
}

absl::Status ModelSplice::ParseAllNodes() {
  if (!reads_records_) return absl::OkStatus();
  std::atomic<bool> parsed{true};
  ForSlices(parsed_.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end && parsed; ++i) {
      onnx::NodeProto*& message = parsed_.Slot(i);
      if (message != nullptr) continue;
      message =
          ParseNodeRecord(mapping_->data(), node_records_[i], arena_.get());
      if (message == nullptr) parsed = false;
    }
  });
  if (!parsed) {
    HP_RETURN_IF_ERROR(CheckNotTruncated());
    return ParseError(path_);
  }
  if (!parsed_.empty()) {
    auto* graph_nodes = skeleton_->mutable_graph()->mutable_node();
    graph_nodes->Reserve(static_cast<int>(parsed_.size()));
    for (size_t i = 0; i < parsed_.size(); ++i) {
      graph_nodes->UnsafeArenaAddAllocated(parsed_[i]);
    }
  }
  // The nodes are now saved from their messages, which the caller is about
  // to edit: their records as read no longer stand for them.
  reads_records_ = false;
  node_records_.clear();
  nodes_ = NodeList();
  parsed_ = ParsedNodes();
  record_of_.clear();
  mapping_.reset();
  return absl::OkStatus();
}

onnx::ModelProto ModelSplice::SkeletonWithHeaders() const {
  onnx::ModelProto model = *skeleton_;
  if (headers_.initializer_size() + headers_.sparse_initializer_size() > 0) {
    onnx::GraphProto* graph = model.mutable_graph();
    *graph->mutable_initializer() = headers_.initializer();
    *graph->mutable_sparse_initializer() = headers_.sparse_initializer();
  }
  return model;
}

absl::StatusOr<std::string> ModelSplice::StructureSha256Hex() const {
  std::vector<ByteRange> cut;
  cut.reserve(initializers_.size() + sparse_initializers_.size());
  std::merge(
      initializers_.begin(), initializers_.end(), sparse_initializers_.begin(),
      sparse_initializers_.end(), std::back_inserter(cut),
      [](const ByteRange& a, const ByteRange& b) { return a.begin < b.begin; });
  HP_ASSIGN_OR_RETURN(std::string digest,
                      Sha256FileHexWithout(fd_.get(), file_bytes_, cut, path_));
  HP_RETURN_IF_ERROR(CheckFileNotShrunk(fd_.get(), file_bytes_, path_));
  return digest;
}

int64_t ModelSplice::initializer_count() const {
  return static_cast<int64_t>(initializers_.size() +
                              sparse_initializers_.size());
}

uint64_t ModelSplice::initializer_bytes() const {
  uint64_t total = 0;
  for (const ByteRange& range : initializers_) total += range.end - range.begin;
  for (const ByteRange& range : sparse_initializers_)
    total += range.end - range.begin;
  return total;
}

absl::Status ModelSplice::WriteTo(AtomicFileWriter* writer,
                                  const NodeRecordSuffixes& suffixes,
                                  const SpliceSelection& selection) {
  GraphDetacher detached(skeleton_);
  HP_ASSIGN_OR_RETURN(const std::string top,
                      SerializeModel(*skeleton_, writer->path()));
  const onnx::GraphProto* graph = detached.graph_without_nodes();
  if (graph == nullptr) return writer->Append(top);
  HP_ASSIGN_OR_RETURN(const std::string rest,
                      SerializeGraphRest(*graph, writer->path()));

  const google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes =
      detached.nodes();
  // Read as records, node i is saved from parsed_[i] where that was
  // parsed, else copied; otherwise from the skeleton's node i.
  // With a selection, the i-th node saved is node (*selection.nodes)[i].
  const size_t all =
      reads_records_ ? node_records_.size() : static_cast<size_t>(nodes.size());
  const std::vector<size_t>* chosen = selection.nodes;
  if (chosen != nullptr && !chosen->empty() && chosen->back() >= all) {
    return absl::InvalidArgumentError(absl::StrCat(
        writer->path(), ": node ", chosen->back(), " selected of ", all));
  }
  const size_t count = chosen != nullptr ? chosen->size() : all;
  auto position = [&](size_t i) -> size_t {
    return chosen != nullptr ? (*chosen)[i] : i;
  };
  auto message = [&](size_t i) -> const onnx::NodeProto* {
    if (reads_records_) return parsed_[position(i)];
    return &nodes.Get(static_cast<int>(position(i)));
  };
  // The initializer records saved.
  std::vector<ByteRange> dense = initializers_;
  std::vector<ByteRange> sparse = sparse_initializers_;
  auto select = [](const std::vector<ByteRange>& from,
                   const std::vector<size_t>* which,
                   std::vector<ByteRange>* kept) {
    if (which == nullptr) return true;
    kept->clear();
    for (size_t k : *which) {
      if (k >= from.size()) return false;
      kept->push_back(from[k]);
    }
    return true;
  };
  if (!select(initializers_, selection.initializers, &dense) ||
      !select(sparse_initializers_, selection.sparse_initializers, &sparse)) {
    return absl::InvalidArgumentError(absl::StrCat(
        writer->path(), ": an initializer selected is not in ", path_));
  }
  uint64_t kept_initializer_bytes = 0;
  for (const ByteRange& range : dense) {
    kept_initializer_bytes += range.end - range.begin;
  }
  for (const ByteRange& range : sparse) {
    kept_initializer_bytes += range.end - range.begin;
  }
  // Nodes with suffixes are copied from the input, which is mapped for
  // that, and their suffixes encoded after them.
  const std::vector<uint32_t>* sizes = suffixes.sizes;
  const bool copy_nodes = sizes != nullptr && !sizes->empty();
  if (copy_nodes &&
      (chosen != nullptr || sizes->size() != count ||
       sizes->size() != node_records_.size() || !suffixes.encode)) {
    // Dropping them would drop tags: refuse instead.
    return absl::FailedPreconditionError(absl::StrCat(
        writer->path(), ": ", sizes->size(),
        " node record suffixes do not match the skeleton's ", count, " nodes (",
        node_records_.size(), " read one by one)"));
  }
  // Records are copied from the mapping kept while they are read as
  // records, else from one made for the copy.
  std::optional<FileMapping> own_mapping;
  const FileMapping* input_mapping = mapping_.get();
  if (input_mapping == nullptr && copy_nodes) {
    own_mapping.emplace(fd_.get(), file_bytes_);
    input_mapping = &*own_mapping;
    if (input_mapping->data() == nullptr) {
      return ErrnoError("cannot map", path_);
    }
  }
  const uint8_t* input =
      input_mapping != nullptr ? input_mapping->data() : nullptr;
  auto suffix_size = [&](size_t i) -> uint64_t {
    return copy_nodes ? (*sizes)[i] : 0;
  };

  // Node i's tag byte, length and record or message. Sized twice, for the
  // graph's length and then batch by batch, rather than kept per node (a
  // million nodes' 4 MB, at the save's peak). Sizing a message caches its
  // size for the serialization below (`cached` then reads it).
  auto record_bytes = [&](size_t i, bool cached) -> uint64_t {
    const uint64_t suffix = suffix_size(i);
    const onnx::NodeProto* node = suffix > 0 ? nullptr : message(i);
    const uint64_t size =
        node == nullptr ? node_records_[position(i)].end -
                              node_records_[position(i)].begin + suffix
        : cached ? static_cast<uint64_t>(node->GetCachedSize())
                 : node->ByteSizeLong();
    return 1 + CodedOutputStream::VarintSize64(size) + size;
  };
  // The graph's length: node records, the other fields, the copied records.
  std::atomic<uint64_t> node_bytes{0};
  ForSlices(count, kNodesPerSlice, [&](size_t begin, size_t end) {
    uint64_t slice_bytes = 0;
    for (size_t i = begin; i < end; ++i) slice_bytes += record_bytes(i, false);
    node_bytes += slice_bytes;
  });
  const uint64_t graph_bytes =
      rest.size() + kept_initializer_bytes + node_bytes.load();

  const google::protobuf::Descriptor* model_type =
      onnx::ModelProto::descriptor();
  const google::protobuf::Descriptor* graph_type =
      onnx::GraphProto::descriptor();
  const absl::string_view top_view(top);
  const absl::string_view rest_view(rest);
  const size_t graph_at = InsertionPoint(top_view, kModelGraph, model_type);
  const size_t initializers_at =
      InsertionPoint(rest_view, kGraphInitializer, graph_type);
  const size_t sparse_at =
      InsertionPoint(rest_view, kGraphSparseInitializer, graph_type);

  const std::string graph_header = LengthHeader(kModelGraph, graph_bytes);
  HP_RETURN_IF_ERROR(
      writer->Reserve(top.size() + graph_header.size() + graph_bytes));
  HP_RETURN_IF_ERROR(writer->Append(top_view.substr(0, graph_at)));
  HP_RETURN_IF_ERROR(writer->Append(graph_header));
  // Node records a batch at a time, each serialized at its offset in the
  // batch's buffer (a big batch on all cores). A batch is written on a
  // second thread while the next is filled: the kernel's copy into the page
  // cache would otherwise leave the other cores idle.
  constexpr size_t kBatchBytes = size_t{4} << 20;
  // A batch holds ~14,000 tagged records of nodes_1m, fewer than the two
  // slices of kNodesPerSlice that would split it, so its fill ran on one
  // core while the other idled: copying and encoding 1,000 of them takes
  // ~0.2 ms, a thread ~0.05 ms.
  constexpr size_t kRecordsPerFillSlice = 1000;
  // Two buffers, each allocated once and never zero-filled (a string grown
  // batch by batch would double past the batch size and be cleared). A
  // record bigger than a batch is a batch alone, in a buffer made for it
  // and freed once it is written.
  std::unique_ptr<char[]> buffers[2];
  size_t next_buffer = 0;
  std::unique_ptr<char[]> lone;
  // Declared after the buffers it writes from: destroyed (so waited for)
  // first, also on an early return.
  std::future<absl::Status> writing;
  auto finish_writing = [&writing]() -> absl::Status {
    return writing.valid() ? writing.get() : absl::OkStatus();
  };
  // The records of a batch are read into `staging` with one pread rather
  // than copied through the mapping: the passes before gave its pages back,
  // and on a virtual machine a page mapped again costs several times what
  // copying it does (docs/benchmarks.md, "Machine"). A batch whose records
  // span more (other fields between them), or a short read (the file cut
  // under us: the mapping's guard then reports it), copies from the
  // mapping as before.
  RangeCopy staging;
  std::vector<size_t> offsets;
  for (size_t first = 0; first < count;) {
    size_t last = first;
    size_t bytes = 0;
    offsets.clear();
    while (last < count) {
      const uint64_t next = record_bytes(last, true);
      if (last > first && bytes + next > kBatchBytes) break;
      offsets.push_back(bytes);
      bytes += next;
      ++last;
    }
    char* batch;
    if (bytes > kBatchBytes) {
      HP_RETURN_IF_ERROR(finish_writing());
      lone.reset(new char[bytes]);
      batch = lone.get();
    } else {
      // The batch being written, if any, is in the other buffer.
      std::unique_ptr<char[]>& buffer = buffers[next_buffer];
      next_buffer ^= 1;
      if (buffer == nullptr) buffer.reset(new char[kBatchBytes]);
      batch = buffer.get();
    }
    const uint8_t* source = input;  // byte `source_at` of the file
    uint64_t source_at = 0;
    if (input != nullptr && chosen == nullptr && !node_records_.empty()) {
      const uint64_t begin = node_records_[first].begin;
      const uint64_t span = node_records_[last - 1].end - begin;
      if (span <= kBatchBytes) {
        if (const uint8_t* copied = staging.Read(fd_.get(), begin, span)) {
          source = copied;
          source_at = begin;
        }
      }
    }
    ForSlices(
        last - first, kRecordsPerFillSlice, [&](size_t begin, size_t end) {
          for (size_t i = begin; i < end; ++i) {
            const size_t index = first + i;
            uint8_t* target = reinterpret_cast<uint8_t*>(&batch[offsets[i]]);
            *target++ = TagByte(kGraphNode);
            const uint64_t suffix = suffix_size(index);
            const onnx::NodeProto* node = suffix > 0 ? nullptr : message(index);
            if (node == nullptr) {
              const ByteRange& read = node_records_[position(index)];
              target = CodedOutputStream::WriteVarint64ToArray(
                  read.end - read.begin + suffix, target);
              target = std::copy(source + (read.begin - source_at),
                                 source + (read.end - source_at), target);
              if (suffix > 0)
                suffixes.encode(index, reinterpret_cast<char*>(target));
              continue;
            }
            target = CodedOutputStream::WriteVarint64ToArray(
                static_cast<uint64_t>(node->GetCachedSize()), target);
            node->SerializeWithCachedSizesToArray(target);
          }
        });
    // The batch's records were copied in file order: their pages are done.
    if (input != nullptr && chosen == nullptr && !node_records_.empty()) {
      input_mapping->Release(node_records_[first].begin,
                             node_records_[last - 1].end);
    }
    const absl::string_view filled(batch, bytes);
    if (batch == lone.get()) {
      // Nothing is being written (waited for before the fill).
      HP_RETURN_IF_ERROR(writer->Append(filled));
      lone.reset();
    } else {
      HP_RETURN_IF_ERROR(finish_writing());
      writing = std::async(std::launch::async,
                           [writer, filled] { return writer->Append(filled); });
    }
    first = last;
  }
  HP_RETURN_IF_ERROR(finish_writing());
  HP_RETURN_IF_ERROR(writer->Append(rest_view.substr(0, initializers_at)));
  for (const ByteRange& range : dense) {
    HP_RETURN_IF_ERROR(writer->AppendFileRange(fd_.get(), range.begin,
                                               range.end - range.begin, path_));
  }
  HP_RETURN_IF_ERROR(writer->Append(
      rest_view.substr(initializers_at, sparse_at - initializers_at)));
  for (const ByteRange& range : sparse) {
    HP_RETURN_IF_ERROR(writer->AppendFileRange(fd_.get(), range.begin,
                                               range.end - range.begin, path_));
  }
  HP_RETURN_IF_ERROR(writer->Append(rest_view.substr(sparse_at)));
  HP_RETURN_IF_ERROR(writer->Append(top_view.substr(graph_at)));
  // Node records were copied from the mapping: zeros, if the file was cut
  // short meanwhile.
  HP_RETURN_IF_ERROR(CheckNotTruncated());
  if (own_mapping.has_value()) {
    HP_RETURN_IF_ERROR(
        CheckFileNotShrunk(fd_.get(), file_bytes_, path_, &*own_mapping));
  }
  return absl::OkStatus();
}

absl::StatusOr<AtomicFileWriter> ModelSplice::SaveUncommitted(
    const std::string& output, const SaveOptions& options,
    const NodeRecordSuffixes& suffixes) {
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                      CreateSaveWriter(output, options));
  HP_RETURN_IF_ERROR(WriteTo(&writer, suffixes));
  return writer;
}

absl::StatusOr<AtomicFileWriter> ModelSplice::SaveSelectionUncommitted(
    const std::string& output, const SaveOptions& options,
    const SpliceSelection& selection) {
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                      CreateSaveWriter(output, options));
  // The records copied are a part of the file: no read-ahead past them
  // (the kernel's would read megabytes of weights left out), but each of
  // them asked for whole, so that it is read in large requests.
  ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_RANDOM);
  auto ask_for = [&](const std::vector<ByteRange>& records,
                     const std::vector<size_t>* which) {
    const size_t count = which != nullptr ? which->size() : records.size();
    for (size_t i = 0; i < count; ++i) {
      const size_t k = which != nullptr ? (*which)[i] : i;
      if (k >= records.size()) continue;
      ::posix_fadvise(fd_.get(), static_cast<off_t>(records[k].begin),
                      static_cast<off_t>(records[k].end - records[k].begin),
                      POSIX_FADV_WILLNEED);
    }
  };
  ask_for(initializers_, selection.initializers);
  ask_for(sparse_initializers_, selection.sparse_initializers);
  const absl::Status written = WriteTo(&writer, {}, selection);
  ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_NORMAL);
  HP_RETURN_IF_ERROR(written);
  return writer;
}

absl::Status ModelSplice::Save(const std::string& output,
                               const SaveOptions& options,
                               const NodeRecordSuffixes& suffixes) {
  HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                      SaveUncommitted(output, options, suffixes));
  return writer.Commit(options.durability);
}

}  // namespace hp
