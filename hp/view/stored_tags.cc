#include "hp/view/stored_tags.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "hp/tag/tag_codec.h"
#include "hp/util/hex_digest.h"
#include "hp/util/parallel.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

// "direct, parent, root or propagated".
std::string KindNames(absl::Span<const MatchKind> kinds) {
  std::string names;
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) absl::StrAppend(&names, i + 1 == kinds.size() ? " or " : ", ");
    absl::StrAppend(&names, MatchKindName(kinds[i]));
  }
  return names;
}

using Json = nlohmann::json;
using Entries =
    google::protobuf::RepeatedPtrField<onnx::StringStringEntryProto>;

std::vector<int> FindAll(const Entries& entries, absl::string_view key) {
  std::vector<int> found;
  for (int i = 0; i < entries.size(); ++i) {
    if (entries[i].key() == key) found.push_back(i);
  }
  return found;
}

// Distinct texts, each copied once, with ids in the order first seen.
class TextTable {
 public:
  int32_t Intern(absl::string_view text) {
    auto it = ids_.find(text);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(texts_.size());
    // The key views the copy, not the model's file.
    ids_.emplace(texts_.emplace_back(text), id);
    return id;
  }
  // The same for a text this table may keep as it is.
  int32_t Intern(std::string&& text) {
    auto it = ids_.find(text);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(texts_.size());
    ids_.emplace(texts_.emplace_back(std::move(text)), id);
    return id;
  }
  const std::deque<std::string>& texts() const { return texts_; }
  // The texts, by id; the table is left empty.
  std::deque<std::string> Take() {
    ids_.clear();
    return std::move(texts_);
  }

 private:
  std::deque<std::string> texts_;
  absl::flat_hash_map<absl::string_view, int32_t> ids_;
};

// A text's id in a slice's table. Nearby nodes mostly share a few tags
// and module paths (a block's, its attention's, its MLP's, in turn), so
// each kind remembers its last few texts: a repeat needs no lookup.
class RecentTexts {
 public:
  int32_t IdIn(TextTable* table, const std::optional<absl::string_view>& read) {
    if (!read.has_value()) return StoredTag::kNone;
    for (const Slot& slot : slots_) {
      if (slot.id != StoredTag::kNone && slot.text == *read) return slot.id;
    }
    Slot& slot = slots_[next_];
    next_ = (next_ + 1) % kSlots;
    slot.id = table->Intern(*read);
    slot.text = table->texts()[static_cast<size_t>(slot.id)];
    return slot.id;
  }

 private:
  static constexpr size_t kSlots = 4;
  struct Slot {
    absl::string_view text;  // a view of the table's copy
    int32_t id = StoredTag::kNone;
  };
  std::array<Slot, kSlots> slots_;
  size_t next_ = 0;  // the slot replaced next: the oldest
};

// What the pass over a slice of the nodes finds, merged in node order.
struct SliceFindings {
  size_t begin = 0;
  size_t end = 0;
  TextTable texts;  // the ids of stored.nodes[begin, end) index these
  std::vector<std::string> problems;
  int64_t with_hp_namespace = 0;
  bool matches_recorded = false;
  // Match kinds that are not one, by node (rare).
  absl::flat_hash_map<size_t, std::string> unparsed_matches;
};

// What one node holds, before the checks that need all nodes.
struct NodeReading {
  WrittenTag tag;
  bool hp_namespace = false;   // hp wrote or overwrote `namespace`
  bool own_namespace = false;  // the node's own, left alone by hp
};

// Metadata format: pkg.hp.tag and pkg.hp.module_path once each; a
// `namespace` after pkg.hp.tag is hp's (tag_writer.cc puts its entries last),
// one before it is the node's own unless pkg.hp.original_namespace says hp
// overwrote it.
void CheckMetadata(const NodeRef& node, NodeReading* reading,
                   std::vector<std::string>* problems) {
  // One pass over the entries, without allocating: a million nodes are read.
  int tag_keys = 0, module_path_keys = 0, match_keys = 0;
  bool overwritten = false;           // pkg.hp.original_namespace is present
  int last_namespace = -1;            // at any place
  int last_namespace_after_tag = -1;  // after the first pkg.hp.tag
  bool namespace_before_tag = false;
  const int entries = static_cast<int>(node.metadata.size());
  for (int at = 0; at < entries; ++at) {
    const absl::string_view key = node.metadata[at].key;
    if (key == kTagKey) {
      ++tag_keys;
    } else if (key == kModulePathKey) {
      ++module_path_keys;
    } else if (key == kMatchKey) {
      ++match_keys;
    } else if (key == kOriginalNamespaceKey) {
      overwritten = true;
    } else if (key == kNamespaceKey) {
      last_namespace = at;
      if (tag_keys > 0) {
        last_namespace_after_tag = at;
      } else {
        namespace_before_tag = true;
      }
    }
  }
  auto once = [&](absl::string_view key, int count, bool required) {
    if (count == 0 && required) {
      problems->push_back(absl::StrCat(DescribeNode(node), ": has no ", key));
    } else if (count > 1) {
      problems->push_back(absl::StrCat(DescribeNode(node), ": ", key,
                                       " appears ", count, " times"));
    }
  };
  once(kTagKey, tag_keys, true);
  once(kModulePathKey, module_path_keys, true);
  once(kMatchKey, match_keys, false);  // absence is checked over all nodes

  int hp_namespace_at = last_namespace_after_tag;
  if (overwritten) {
    hp_namespace_at = last_namespace;
  } else {
    reading->own_namespace = namespace_before_tag;
  }
  if (overwritten && last_namespace < 0) {
    problems->push_back(absl::StrCat(DescribeNode(node), ": has ",
                                     kOriginalNamespaceKey, " but no ",
                                     kNamespaceKey));
  }
  const std::optional<absl::string_view>& tag = reading->tag.tag;
  if (hp_namespace_at >= 0) {
    reading->hp_namespace = true;
    const absl::string_view value = node.metadata[hp_namespace_at].value;
    // An empty tag is reported as such; its namespace cannot match it.
    if (tag.has_value() && !tag->empty() &&
        value != absl::StripPrefix(*tag, "/")) {
      problems->push_back(absl::StrCat(
          DescribeNode(node), ": ", kNamespaceKey, " '", value,
          "' is not its tag without the leading '/' ('", *tag, "')"));
    }
  }
}

void CheckAttribute(const NodeRef& ref, std::vector<std::string>* problems) {
  int found = 0;
  for (const onnx::AttributeProto& attribute : ref.node->attribute()) {
    if (attribute.name() != kTagAttributeName) continue;
    // Only the first counts (ReadNodeTag reads that one).
    if (++found > 1) continue;
    if (attribute.type() != onnx::AttributeProto::STRING) {
      problems->push_back(absl::StrCat(DescribeNode(ref), ": attribute ",
                                       kTagAttributeName,
                                       " is not of type STRING"));
    }
  }
  if (found == 0) {
    problems->push_back(absl::StrCat(DescribeNode(ref), ": has no attribute ",
                                     kTagAttributeName));
  } else if (found > 1) {
    problems->push_back(absl::StrCat(DescribeNode(ref), ": attribute ",
                                     kTagAttributeName, " appears ", found,
                                     " times"));
  }
  if (ref.FindMetadata(kTagKey).has_value()) {
    problems->push_back(absl::StrCat(DescribeNode(ref), ": has ", kTagKey,
                                     " metadata although the model's tag "
                                     "format is attribute"));
  }
}

void CheckDocString(const NodeRef& ref, const WrittenTag& tag,
                    std::vector<std::string>* problems) {
  if (!tag.doc_string_json) {
    problems->push_back(
        absl::StrCat(DescribeNode(ref), ": its doc_string holds no hp JSON"));
    return;
  }
  auto missing = [&](const char* key) {
    problems->push_back(absl::StrCat(DescribeNode(ref), ": doc_string JSON: \"",
                                     key, "\" is missing or not a string"));
  };
  if (!tag.tag.has_value()) missing(kDocTagKey);
  if (!tag.module_path.has_value()) missing(kDocModulePathKey);
  // A missing match is checked over all nodes.
}

// The model-level entries: present once, values of the right form.
void ReadModelEntries(const onnx::ModelProto& model, int64_t node_count,
                      StoredTags* stored) {
  const Entries& entries = model.metadata_props();
  std::vector<std::string>& problems = stored->problems;
  auto value = [&](absl::string_view key) -> std::string {
    std::vector<int> at = FindAll(entries, key);
    if (at.size() > 1) {
      problems.push_back(absl::StrCat("model metadata: ", key, " appears ",
                                      at.size(), " times"));
    }
    return at.empty() ? std::string() : entries[at.front()].value();
  };
  value(kFormatKey);  // Its value was checked before; only count it here.
  stored->hp_version = value(kVersionKey);
  stored->source = value(kSourceKey);
  stored->trace_sha256 = value(kTraceSha256Key);
  const std::string statistics = value(kStatisticsKey);

  if (stored->hp_version.empty()) {
    problems.push_back(absl::StrCat("model metadata: no ", kVersionKey));
  }
  const bool known_source = ParseHierarchySource(stored->source).has_value();
  const bool transferred = stored->source == kTransferSource;
  if (!known_source && !transferred) {
    problems.push_back(absl::StrCat("model metadata: ", kSourceKey, " '",
                                    stored->source,
                                    "' is not trace, dynamo-metadata, "
                                    "node-names or transfer"));
  }
  const bool from_trace =
      stored->source == HierarchySourceName(HierarchySource::kTrace);
  if (from_trace && !IsSha256HexDigest(stored->trace_sha256)) {
    problems.push_back(absl::StrCat("model metadata: ", kTraceSha256Key, " '",
                                    stored->trace_sha256,
                                    "' is not 64 lowercase hex digits"));
  } else if (!from_trace && !stored->trace_sha256.empty()) {
    problems.push_back(absl::StrCat("model metadata: ", kTraceSha256Key,
                                    " present although ", kSourceKey, " is '",
                                    stored->source, "'"));
  }

  const Json counts = Json::parse(statistics, nullptr, false);
  auto count = [&](absl::string_view key) -> std::optional<int64_t> {
    if (!counts.is_object()) return std::nullopt;
    auto it = counts.find(std::string(key));
    if (it == counts.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  std::array<int64_t, kMatchKindCount> recorded{};
  bool all_recorded = true;
  for (MatchKind kind : MatchKindsOf(stored->source)) {
    const std::optional<int64_t> counted = count(MatchKindName(kind));
    all_recorded &= counted.has_value();
    recorded[static_cast<size_t>(kind)] = counted.value_or(0);
  }
  if (all_recorded) stored->recorded_matches = recorded;
  std::optional<int64_t> nodes = count("nodes");
  if (!nodes.has_value()) {
    problems.push_back(absl::StrCat("model metadata: ", kStatisticsKey,
                                    " is not a JSON object with an integer "
                                    "\"nodes\""));
  } else if (*nodes != node_count) {
    problems.push_back(absl::StrCat("model metadata: ", kStatisticsKey,
                                    " counts ", *nodes,
                                    " nodes, the model has ", node_count));
  } else {
    int64_t matched = 0;
    std::vector<absl::string_view> names;
    for (MatchKind kind : MatchKindsOf(stored->source)) {
      names.push_back(MatchKindName(kind));
      matched += count(names.back()).value_or(0);
    }
    if (matched != *nodes) {
      problems.push_back(absl::StrCat("model metadata: ", kStatisticsKey, ": ",
                                      absl::StrJoin(names, " + "), " = ",
                                      matched, ", not the ", *nodes, " nodes"));
    }
  }
}

}  // namespace

std::string DescribeNode(absl::string_view name, absl::string_view op_type,
                         absl::string_view graph) {
  if (name.empty()) {
    return absl::StrCat("unnamed node (", op_type, ") in ", graph);
  }
  return absl::StrCat("node '", name, "' (", op_type, ") in ", graph);
}

std::string DescribeNode(const NodeRef& node) {
  return DescribeNode(node.name, node.op_type, node.graph_path);
}

std::string DescribeNode(const NodeTag& node) {
  return DescribeNode(node.node_name, node.op_type, node.graph_path);
}

void StoredTags::AddNode(std::optional<absl::string_view> tag,
                         std::optional<absl::string_view> module_path) {
  auto add = [this](const std::optional<absl::string_view>& text) {
    if (!text.has_value()) return StoredTag::kNone;
    texts.emplace_back(*text);
    return static_cast<int32_t>(texts.size() - 1);
  };
  StoredTag node;
  node.tag = add(tag);
  node.module_path = add(module_path);
  nodes.push_back(node);
}

absl::StatusOr<StoredTags> ReadStoredTags(const onnx::ModelProto& model,
                                          absl::string_view source) {
  return ReadStoredTags(model, CollectNodes(model), source);
}

absl::StatusOr<StoredTags> ReadStoredTags(const onnx::ModelProto& model,
                                          const NodeList& nodes,
                                          absl::string_view source) {
  if (!IsTagged(model)) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, ": not tagged by hp (its metadata has no ",
                     kFormatKey, "); run converter tag first"));
  }
  absl::StatusOr<TagFormat> format =
      ParseTagFormat(ModelMetadataValue(model, kFormatKey).value_or(""));
  if (!format.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model metadata ",
                                                   kFormatKey, ": ",
                                                   format.status().message()));
  }

  StoredTags stored;
  stored.format = *format;
  ReadModelEntries(model, static_cast<int64_t>(nodes.size()), &stored);

  // Per node, whether it has a namespace of hp's or its own, and whether
  // it records a match kind (bytes: slices are written at once).
  std::vector<uint8_t> has_namespace(nodes.size());
  std::vector<uint8_t> match_written(nodes.size());
  stored.nodes.resize(nodes.size());
  stored.matches.resize(nodes.size());
  // What the doc_string format's JSON held, for the readings to view (its
  // nodes are read in order).
  std::deque<std::string> doc_texts;
  const absl::Span<const MatchKind> kinds = MatchKindsOf(stored.source);
  std::mutex slices_mutex;
  // Each slice's findings stay where they were made: a vector of them,
  // growing, would copy their tables (a deque's move may throw).
  std::vector<std::unique_ptr<SliceFindings>> slices;
  auto read_slice = [&](size_t begin, size_t end) {
    auto findings = std::make_unique<SliceFindings>();
    SliceFindings& found = *findings;
    found.begin = begin;
    found.end = end;
    RecentTexts recent_tags, recent_paths;
    NodeReleaser releaser(nodes, begin);
    // The records' pages were given back once read: copied again, a run
    // at a time, rather than mapped again. Nothing read is kept as a view.
    RecordCopy records(nodes);
    for (size_t i = begin; i < end; ++i) {
      records.Reached(i, end);
      releaser.Reached(i);
      const NodeRef node = records[i];
      NodeReading reading{ReadNodeTag(node, stored.format, &doc_texts)};
      switch (stored.format) {
        case TagFormat::kMetadata:
          CheckMetadata(node, &reading, &found.problems);
          break;
        case TagFormat::kAttribute:
          CheckAttribute(node, &found.problems);
          break;
        case TagFormat::kDocString:
          CheckDocString(node, reading.tag, &found.problems);
          break;
      }
      found.with_hp_namespace += reading.hp_namespace ? 1 : 0;
      has_namespace[i] = reading.hp_namespace || reading.own_namespace;
      const std::optional<absl::string_view>& match = reading.tag.match;
      found.matches_recorded |= match.has_value();
      if (reading.tag.tag.has_value() && reading.tag.tag->empty()) {
        found.problems.push_back(
            absl::StrCat(DescribeNode(node), ": empty tag"));
      }
      std::optional<MatchKind> kind;
      if (match.has_value()) kind = ParseMatchKind(*match);
      if (kind.has_value() && !absl::c_linear_search(kinds, *kind)) {
        kind.reset();
      }
      if (match.has_value() && !kind.has_value()) {
        found.unparsed_matches.emplace(i, std::string(*match));
      }
      match_written[i] = match.has_value();
      stored.matches[i] = kind;
      stored.nodes[i] = {
          recent_tags.IdIn(&found.texts, reading.tag.tag),
          recent_paths.IdIn(&found.texts, reading.tag.module_path)};
    }
    std::lock_guard<std::mutex> lock(slices_mutex);
    slices.push_back(std::move(findings));
  };
  // The doc_string format keeps its JSON's text in one deque: read in
  // order.
  if (stored.format == TagFormat::kMetadata) {
    ForSlices(nodes.size(), kNodesPerSlice, read_slice);
  } else {
    read_slice(0, nodes.size());
  }
  absl::c_sort(slices, [](const std::unique_ptr<SliceFindings>& a,
                          const std::unique_ptr<SliceFindings>& b) {
    return a->begin < b->begin;
  });
  int64_t with_hp_namespace = 0;
  absl::flat_hash_map<size_t, std::string> unparsed_matches;
  // The first slice's table is the model's; the others' texts move into
  // it (each slice's modules mostly its own), and their ids become its.
  TextTable texts;
  if (!slices.empty()) texts = std::move(slices.front()->texts);
  for (const std::unique_ptr<SliceFindings>& findings : slices) {
    SliceFindings& found = *findings;
    if (&findings != &slices.front()) {
      std::vector<int32_t> id_of;
      std::deque<std::string> slice_texts = found.texts.Take();
      id_of.reserve(slice_texts.size());
      for (std::string& text : slice_texts) {
        id_of.push_back(texts.Intern(std::move(text)));
      }
      for (size_t i = found.begin; i < found.end; ++i) {
        StoredTag& node = stored.nodes[i];
        if (node.tag != StoredTag::kNone) {
          node.tag = id_of[static_cast<size_t>(node.tag)];
        }
        if (node.module_path != StoredTag::kNone) {
          node.module_path = id_of[static_cast<size_t>(node.module_path)];
        }
      }
    }
    for (std::string& problem : found.problems) {
      stored.problems.push_back(std::move(problem));
    }
    with_hp_namespace += found.with_hp_namespace;
    stored.matches_recorded |= found.matches_recorded;
    unparsed_matches.merge(found.unparsed_matches);
  }
  stored.texts = texts.Take();
  // hp writes `namespace` on every node or (--nonamespace) on none; only a
  // node's own namespace, which hp leaves alone, excuses a missing one.
  if (with_hp_namespace > 0) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (has_namespace[i]) continue;
      stored.problems.push_back(absl::StrCat(
          DescribeNode(nodes[i]), ": has no ", kNamespaceKey,
          " although hp wrote one on ", with_hp_namespace, " other nodes"));
    }
  }
  // hp writes a match kind on every node, or (before it stored them) on
  // none; each source has its own kinds.
  size_t i = 0;
  for (NodeList::const_iterator it = nodes.begin(); it != nodes.end();
       ++it, ++i) {
    if (auto unparsed = unparsed_matches.find(i);
        unparsed != unparsed_matches.end()) {
      stored.problems.push_back(absl::StrCat(DescribeNode(*it),
                                             ": match kind '", unparsed->second,
                                             "' is not ", KindNames(kinds)));
    } else if (!match_written[i] && stored.matches_recorded) {
      stored.problems.push_back(
          absl::StrCat(DescribeNode(*it),
                       ": has no match kind although hp wrote one "
                       "on other nodes"));
    }
  }
  return stored;
}

}  // namespace hp
