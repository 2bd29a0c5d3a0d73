// How tagging's values are spelled wherever hp writes or reads them: the
// names of match kinds, hierarchy sources and tag formats, and TagOptions
// and TagStatistics as JSON. The tagger's model metadata, the sidecar, the
// batch summary, analyze and validate all go through here, so a new option
// or count is one row of a table in tag_codec.cc.
#ifndef HP_TAG_TAG_CODEC_H_
#define HP_TAG_TAG_CODEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "hp/tag/tag_types.h"
#include "nlohmann/json.hpp"

namespace hp {

// The match kinds `tag` gives, in the order counts are listed.
inline constexpr MatchKind kTagMatchKinds[] = {
    MatchKind::kDirect, MatchKind::kParent, MatchKind::kRoot,
    MatchKind::kPropagated};
// The match kinds `transfer` gives, in order of precedence.
inline constexpr MatchKind kTransferMatchKinds[] = {
    MatchKind::kKept, MatchKind::kReplacing, MatchKind::kInserted,
    MatchKind::kUnplaced};
inline constexpr size_t kMatchKindCount =
    std::size(kTagMatchKinds) + std::size(kTransferMatchKinds);

// Nodes counted by how their tags were found, indexed by MatchKind.
using MatchKindCounts = std::array<int64_t, kMatchKindCount>;

// The pkg.hp.source of a model whose tags were transferred.
inline constexpr char kTransferSource[] = "transfer";

// The kinds a model whose pkg.hp.source is `source` records.
absl::Span<const MatchKind> MatchKindsOf(absl::string_view source);

// "direct", "parent", "root", "propagated", "kept", "replacing",
// "inserted", "unplaced".
absl::string_view MatchKindName(MatchKind kind);
std::optional<MatchKind> ParseMatchKind(absl::string_view name);

// "trace", "dynamo-metadata", "node-names".
absl::string_view HierarchySourceName(HierarchySource source);
// The source a name stands for; nullopt for any other name.
std::optional<HierarchySource> ParseHierarchySource(absl::string_view name);

// "metadata", "attribute", "doc_string"; an unknown name is an
// InvalidArgument listing the known ones.
absl::string_view TagFormatName(TagFormat format);
absl::StatusOr<TagFormat> ParseTagFormat(absl::string_view name);

// The options that decide which tag a node gets, as compact JSON: what a
// tagged model records (pkg.hp.options), so that analyze and validate
// recompute the same tags from the model alone.
std::string RecordedOptionsJson(const TagOptions& options);
// Reads that JSON back onto the defaults; a member of the wrong type keeps
// its default. nullopt when the text is not a JSON object.
std::optional<TagOptions> ParseRecordedOptionsJson(absl::string_view text);
// Every option a user sets, as a JSON object in the table's order (the
// sidecar's record). The tag format is left out: it has a field of its own
// where it is written.
nlohmann::ordered_json OptionsJson(const TagOptions& options);

// The statistics as the compact JSON a tagged model records
// (pkg.hp.statistics): the counts, then the coverage to 4 decimals.
std::string RecordedStatisticsJson(const TagStatistics& statistics);
// Reads that JSON back; nullopt unless it is an object whose counts are
// all integers.
std::optional<TagStatistics> ParseRecordedStatistics(absl::string_view text);
// The pkg.hp.statistics of a model whose tags transfer wrote:
// {"nodes":N,"kept":..,"replacing":..,"inserted":..,"unplaced":..}.
std::string RecordedTransferStatisticsJson(int64_t nodes,
                                           const MatchKindCounts& counts);
// Each count, then "coverage", added to a JSON object (sidecar, batch
// summary) in the order of RecordedStatisticsJson.
void AddStatisticsJson(const TagStatistics& statistics,
                       nlohmann::ordered_json* object);

}  // namespace hp

#endif  // HP_TAG_TAG_CODEC_H_
