// Reading a tagged model back: a model hp tagged in; the tag and module path
// hp wrote on each node out (in the model's pkg.hp.tag_format), with every
// entry that is not as tag/tag_writer writes it noted. The views read tags
// from here; validate reports the notes.
#ifndef HP_VIEW_STORED_TAGS_H_
#define HP_VIEW_STORED_TAGS_H_

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_types.h"
#include "hp/tag/tag_writer.h"
#include "proto/onnx.pb.h"

namespace hp {

// A node's tag and module path as hp wrote them: ids into
// StoredTags::texts, kNone when the node carries none. Each distinct text
// is copied out of the model once: the passes after reading (the module
// tree, the search for a module path) read a few thousand strings in
// memory rather than the pages of a file the reader has given back, and a
// million nodes keep 8 bytes each.
struct StoredTag {
  static constexpr int32_t kNone = -1;
  int32_t tag = kNone;
  int32_t module_path = kNone;  // the attribute format has none
};

struct StoredTags {
  TagFormat format = TagFormat::kMetadata;
  // Per node, in CollectNodes order (the order of TagResult::nodes).
  std::vector<StoredTag> nodes;
  // The distinct tags and module paths, by id (a deque, so that views of
  // them stay valid while it grows).
  std::deque<std::string> texts;
  // Per node, its match kind as stored; nullopt when absent or not a kind
  // (then a problem says so, unless no node has one: matches_recorded).
  std::vector<std::optional<MatchKind>> matches;
  // Whether hp recorded match kinds on the nodes (models tagged before hp
  // stored them have none).
  bool matches_recorded = false;
  // Model metadata values; empty when absent.
  std::string hp_version;
  std::string source;        // pkg.hp.source: "trace", "dynamo-metadata", ...
  std::string trace_sha256;  // pkg.hp.trace_sha256
  // pkg.hp.statistics' count of each match kind of the source (indexed by
  // MatchKind; the other kinds 0), when all of them are integers.
  std::optional<std::array<int64_t, kMatchKindCount>> recorded_matches;
  // Entries that are not as hp writes them ("node '/a/Add' (Add) in main:
  // pkg.hp.module_path appears twice"), in node order, model entries first.
  std::vector<std::string> problems;

  // A text by id; nullopt for kNone.
  std::optional<absl::string_view> Text(int32_t id) const {
    if (id == StoredTag::kNone) return std::nullopt;
    return absl::string_view(texts[static_cast<size_t>(id)]);
  }
  std::optional<absl::string_view> Tag(size_t node) const {
    return Text(nodes[node].tag);
  }
  std::optional<absl::string_view> ModulePath(size_t node) const {
    return Text(nodes[node].module_path);
  }
  // Appends a node carrying these texts, each given a new id: for a caller
  // that states stored tags itself rather than reading them.
  void AddNode(std::optional<absl::string_view> tag,
               std::optional<absl::string_view> module_path);
};

// "node '/encoder/Add_3' (Add) in main": how every message names a node.
std::string DescribeNode(const NodeRef& node);
std::string DescribeNode(const NodeTag& node);
std::string DescribeNode(absl::string_view name, absl::string_view op_type,
                         absl::string_view graph);

// Reads the tags of a model hp tagged: its model-level entries from
// `model`, the node entries from `nodes` (all of the model's nodes; in the
// attribute and doc_string formats with their messages). `source` (the
// file name) starts the errors: FailedPrecondition when hp never tagged
// the model, InvalidArgument when its pkg.hp.tag_format is unknown.
// Malformed entries are not errors but `problems`, so that the views still
// show what is there.
absl::StatusOr<StoredTags> ReadStoredTags(const onnx::ModelProto& model,
                                          const NodeList& nodes,
                                          absl::string_view source);
// The same for a model whose nodes are all in its graph.
absl::StatusOr<StoredTags> ReadStoredTags(const onnx::ModelProto& model,
                                          absl::string_view source);

}  // namespace hp

#endif  // HP_VIEW_STORED_TAGS_H_
