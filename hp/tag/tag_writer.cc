#include "hp/tag/tag_writer.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/coded_stream.h"
#include "hp/model/graph_walk.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using ::google::protobuf::io::CodedOutputStream;
using Entries =
    google::protobuf::RepeatedPtrField<onnx::StringStringEntryProto>;

int FindEntry(const Entries& entries, absl::string_view key, int from = 0) {
  for (int i = from; i < entries.size(); ++i) {
    if (entries[i].key() == key) return i;
  }
  return -1;
}

void AddEntry(Entries* entries, absl::string_view key,
              absl::string_view value) {
  onnx::StringStringEntryProto* entry = entries->Add();
  entry->set_key(std::string(key));
  entry->set_value(std::string(value));
}

void RemoveEntries(
    Entries* entries,
    const std::function<bool(int, const onnx::StringStringEntryProto&)>& drop) {
  int kept = 0;
  for (int i = 0; i < entries->size(); ++i) {
    if (drop(i, entries->Get(i))) continue;
    if (kept != i) entries->SwapElements(kept, i);
    ++kept;
  }
  while (entries->size() > kept) entries->RemoveLast();
}

std::string NodeLabel(const onnx::NodeProto& node) {
  return absl::StrCat("node '", node.name(), "' (", node.op_type(), ")");
}

absl::Status WriteMetadata(onnx::NodeProto* node, const NodeTagFacts& facts,
                           const WriteOptions& options) {
  Entries* entries = node->mutable_metadata_props();
  if (FindEntry(*entries, kTagKey) >= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(NodeLabel(*node), ": already carries ", kTagKey));
  }
  const int existing_namespace = FindEntry(*entries, kNamespaceKey);
  // hp's own entries go last, in a fixed order, starting with pkg.hp.tag:
  // a `namespace` after pkg.hp.tag is hp's, one before it is the node's own.
  AddEntry(entries, kTagKey, facts.tag);
  AddEntry(entries, kModulePathKey, facts.module_path);
  AddEntry(entries, kMatchKey, MatchKindName(facts.match));
  if (!options.write_namespace) return absl::OkStatus();
  const std::string namespace_value(absl::StripPrefix(facts.tag, "/"));
  if (existing_namespace < 0) {
    AddEntry(entries, kNamespaceKey, namespace_value);
  } else if (options.overwrite_namespace) {
    AddEntry(entries, kOriginalNamespaceKey,
             (*entries)[existing_namespace].value());
    (*entries)[existing_namespace].set_value(namespace_value);
  }
  return absl::OkStatus();
}

// The entries WriteMetadata adds to a node that has no pkg.hp.tag, in order
// (`with_namespace`: AppendsNamespace of the node).
template <typename Visit>
void ForEachAddedEntry(const NodeTagFacts& facts, bool with_namespace,
                       Visit visit) {
  visit(kTagKey, facts.tag);
  visit(kModulePathKey, facts.module_path);
  visit(kMatchKey, MatchKindName(facts.match));
  if (with_namespace) visit(kNamespaceKey, absl::StripPrefix(facts.tag, "/"));
}

// Wire format (protobuf encoding spec): NodeProto.metadata_props is field 9,
// StringStringEntryProto key 1 and value 2, all length-delimited. proto2
// writes a set string even when empty (a root node's module path).
constexpr uint8_t kMetadataPropsTag = 9 << 3 | 2;
constexpr uint8_t kEntryKeyTag = 1 << 3 | 2;
constexpr uint8_t kEntryValueTag = 2 << 3 | 2;

size_t VarintSize(uint64_t value) {
  return CodedOutputStream::VarintSize64(value);
}

char* EncodeVarint(uint64_t value, char* target) {
  return reinterpret_cast<char*>(CodedOutputStream::WriteVarint64ToArray(
      value, reinterpret_cast<uint8_t*>(target)));
}

char* EncodeString(uint8_t field_tag, absl::string_view text, char* target) {
  *target++ = static_cast<char>(field_tag);
  target = EncodeVarint(text.size(), target);
  std::copy(text.begin(), text.end(), target);
  return target + text.size();
}

size_t StringFieldSize(absl::string_view text) {
  return 1 + VarintSize(text.size()) + text.size();
}

size_t EntrySize(absl::string_view key, absl::string_view value) {
  return StringFieldSize(key) + StringFieldSize(value);
}

absl::Status WriteAttribute(onnx::NodeProto* node, const NodeTagFacts& facts) {
  for (const onnx::AttributeProto& attribute : node->attribute()) {
    if (attribute.name() == kTagAttributeName ||
        attribute.name() == kMatchAttributeName) {
      return absl::FailedPreconditionError(
          absl::StrCat(NodeLabel(*node), ": already has an attribute '",
                       attribute.name(), "' that hp did not write"));
    }
  }
  auto add = [&](const char* name, absl::string_view value) {
    onnx::AttributeProto* attribute = node->add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto::STRING);
    attribute->set_s(std::string(value));
  };
  add(kTagAttributeName, facts.tag);
  add(kMatchAttributeName, MatchKindName(facts.match));
  return absl::OkStatus();
}

void StripAttribute(onnx::NodeProto* node) {
  auto* attributes = node->mutable_attribute();
  for (int i = attributes->size() - 1; i >= 0; --i) {
    if ((*attributes)[i].name() == kTagAttributeName ||
        (*attributes)[i].name() == kMatchAttributeName) {
      attributes->DeleteSubrange(i, 1);
    }
  }
}

absl::Status WriteDocString(onnx::NodeProto* node, const NodeTagFacts& facts) {
  nlohmann::ordered_json doc;
  doc[kDocMarkerKey] = 1;
  doc[kDocTagKey] = std::string(facts.tag);
  doc[kDocModulePathKey] = std::string(facts.module_path);
  doc[kDocMatchKey] = std::string(MatchKindName(facts.match));
  if (node->has_doc_string()) {
    // JSON text holds UTF-8 only: a doc_string that is not goes in base64,
    // so that strip restores it byte for byte.
    const nlohmann::json original = node->doc_string();
    if (original.dump(-1, ' ', false,
                      nlohmann::json::error_handler_t::replace) ==
        original.dump(-1, ' ', false,
                      nlohmann::json::error_handler_t::ignore)) {
      doc[kDocOriginalKey] = node->doc_string();
    } else {
      doc[kDocOriginalBase64Key] = absl::Base64Escape(node->doc_string());
    }
  }
  node->set_doc_string(
      doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return absl::OkStatus();
}

// The node's doc_string as hp's JSON object; null when it is not one.
nlohmann::json HpDocStringJson(const onnx::NodeProto& node) {
  if (!node.has_doc_string()) return nullptr;
  // Non-throwing parse: a doc_string that is not JSON is not hp's.
  nlohmann::json doc = nlohmann::json::parse(node.doc_string(), nullptr,
                                             /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains(kDocMarkerKey)) return nullptr;
  return doc;
}

std::optional<std::string> StringMember(const nlohmann::json& object,
                                        const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

void StripDocString(onnx::NodeProto* node) {
  const nlohmann::json doc = HpDocStringJson(*node);
  if (doc.is_null()) return;
  std::optional<std::string> original = StringMember(doc, kDocOriginalKey);
  std::optional<std::string> original_base64 =
      StringMember(doc, kDocOriginalBase64Key);
  std::string bytes;
  if (original.has_value()) {
    node->set_doc_string(*original);
  } else if (original_base64.has_value() &&
             absl::Base64Unescape(*original_base64, &bytes)) {
    node->set_doc_string(bytes);
  } else {
    node->clear_doc_string();
  }
}

}  // namespace

bool WriteOnlyAppends(const NodeRef& node, const WriteOptions& options) {
  if (options.format != TagFormat::kMetadata) return false;
  if (node.has_unknown_fields) return false;
  if (node.FindMetadata(kTagKey).has_value()) return false;
  return !(options.write_namespace && options.overwrite_namespace &&
           node.FindMetadata(kNamespaceKey).has_value());
}

bool AppendsNamespace(const NodeRef& node, const WriteOptions& options) {
  return options.write_namespace &&
         !node.FindMetadata(kNamespaceKey).has_value();
}

size_t NodeTagRecordsSize(const NodeTagFacts& facts, bool with_namespace) {
  size_t size = 0;
  ForEachAddedEntry(facts, with_namespace,
                    [&](absl::string_view key, absl::string_view value) {
                      const size_t entry = EntrySize(key, value);
                      size += 1 + VarintSize(entry) + entry;
                    });
  return size;
}

char* EncodeNodeTagRecords(const NodeTagFacts& facts, bool with_namespace,
                           char* target) {
  ForEachAddedEntry(facts, with_namespace,
                    [&](absl::string_view key, absl::string_view value) {
                      *target++ = static_cast<char>(kMetadataPropsTag);
                      target = EncodeVarint(EntrySize(key, value), target);
                      target = EncodeString(kEntryKeyTag, key, target);
                      target = EncodeString(kEntryValueTag, value, target);
                    });
  return target;
}

absl::Status WriteNodeTag(onnx::NodeProto* node, const NodeTagFacts& facts,
                          const WriteOptions& options) {
  switch (options.format) {
    case TagFormat::kMetadata:
      return WriteMetadata(node, facts, options);
    case TagFormat::kAttribute:
      return WriteAttribute(node, facts);
    case TagFormat::kDocString:
      return WriteDocString(node, facts);
  }
  return absl::InternalError("unhandled tag format");
}

WrittenTag ReadNodeTag(const onnx::NodeProto& node, TagFormat format,
                       std::deque<std::string>* kept) {
  WrittenTag written;
  switch (format) {
    case TagFormat::kMetadata: {
      auto first = [&](absl::string_view key) {
        const int at = FindEntry(node.metadata_props(), key);
        return at < 0 ? std::optional<absl::string_view>()
                      : absl::string_view(node.metadata_props(at).value());
      };
      written.tag = first(kTagKey);
      written.module_path = first(kModulePathKey);
      written.match = first(kMatchKey);
      break;
    }
    case TagFormat::kAttribute: {
      // The first attribute of each name counts.
      bool tag_seen = false;
      bool match_seen = false;
      for (const onnx::AttributeProto& attribute : node.attribute()) {
        const bool is_tag = attribute.name() == kTagAttributeName;
        const bool is_match = attribute.name() == kMatchAttributeName;
        if ((!is_tag || tag_seen) && (!is_match || match_seen)) continue;
        (is_tag ? tag_seen : match_seen) = true;
        if (attribute.type() != onnx::AttributeProto::STRING) continue;
        (is_tag ? written.tag : written.match) = attribute.s();
      }
      break;
    }
    case TagFormat::kDocString: {
      const nlohmann::json doc = HpDocStringJson(node);
      if (doc.is_null()) break;
      written.doc_string_json = true;
      auto member = [&](const char* key) -> std::optional<absl::string_view> {
        std::optional<std::string> value = StringMember(doc, key);
        if (!value.has_value()) return std::nullopt;
        return kept->emplace_back(*std::move(value));
      };
      written.tag = member(kDocTagKey);
      written.module_path = member(kDocModulePathKey);
      written.match = member(kDocMatchKey);
      break;
    }
  }
  return written;
}

WrittenTag ReadNodeTag(const NodeRef& node, TagFormat format,
                       std::deque<std::string>* kept) {
  if (format != TagFormat::kMetadata) {
    return ReadNodeTag(*node.node, format, kept);
  }
  WrittenTag written;
  auto first = [&](absl::string_view key) { return node.FindMetadata(key); };
  written.tag = first(kTagKey);
  written.module_path = first(kModulePathKey);
  written.match = first(kMatchKey);
  return written;
}

void WriteModelMetadata(
    onnx::ModelProto* model,
    const std::vector<std::pair<std::string, std::string>>& entries) {
  for (const auto& [key, value] : entries) {
    AddEntry(model->mutable_metadata_props(), key, value);
  }
}

bool IsTagged(const onnx::ModelProto& model) {
  return FindEntry(model.metadata_props(), kFormatKey) >= 0;
}

std::optional<std::string> ModelMetadataValue(const onnx::ModelProto& model,
                                              absl::string_view key) {
  const int at = FindEntry(model.metadata_props(), key);
  if (at < 0) return std::nullopt;
  return model.metadata_props(at).value();
}

TagFormat RecordedTagFormat(const onnx::ModelProto& model) {
  return ParseTagFormat(ModelMetadataValue(model, kFormatKey).value_or(""))
      .value_or(TagFormat::kMetadata);
}

std::optional<std::string> RecordedModelSha256(const onnx::ModelProto& model) {
  return ModelMetadataValue(model, kModelSha256Key);
}

std::optional<std::string> RecordedModelStructureSha256(
    const onnx::ModelProto& model) {
  return ModelMetadataValue(model, kModelStructureSha256Key);
}

// Whether stripping removes a node's metadata entry `index` with `key`,
// given where its first pkg.hp.tag is and whether hp overwrote the node's
// own namespace (then that entry stays, with its old value back).
bool StripsEntry(absl::string_view key, int index, int tag_at,
                 bool overwritten) {
  if (absl::StartsWith(key, kKeyPrefix)) return true;
  return key == kNamespaceKey && index > tag_at && !overwritten;
}

void StripNodeMetadata(onnx::NodeProto* node) {
  Entries* entries = node->mutable_metadata_props();
  const int tag_at = FindEntry(*entries, kTagKey);
  if (tag_at < 0) return;
  const int original = FindEntry(*entries, kOriginalNamespaceKey);
  if (original >= 0) {
    const int replaced = FindEntry(*entries, kNamespaceKey);
    if (replaced >= 0) {
      (*entries)[replaced].set_value((*entries)[original].value());
    }
  }
  RemoveEntries(entries,
                [&](int index, const onnx::StringStringEntryProto& entry) {
                  return StripsEntry(entry.key(), index, tag_at, original >= 0);
                });
}

void StripModelEntries(onnx::ModelProto* model) {
  RemoveEntries(model->mutable_metadata_props(),
                [](int, const onnx::StringStringEntryProto& entry) {
                  return absl::StartsWith(entry.key(), kKeyPrefix);
                });
}

absl::Status StripTags(onnx::ModelProto* model) {
  if (!IsTagged(*model)) return absl::OkStatus();
  HP_ASSIGN_OR_RETURN(
      TagFormat format,
      ParseTagFormat(ModelMetadataValue(*model, kFormatKey).value_or("")));
  for (onnx::NodeProto* node : MutableNodes(model)) {
    switch (format) {
      case TagFormat::kMetadata:
        StripNodeMetadata(node);
        break;
      case TagFormat::kAttribute:
        StripAttribute(node);
        break;
      case TagFormat::kDocString:
        StripDocString(node);
        break;
    }
  }
  StripModelEntries(model);
  return absl::OkStatus();
}

}  // namespace hp
