// Re-writing a model's node metadata without handling its weights: the file
// is mapped and scanned at the protobuf wire level, everything but the main
// graph's initializer records is parsed into a skeleton ModelProto, and
// saving streams the skeleton back out with the initializer records copied
// byte for byte from the input (in the kernel, without entering memory).
//
//   HP_ASSIGN_OR_RETURN(hp::ModelSplice splice, hp::ModelSplice::Open(path));
//   HP_RETURN_IF_ERROR(hp::TagModel(&splice.skeleton(), trace,
//   options).status()); HP_RETURN_IF_ERROR(splice.Save(output));
//
// For a canonically serialized input (as protobuf writes it) the output
// equals SerializeModel() of the fully loaded, equally edited model, byte for
// byte. The 2 GB protobuf limit applies to the skeleton only, so models with
// inline weights past 2 GB can be tagged.
#ifndef HP_IO_MODEL_SPLICE_H_
#define HP_IO_MODEL_SPLICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/arena.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "hp/io/model_io.h"
#include "hp/io/node_list.h"
#include "hp/io/wire_format.h"
#include "proto/onnx.pb.h"

namespace hp {

struct SpliceOptions {
  // The largest skeleton accepted; protobuf cannot parse more. Tests lower it.
  uint64_t max_skeleton_bytes = kMaxProtobufBytes;
  // Read the main graph's nodes as records (nodes()), parsing into messages
  // only the nodes that own subgraphs and those asked for (MutableNode):
  // the skeleton then holds no main-graph nodes. Otherwise every node is
  // parsed into the skeleton.
  bool read_node_records = false;
  // With read_node_records: while the nodes view the file, its pages are
  // all given back every 5 ms (FileMapping::ReleaseEvery), for a command
  // whose passes read back views they keep (the views' names and tags):
  // without it they fault the whole file in. Passes that read out of
  // order would fault each page again and again, so it is not the default.
  bool release_pages_periodically = false;
  // With read_node_records: nodes() keeps each node's name scope
  // (NameScope), read with its record, for a caller that resolves scopes
  // (tag): a walk then reads no record again to find them.
  bool keep_name_scopes = false;
  // Without read_node_records (the nodes parsed into the skeleton): once
  // this many bytes of a run of main-graph node records are found, the
  // later half of what the graph holds after them (when at least as much
  // again) is found on a second thread meanwhile (RecordRunAhead). Tests
  // lower it; kNoNodeRunAhead turns it off. Read as records, the nodes are
  // found and read in one pass instead (NodeRecordReader), which uses the
  // other cores as it goes.
  uint64_t node_run_ahead_after = uint64_t{8} << 20;
};

// SpliceOptions::node_run_ahead_after for a caller whose own thread keeps
// the second core busy while the model opens: a second finder of the node
// records would only take turns with that thread, so they are found on one.
inline constexpr uint64_t kNoNodeRunAhead = UINT64_MAX;

// Bytes to append to main-graph node records as read from the input, so
// that those nodes are copied rather than serialized again (TagModel's
// AppendedNodeTags). Per node in graph order, `sizes` holds how many; a
// node with none is saved from its message (or, read as a record and never
// parsed, copied as read). `encode(i, target)` writes node i's bytes while
// the batch holding it is written, so that they are never all in memory at
// once; it is called for different nodes at once. Nodes with bytes must be
// unchanged in the skeleton since Open, and the skeleton's nodes neither
// added, removed nor reordered.
struct NodeRecordSuffixes {
  const std::vector<uint32_t>* sizes = nullptr;
  std::function<void(size_t node, char* target)> encode;
};

// What of the input a save keeps, for a model cut out of it (extract): the
// main graph's nodes by position (in graph order; nodes() lists them with
// owner < 0, or the skeleton holds them), and initializer and sparse
// initializer records by position in the file (the order of
// SkeletonWithHeaders()). An unset member keeps everything.
struct SpliceSelection {
  const std::vector<size_t>* nodes = nullptr;
  const std::vector<size_t>* initializers = nullptr;
  const std::vector<size_t>* sparse_initializers = nullptr;
};

class ModelSplice {
 public:
  // Maps and scans `path`, parses the skeleton and checks external-data
  // locations as LoadModel does (initializers included). Errors are
  // LoadModel's for the same file.
  static absl::StatusOr<ModelSplice> Open(const std::string& path,
                                          const SpliceOptions& options = {});

  ModelSplice(ModelSplice&&) = default;
  ModelSplice& operator=(ModelSplice&&) = default;

  // The model without the main graph's initializer and sparse_initializer
  // entries; edit it freely (nodes, metadata, ...), but adding initializers
  // to the main graph is not supported: Save() takes them from the input.
  onnx::ModelProto& skeleton() { return *skeleton_; }
  const onnx::ModelProto& skeleton() const { return *skeleton_; }

  // With read_node_records: whether the main graph's nodes are read as
  // records (false once ParseAllNodes ran, or when the records could not
  // be read one by one).
  bool reads_node_records() const { return reads_records_; }
  // Those nodes, subgraph bodies included, in graph order; views into the
  // mapped file and into the messages of nodes that own subgraphs.
  const NodeList& nodes() const { return nodes_; }
  // NodeList::ForgetMetadata on those nodes, once their tags are read: a
  // save copies the records as they are; TruncateNodeRecord, which cuts
  // entries off, needs them and must not follow.
  void ForgetNodeMetadata() { nodes_.ForgetMetadata(); }
  // NodeList::ForgetNameScopes on those nodes, once their scopes are
  // found (keep_name_scopes).
  void ForgetNameScopes() { nodes_.ForgetNameScopes(); }
  // The message of nodes()[i], to edit; a main-graph node is parsed from
  // its record the first time, and then saved from the message. Safe to
  // call for different nodes at once.
  absl::StatusOr<onnx::NodeProto*> MutableNode(size_t i);
  // The payload of nodes()[i]'s record as it will be saved, for a
  // main-graph node not parsed into a message; nullopt otherwise.
  std::optional<absl::string_view> NodeRecord(size_t i) const;
  // Saves only the first `keep` bytes of that record (entries at its end
  // are dropped), and keeps the node's first `metadata_entries` views.
  void TruncateNodeRecord(size_t i, uint64_t keep, size_t metadata_entries);
  // Parses every main-graph node into the skeleton, as Open does without
  // read_node_records; nodes() is then empty.
  absl::Status ParseAllNodes();

  // A copy of the skeleton with the initializers put back without their
  // data (names, types, dims, external-data entries): a summary of the
  // model as saved.
  onnx::ModelProto SkeletonWithHeaders() const;

  const std::string& path() const { return path_; }
  // Whether Save() can copy node records as read (NodeRecordSuffixes):
  // the nodes were parsed from them one by one.
  bool can_copy_nodes() const { return !node_records_.empty(); }
  uint64_t file_bytes() const { return file_bytes_; }
  // The main graph's nodes, read as records or parsed into the skeleton.
  int64_t main_graph_node_count() const {
    return reads_records_ ? static_cast<int64_t>(node_records_.size())
                          : skeleton_->graph().node_size();
  }
  // Initializer records left in the file, and their bytes.
  int64_t initializer_count() const;
  // Of those, the dense ones (GraphProto.initializer), as
  // graph().initializer_size() counts them in a fully loaded model.
  int64_t dense_initializer_count() const {
    return static_cast<int64_t>(initializers_.size());
  }
  uint64_t initializer_bytes() const;
  // The side files the model's tensors are stored in (ExternalDataFiles),
  // main-graph initializers included: what an output in another folder
  // needs beside it (PlaceExternalData).
  const std::vector<std::string>& external_data_files() const {
    return external_data_files_;
  }

  // The input's structure digest (hp/io/structure_digest.h), hashed from
  // the open file around the initializer records Open found: their bytes
  // are never read.
  absl::StatusOr<std::string> StructureSha256Hex() const;

  // Writes the edited skeleton with the input's initializer records to
  // `output` atomically. Saving onto the input needs
  // options.overwrite_input, as for SaveModel.
  absl::Status Save(const std::string& output, const SaveOptions& options = {},
                    const NodeRecordSuffixes& suffixes = {});
  // The same up to the commit: the caller commits the returned writer, or
  // drops it to leave nothing behind. The skeleton is left as it was.
  absl::StatusOr<AtomicFileWriter> SaveUncommitted(
      const std::string& output, const SaveOptions& options = {},
      const NodeRecordSuffixes& suffixes = {});
  // The same, keeping only the selected nodes and initializer records
  // (copied byte for byte, as Save copies them); no suffixes.
  absl::StatusOr<AtomicFileWriter> SaveSelectionUncommitted(
      const std::string& output, const SaveOptions& options,
      const SpliceSelection& selection);

 private:
  ModelSplice() = default;
  // A new arena holding an empty skeleton.
  void NewSkeleton();
  // Open's reading, from the open file.
  absl::Status Read(const SpliceOptions& options);
  // An error naming the file when it is now shorter than when opened.
  absl::Status CheckNotTruncated() const;
  // The main-graph position of nodes()[i]; -1 in a subgraph.
  int64_t RecordOf(size_t i) const;
  absl::Status WriteTo(AtomicFileWriter* writer,
                       const NodeRecordSuffixes& suffixes,
                       const SpliceSelection& selection = {});

  std::string path_;
  FileDescriptor fd_;  // the input, kept open to copy from
  uint64_t file_bytes_ = 0;
  // On an arena: a million nodes are allocated, and freed, in bulk.
  std::unique_ptr<google::protobuf::Arena> arena_;
  onnx::ModelProto* skeleton_ = nullptr;
  // Whole records (tag, length, payload) of GraphProto fields 5 and 15, in
  // file order.
  std::vector<ByteRange> initializers_;
  std::vector<ByteRange> sparse_initializers_;
  // The payloads of the main graph's node records, in file order; empty
  // when the skeleton's nodes were not parsed from them one by one.
  std::vector<ByteRange> node_records_;
  // With read_node_records: the file, mapped while the splice lives;
  // the nodes read from it; per main-graph node its message once parsed
  // (else null); per entry of nodes_ its main-graph position (-1 in a
  // subgraph).
  bool reads_records_ = false;
  std::unique_ptr<FileMapping> mapping_;
  NodeList nodes_;
  ParsedNodes parsed_;
  std::vector<int64_t> record_of_;  // empty: node i is record i
  // The same initializers without their data.
  onnx::GraphProto headers_;
  std::vector<std::string> external_data_files_;
};

}  // namespace hp

#endif  // HP_IO_MODEL_SPLICE_H_
