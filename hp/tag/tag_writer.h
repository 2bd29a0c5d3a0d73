// Writing tags onto nodes, and taking exactly those writes back. Tags go
// into NodeProto.metadata_props by default; two compatibility formats serve
// consumers of the seed's system.
#ifndef HP_TAG_TAG_WRITER_H_
#define HP_TAG_TAG_WRITER_H_

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hp/io/node_list.h"
#include "hp/tag/tag_types.h"
#include "hp/tag/tagged_model.h"
#include "proto/onnx.pb.h"

namespace hp {

// Node metadata keys. ONNX asks for prefixed keys for anything non-standard;
// `namespace` is the key Model Explorer nests nodes by.
inline constexpr char kTagKey[] = "pkg.hp.tag";
inline constexpr char kModulePathKey[] = "pkg.hp.module_path";
// How the tag was found (MatchKindName: direct, parent, root, propagated
// from `tag`; kept, replacing, inserted, unplaced from `transfer`), so that
// a tagged model alone tells what was counted.
inline constexpr char kMatchKey[] = "pkg.hp.match";
inline constexpr char kOriginalNamespaceKey[] = "pkg.hp.original_namespace";
inline constexpr char kNamespaceKey[] = "namespace";
inline constexpr char kTagAttributeName[] = "hierarchy_tag";
inline constexpr char kMatchAttributeName[] = "hierarchy_match";
// Model metadata keys.
inline constexpr char kKeyPrefix[] = "pkg.hp.";
inline constexpr char kFormatKey[] = "pkg.hp.tag_format";
// SHA-256 of the model file as exported, before hp tagged it: what a scope
// trace without a structure digest is compared with, also when re-tagging a
// tagged file. Recorded only when that digest was the one checked.
inline constexpr char kModelSha256Key[] = "pkg.hp.model_sha256";
// The same for the structure digest (hp/io/structure_digest.h), which is
// what traces that carry one are compared with.
inline constexpr char kModelStructureSha256Key[] =
    "pkg.hp.model_structure_sha256";
// Where the hierarchy came from: "trace", "dynamo-metadata", "node-names".
inline constexpr char kSourceKey[] = "pkg.hp.source";
// The tagging options that decide tags, as JSON.
inline constexpr char kOptionsKey[] = "pkg.hp.options";
// Written by TagModel: the hp version, the trace's SHA-256 (source "trace"
// only) and the match statistics as JSON (hp/tag/tag_codec.h).
inline constexpr char kVersionKey[] = "pkg.hp.version";
inline constexpr char kTraceSha256Key[] = "pkg.hp.trace_sha256";
inline constexpr char kStatisticsKey[] = "pkg.hp.statistics";
// doc_string format: the keys of the JSON object hp writes into
// NodeProto.doc_string. kDocMarkerKey marks the object as hp's.
inline constexpr char kDocMarkerKey[] = "hp";
inline constexpr char kDocTagKey[] = "hierarchy_tag";
inline constexpr char kDocModulePathKey[] = "module_path";
inline constexpr char kDocMatchKey[] = "match";
inline constexpr char kDocOriginalKey[] = "original_doc_string";
inline constexpr char kDocOriginalBase64Key[] = "original_doc_string_base64";

struct WriteOptions {
  TagFormat format = TagFormat::kMetadata;
  // Metadata format only: also write `namespace`.
  bool write_namespace = true;
  // Replace a `namespace` the node already has (kept for strip).
  bool overwrite_namespace = false;
};

// What hp writes on one node.
struct NodeTagFacts {
  absl::string_view tag;
  absl::string_view module_path;
  MatchKind match = MatchKind::kRoot;
};

// Writes one node's tag. Fails, naming the node, when the node already holds
// something of the same name that hp did not write.
absl::Status WriteNodeTag(onnx::NodeProto* node, const NodeTagFacts& facts,
                          const WriteOptions& options);

// Whether WriteNodeTag(node, ...) would only add metadata_props entries
// after the node's own: the metadata format, no pkg.hp.tag yet, no
// `namespace` to overwrite, and no unknown fields. protobuf writes
// metadata_props (field 9) last, so such a node serializes as its bytes
// before the write followed by the bytes of the added entries.
bool WriteOnlyAppends(const NodeRef& node, const WriteOptions& options);

// Whether WriteNodeTag adds a `namespace` entry to such a node: the option
// is on and the node has none of its own. The one fact of the node its
// added bytes depend on, so that they can be sized and encoded without it.
bool AppendsNamespace(const NodeRef& node, const WriteOptions& options);
// The size of the entries' bytes (NodeProto field 9 records) that
// WriteNodeTag adds to a node for which WriteOnlyAppends holds, given
// AppendsNamespace of it.
size_t NodeTagRecordsSize(const NodeTagFacts& facts, bool with_namespace);
// Writes those bytes at `target`, which must have NodeTagRecordsSize()
// bytes; returns the end of what it wrote.
char* EncodeNodeTagRecords(const NodeTagFacts& facts, bool with_namespace,
                           char* target);

// The stripping rule of the metadata format, for StripTags and the record
// form (hp/tag/record_strip.h): whether entry `index` with `key` goes,
// given where the node's first pkg.hp.tag is and whether hp overwrote the
// node's own namespace (that entry then stays, its old value back).
bool StripsEntry(absl::string_view key, int index, int tag_at,
                 bool overwritten);
// Takes hp's metadata entries off one node.
void StripNodeMetadata(onnx::NodeProto* node);
// Takes hp's entries (pkg.hp.*) off the model's own metadata.
void StripModelEntries(onnx::ModelProto* model);

// One node's tag as hp wrote it, read back in `format`: views into the
// node's record or message, or into the text ReadNodeTag kept of a
// doc_string's JSON. An absent member is not there (or, in the doc_string
// and attribute formats, not a string).
struct WrittenTag {
  std::optional<absl::string_view> tag;
  std::optional<absl::string_view>
      module_path;  // the attribute format has none
  // The match kind's name as written (MatchKindName, if hp wrote it).
  std::optional<absl::string_view> match;
  // doc_string format: the doc_string is hp's JSON object (kDocMarkerKey).
  bool doc_string_json = false;
};

// Reads what WriteNodeTag wrote: the first pkg.hp.tag / pkg.hp.module_path /
// pkg.hp.match entry, the first hierarchy_tag and hierarchy_match
// attributes, or the doc_string JSON's members, whose text is kept in
// `kept` (elements never move: the views stay valid while it lives, moved
// or not). A node read as a record is enough for the metadata format; the
// other formats read its message (node.node).
WrittenTag ReadNodeTag(const NodeRef& node, TagFormat format,
                       std::deque<std::string>* kept);
WrittenTag ReadNodeTag(const onnx::NodeProto& node, TagFormat format,
                       std::deque<std::string>* kept);

// Appends model-level entries (keys should start with pkg.hp.).
void WriteModelMetadata(
    onnx::ModelProto* model,
    const std::vector<std::pair<std::string, std::string>>& entries);

// The value of a model-level metadata entry, if the model has it.
std::optional<std::string> ModelMetadataValue(const onnx::ModelProto& model,
                                              absl::string_view key);

// The model's pkg.hp.tag_format; kMetadata when it has none or an unknown
// one (a reader that must refuse those parses the value itself).
TagFormat RecordedTagFormat(const onnx::ModelProto& model);

// The untagged model's SHA-256 an earlier hp run recorded, if any.
std::optional<std::string> RecordedModelSha256(const onnx::ModelProto& model);
// The same for its structure digest.
std::optional<std::string> RecordedModelStructureSha256(
    const onnx::ModelProto& model);

}  // namespace hp

#endif  // HP_TAG_TAG_WRITER_H_
