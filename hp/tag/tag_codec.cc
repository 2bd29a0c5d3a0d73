#include "hp/tag/tag_codec.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hp {
namespace {

// One row per option that hp records. `recorded`: it decides tags, so a
// tagged model records it (pkg.hp.options). Exactly one member pointer is
// set. The format has a metadata key of its own; model digests are not
// options a user sets.
struct OptionField {
  const char* name;
  bool recorded;
  bool TagOptions::*flag;
  std::string TagOptions::*text;
  std::vector<std::string> TagOptions::*list;
};

constexpr OptionField kOptionFields[] = {
    {"keep_all_torch_nn", true, &TagOptions::keep_all_torch_nn, nullptr,
     nullptr},
    {"keep_torch_nn_classes", true, nullptr, nullptr,
     &TagOptions::keep_torch_nn_classes},
    {"propagate", true, &TagOptions::propagate, nullptr, nullptr},
    {"first_candidate", true, &TagOptions::first_candidate, nullptr, nullptr},
    {"write_namespace", false, &TagOptions::write_namespace, nullptr, nullptr},
    {"overwrite_namespace", false, &TagOptions::overwrite_namespace, nullptr,
     nullptr},
    {"root_name", true, nullptr, &TagOptions::root_name, nullptr},
};

using Json = nlohmann::ordered_json;

void AddOption(const OptionField& field, const TagOptions& options,
               Json* object) {
  if (field.flag != nullptr) (*object)[field.name] = options.*field.flag;
  if (field.text != nullptr) (*object)[field.name] = options.*field.text;
  if (field.list != nullptr) (*object)[field.name] = options.*field.list;
}

// The counts in the order they are written.
struct CountField {
  const char* name;
  int64_t TagStatistics::*count;
};

constexpr CountField kCountFields[] = {
    {"nodes", &TagStatistics::nodes},
    {"direct", &TagStatistics::direct},
    {"parent", &TagStatistics::parent},
    {"root", &TagStatistics::root},
    {"propagated", &TagStatistics::propagated},
    {"modules", &TagStatistics::modules},
    {"tags", &TagStatistics::tags},
};
constexpr char kCoverageName[] = "coverage";

}  // namespace

absl::string_view MatchKindName(MatchKind kind) {
  switch (kind) {
    case MatchKind::kDirect:
      return "direct";
    case MatchKind::kParent:
      return "parent";
    case MatchKind::kRoot:
      return "root";
    case MatchKind::kPropagated:
      return "propagated";
    case MatchKind::kKept:
      return "kept";
    case MatchKind::kReplacing:
      return "replacing";
    case MatchKind::kInserted:
      return "inserted";
    case MatchKind::kUnplaced:
      return "unplaced";
  }
  return "root";
}

std::optional<MatchKind> ParseMatchKind(absl::string_view name) {
  for (absl::Span<const MatchKind> kinds :
       {absl::MakeConstSpan(kTagMatchKinds),
        absl::MakeConstSpan(kTransferMatchKinds)}) {
    for (MatchKind kind : kinds) {
      if (MatchKindName(kind) == name) return kind;
    }
  }
  return std::nullopt;
}

std::string RecordedTransferStatisticsJson(int64_t nodes,
                                           const MatchKindCounts& counts) {
  std::string json = absl::StrCat("{\"nodes\":", nodes);
  for (MatchKind kind : kTransferMatchKinds) {
    absl::StrAppend(&json, ",\"", MatchKindName(kind),
                    "\":", counts[static_cast<size_t>(kind)]);
  }
  return json + "}";
}

absl::Span<const MatchKind> MatchKindsOf(absl::string_view source) {
  if (source == kTransferSource) return kTransferMatchKinds;
  return kTagMatchKinds;
}

absl::string_view HierarchySourceName(HierarchySource source) {
  switch (source) {
    case HierarchySource::kTrace:
      return "trace";
    case HierarchySource::kDynamoMetadata:
      return "dynamo-metadata";
    case HierarchySource::kNodeNames:
      return "node-names";
  }
  return "node-names";
}

std::optional<HierarchySource> ParseHierarchySource(absl::string_view name) {
  for (HierarchySource source :
       {HierarchySource::kTrace, HierarchySource::kDynamoMetadata,
        HierarchySource::kNodeNames}) {
    if (HierarchySourceName(source) == name) return source;
  }
  return std::nullopt;
}

absl::string_view TagFormatName(TagFormat format) {
  switch (format) {
    case TagFormat::kMetadata:
      return "metadata";
    case TagFormat::kAttribute:
      return "attribute";
    case TagFormat::kDocString:
      return "doc_string";
  }
  return "metadata";
}

absl::StatusOr<TagFormat> ParseTagFormat(absl::string_view name) {
  for (TagFormat format :
       {TagFormat::kMetadata, TagFormat::kAttribute, TagFormat::kDocString}) {
    if (name == TagFormatName(format)) return format;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown tag format '", name,
                   "' (expected metadata, attribute or doc_string)"));
}

std::string RecordedOptionsJson(const TagOptions& options) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const OptionField& field : kOptionFields) {
    if (field.recorded) AddOption(field, options, &json);
  }
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<TagOptions> ParseRecordedOptionsJson(absl::string_view text) {
  const nlohmann::json json =
      nlohmann::json::parse(text.begin(), text.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  TagOptions options;
  for (const OptionField& field : kOptionFields) {
    if (!field.recorded) continue;
    const auto it = json.find(field.name);
    if (it == json.end()) continue;
    if (field.flag != nullptr && it->is_boolean()) {
      options.*field.flag = it->get<bool>();
    } else if (field.text != nullptr && it->is_string()) {
      options.*field.text = it->get<std::string>();
    } else if (field.list != nullptr && it->is_array()) {
      for (const nlohmann::json& item : *it) {
        if (item.is_string()) {
          (options.*field.list).push_back(item.get<std::string>());
        }
      }
    }
  }
  return options;
}

nlohmann::ordered_json OptionsJson(const TagOptions& options) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const OptionField& field : kOptionFields) {
    AddOption(field, options, &json);
  }
  return json;
}

std::string RecordedStatisticsJson(const TagStatistics& statistics) {
  std::string text = "{";
  for (const CountField& field : kCountFields) {
    absl::StrAppend(&text, "\"", field.name, "\":", statistics.*field.count,
                    ",");
  }
  absl::StrAppendFormat(&text, "\"%s\":%.4f}", kCoverageName,
                        statistics.coverage);
  return text;
}

std::optional<TagStatistics> ParseRecordedStatistics(absl::string_view text) {
  const nlohmann::json json =
      nlohmann::json::parse(text.begin(), text.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  TagStatistics statistics;
  for (const CountField& field : kCountFields) {
    const auto it = json.find(field.name);
    if (it == json.end() || !it->is_number_integer()) return std::nullopt;
    statistics.*field.count = it->get<int64_t>();
  }
  const auto coverage = json.find(kCoverageName);
  if (coverage != json.end() && coverage->is_number()) {
    statistics.coverage = coverage->get<double>();
  }
  return statistics;
}

void AddStatisticsJson(const TagStatistics& statistics, Json* object) {
  for (const CountField& field : kCountFields) {
    (*object)[field.name] = statistics.*field.count;
  }
  (*object)[kCoverageName] = statistics.coverage;
}

}  // namespace hp
