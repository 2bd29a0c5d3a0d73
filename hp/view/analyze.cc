#include "hp/view/analyze.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hp/tag/tag_codec.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using Json = nlohmann::ordered_json;

// How nodes were matched: one bucket per MatchKind, in its order, then
// "unknown" (a stored tag that differs from the computed one).
constexpr size_t kUnknownBucket = kMatchKindCount;

size_t MatchBucket(const ShownNode& node) {
  return node.match_known ? static_cast<size_t>(node.match) : kUnknownBucket;
}

absl::string_view BucketName(size_t bucket) {
  return bucket == kUnknownBucket
             ? "unknown"
             : MatchKindName(static_cast<MatchKind>(bucket));
}

using MatchCounts = std::array<int64_t, kMatchKindCount + 1>;
// Sorted by op type; the names view CountPerModule's table.
using OpCounts = std::vector<std::pair<absl::string_view, int64_t>>;

struct ModuleCounts {
  OpCounts own_ops;
  OpCounts subtree_ops;
  MatchCounts matches{};  // of the module's own nodes
};

// A module's counts by op id (TagsToShow::op_types, so that a million
// nodes are counted without a string or a map entry each): a few op types
// each.
using OpIdCounts = std::vector<std::pair<int, int64_t>>;

void Add(int op, int64_t count, OpIdCounts* counts) {
  for (auto& [id, total] : *counts) {
    if (id == op) {
      total += count;
      return;
    }
  }
  counts->emplace_back(op, count);
}

OpCounts Named(const OpIdCounts& counts, const OpTypeTable& types) {
  OpCounts named;
  named.reserve(counts.size());
  for (const auto& [id, count] : counts)
    named.emplace_back(types.Name(id), count);
  std::sort(named.begin(), named.end());
  return named;
}

// Per module of the tree, its counts, viewing shown's op types.
std::vector<ModuleCounts> CountPerModule(const TagsToShow& shown,
                                         const ModuleTree& tree) {
  const size_t modules = tree.modules().size();
  std::vector<ModuleCounts> counts(modules);
  std::vector<OpIdCounts> own(modules);
  for (size_t m = 0; m < modules; ++m) {
    for (int node : tree.modules()[m].nodes) {
      Add(shown.nodes[node].op_id, 1, &own[m]);
      ++counts[m].matches[MatchBucket(shown.nodes[node])];
    }
  }
  // Children come after their parents: one backward pass sums subtrees.
  std::vector<OpIdCounts> subtree = own;
  for (size_t m = modules; m-- > 0;) {
    const int parent = tree.modules()[m].parent;
    if (parent < 0) continue;
    for (const auto& [op, count] : subtree[m]) {
      Add(op, count, &subtree[parent]);
    }
  }
  for (size_t m = 0; m < modules; ++m) {
    counts[m].own_ops = Named(own[m], shown.op_types);
    counts[m].subtree_ops = Named(subtree[m], shown.op_types);
  }
  return counts;
}

MatchCounts CountAll(const TagsToShow& shown) {
  MatchCounts all{};
  for (const ShownNode& node : shown.nodes) ++all[MatchBucket(node)];
  return all;
}

std::string TagsOrigin(const TagsToShow& shown,
                       const AnalysisContext& context) {
  std::string origin =
      shown.read_from_model
          ? "read from the model"
          : absl::StrCat("computed from ", HierarchySourceName(shown.source));
  if (shown.transferred) {
    absl::StrAppend(&origin,
                    " with their match kinds (transferred from a "
                    "tagged model)");
  } else if (shown.stored_matches) {
    absl::StrAppend(&origin, " with their match kinds (hierarchy from ",
                    HierarchySourceName(shown.source), ")");
  } else if (!context.trace_path.empty()) {
    absl::StrAppend(&origin, shown.read_from_model ? ", matches from " : " ",
                    context.trace_path);
  }
  return origin;
}

// "direct 5, root 4": the non-zero counts.
std::string MatchesText(const MatchCounts& matches) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < matches.size(); ++i) {
    if (matches[i] > 0)
      parts.push_back(absl::StrCat(BucketName(i), " ", matches[i]));
  }
  return absl::StrJoin(parts, ", ");
}

void AppendModuleText(const ModuleTree& tree,
                      const std::vector<ModuleCounts>& counts, int index,
                      std::string* text) {
  const TreeModule& module = tree.modules()[index];
  const std::string indent(2 * module.depth, ' ');
  absl::StrAppend(text, indent,
                  module.parent < 0 ? module.tag : module.component);
  if (module.path.has_value() && !module.path->empty()) {
    absl::StrAppend(text, " (", *module.path, ")");
  }
  absl::StrAppend(text, ": ", module.subtree_nodes, " nodes, ",
                  module.nodes.size(), " own");
  if (!module.nodes.empty()) {
    absl::StrAppend(text, " (", MatchesText(counts[index].matches), ")");
  }
  absl::StrAppend(text, "\n");
  if (!counts[index].own_ops.empty()) {
    absl::StrAppend(text, indent, "  ops: ",
                    absl::StrJoin(counts[index].own_ops, ", ",
                                  [](std::string* out, const auto& entry) {
                                    absl::StrAppend(out, entry.first, " ",
                                                    entry.second);
                                  }),
                    "\n");
  }
  for (int child : module.children) AppendModuleText(tree, counts, child, text);
}

Json OpsJson(const OpCounts& ops) {
  Json json = Json::object();
  for (const auto& [op, count] : ops) json[std::string(op)] = count;
  return json;
}

// The counts of the kinds the model's tags were found by, then "unknown".
Json MatchesJson(const TagsToShow& shown, const MatchCounts& matches) {
  Json json = Json::object();
  for (MatchKind kind : shown.transferred
                            ? absl::MakeConstSpan(kTransferMatchKinds)
                            : absl::MakeConstSpan(kTagMatchKinds)) {
    json[std::string(MatchKindName(kind))] = matches[static_cast<size_t>(kind)];
  }
  json[std::string(BucketName(kUnknownBucket))] = matches[kUnknownBucket];
  return json;
}

Json ModuleJson(const TagsToShow& shown, const ModuleTree& tree,
                const std::vector<ModuleCounts>& counts, int index) {
  const TreeModule& module = tree.modules()[index];
  Json json;
  json["tag"] = module.tag;
  json["component"] = module.component;
  json["class"] = module.class_name;
  json["path"] = module.path.has_value() ? Json(*module.path) : Json(nullptr);
  json["own_nodes"] = module.nodes.size();
  json["subtree_nodes"] = module.subtree_nodes;
  json["matches"] = MatchesJson(shown, counts[index].matches);
  json["op_types"] = OpsJson(counts[index].own_ops);
  json["subtree_op_types"] = OpsJson(counts[index].subtree_ops);
  json["children"] = Json::array();
  for (int child : module.children) {
    json["children"].push_back(ModuleJson(shown, tree, counts, child));
  }
  return json;
}

std::vector<const ShownNode*> Untagged(const TagsToShow& shown) {
  std::vector<const ShownNode*> untagged;
  for (const ShownNode& node : shown.nodes) {
    if (node.tag.empty()) untagged.push_back(&node);
  }
  return untagged;
}

}  // namespace

std::string AnalysisText(const TagsToShow& shown, const ModuleTree& tree,
                         const AnalysisContext& context) {
  const std::vector<ModuleCounts> counts = CountPerModule(shown, tree);
  std::string text = absl::StrCat("model: ", context.model_path, "\n",
                                  "tags: ", TagsOrigin(shown, context), "\n",
                                  "nodes: ", shown.nodes.size());
  const std::string matches = MatchesText(CountAll(shown));
  if (!matches.empty()) absl::StrAppend(&text, " (", matches, ")");
  absl::StrAppend(&text, "; module instances: ", tree.modules().size(), "\n");
  for (const std::string& warning : shown.warnings) {
    absl::StrAppend(&text, "warning: ", warning, "\n");
  }
  absl::StrAppend(&text, "\n");
  for (int root : tree.roots()) AppendModuleText(tree, counts, root, &text);
  const std::vector<const ShownNode*> untagged = Untagged(shown);
  if (!untagged.empty()) {
    absl::StrAppend(&text, "\n", untagged.size(), " nodes carry no tag:\n");
    for (const ShownNode* node : untagged) {
      absl::StrAppend(&text, "  ", DescribeNode(*node), "\n");
    }
  }
  return text;
}

std::string AnalysisJson(const TagsToShow& shown, const ModuleTree& tree,
                         const AnalysisContext& context) {
  const std::vector<ModuleCounts> counts = CountPerModule(shown, tree);
  Json json;
  json["format"] = kAnalysisFormat;
  json["format_version"] = kAnalysisFormatVersion;
  json["model"] = context.model_path;
  json["trace"] =
      context.trace_path.empty() ? Json(nullptr) : Json(context.trace_path);
  json["tags_from"] = shown.read_from_model ? "model" : "computed";
  json["hierarchy_source"] = shown.transferred
                                 ? absl::string_view(kTransferSource)
                                 : HierarchySourceName(shown.source);

  absl::flat_hash_set<absl::string_view> distinct_tags;
  for (const ShownNode& node : shown.nodes) {
    if (!node.tag.empty()) distinct_tags.insert(node.tag);
  }
  Json statistics;
  statistics["nodes"] = shown.nodes.size();
  statistics["untagged"] = Untagged(shown).size();
  statistics["matches"] = MatchesJson(shown, CountAll(shown));
  statistics["module_instances"] = tree.modules().size();
  statistics["tags"] = distinct_tags.size();
  json["statistics"] = std::move(statistics);
  json["warnings"] = shown.warnings;

  json["modules"] = Json::array();
  for (int root : tree.roots()) {
    json["modules"].push_back(ModuleJson(shown, tree, counts, root));
  }
  json["untagged_nodes"] = Json::array();
  for (const ShownNode* node : Untagged(shown)) {
    json["untagged_nodes"].push_back({{"graph", node->graph_path},
                                      {"name", node->node_name},
                                      {"op_type", node->op_type}});
  }
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace hp
