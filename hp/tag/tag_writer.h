// Writing tags onto nodes, and taking exactly those writes back. Tags go
// into NodeProto.metadata_props by default; two compatibility formats serve
// consumers of the seed's system.
#ifndef HP_TAG_TAG_WRITER_H_
#define HP_TAG_TAG_WRITER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/onnx.pb.h"

namespace hp {

enum class TagFormat {
  kMetadata,   // NodeProto.metadata_props: pkg.hp.tag, pkg.hp.module_path,
               // and `namespace` for Google's Model Explorer
  kAttribute,  // a string attribute `hierarchy_tag`: onnx.checker and
               // onnxruntime reject such models
  kDocString,  // JSON in NodeProto.doc_string
};

absl::string_view TagFormatName(TagFormat format);
absl::StatusOr<TagFormat> ParseTagFormat(absl::string_view name);

// Node metadata keys. ONNX asks for prefixed keys for anything non-standard;
// `namespace` is the key Model Explorer nests nodes by.
inline constexpr char kTagKey[] = "pkg.hp.tag";
inline constexpr char kModulePathKey[] = "pkg.hp.module_path";
inline constexpr char kOriginalNamespaceKey[] = "pkg.hp.original_namespace";
inline constexpr char kNamespaceKey[] = "namespace";
inline constexpr char kTagAttributeName[] = "hierarchy_tag";
// Model metadata keys.
inline constexpr char kKeyPrefix[] = "pkg.hp.";
inline constexpr char kFormatKey[] = "pkg.hp.tag_format";
// SHA-256 of the model file as exported, before hp tagged it: what a scope
// trace's digest is compared with, also when re-tagging a tagged file.
inline constexpr char kModelSha256Key[] = "pkg.hp.model_sha256";
// Where the hierarchy came from: "trace", "dynamo-metadata", "node-names".
inline constexpr char kSourceKey[] = "pkg.hp.source";
// The tagging options that decide tags, as JSON.
inline constexpr char kOptionsKey[] = "pkg.hp.options";

struct WriteOptions {
  TagFormat format = TagFormat::kMetadata;
  // Metadata format only: also write `namespace`.
  bool write_namespace = true;
  // Replace a `namespace` the node already has (kept for strip).
  bool overwrite_namespace = false;
};

// Writes one node's tag. Fails, naming the node, when the node already holds
// something of the same name that hp did not write.
absl::Status WriteNodeTag(onnx::NodeProto* node, absl::string_view tag,
                          absl::string_view module_path,
                          const WriteOptions& options);

// Appends model-level entries (keys should start with pkg.hp.).
void WriteModelMetadata(
    onnx::ModelProto* model,
    const std::vector<std::pair<std::string, std::string>>& entries);

// True when the model carries hp's tags.
bool IsTagged(const onnx::ModelProto& model);

// The value of a model-level metadata entry, if the model has it.
std::optional<std::string> ModelMetadataValue(const onnx::ModelProto& model,
                                              absl::string_view key);

// The untagged model's SHA-256 an earlier hp run recorded, if any.
std::optional<std::string> RecordedModelSha256(const onnx::ModelProto& model);

// Removes everything hp wrote, restoring what it replaced, so that
// StripTags(Tag(m)) == m. A model hp never tagged is left unchanged.
absl::Status StripTags(onnx::ModelProto* model);

}  // namespace hp

#endif  // HP_TAG_TAG_WRITER_H_
