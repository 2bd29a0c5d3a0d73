#include "hp/view/validate.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"

namespace hp {
namespace {

// A node's stored tag and module path, looked up once.
struct NodeTexts {
  std::optional<absl::string_view> tag;
  std::optional<absl::string_view> module_path;
};

NodeTexts TextsOf(const StoredTags& stored, size_t node) {
  return {stored.Tag(node), stored.ModulePath(node)};
}

}  // namespace

std::vector<std::string> ValidateStoredTags(const NodeList& nodes,
                                            const StoredTags& stored,
                                            const ComputedTags& computed) {
  std::vector<std::string> problems = stored.problems;
  if (stored.nodes.size() != computed.size() ||
      nodes.size() != computed.size()) {
    problems.push_back(absl::StrCat("hp computed tags for ", computed.size(),
                                    " nodes, read ", stored.nodes.size(),
                                    ": not the same model"));
    return problems;
  }

  absl::flat_hash_map<std::string, const ModuleInfo*> module_by_path;
  absl::flat_hash_set<std::string> module_tags;
  absl::flat_hash_map<std::string, const ModuleInfo*> kept_by_tag;
  for (const ModuleInfo& module : computed.summary.modules) {
    module_by_path.emplace(module.path, &module);
    module_tags.insert(module.tag);
    if (!module.kept) continue;
    auto [it, inserted] = kept_by_tag.emplace(module.tag, &module);
    if (!inserted) {
      problems.push_back(
          absl::StrCat("tag '", module.tag, "' is shared by module instances '",
                       it->second->path, "' and '", module.path, "'"));
    }
  }

  // Transferred tags belong to the model the tags came from, not to these
  // node names: only a trace's modules can check them.
  const bool transferred = stored.source == kTransferSource;
  const HierarchySource source = computed.summary.source;
  if (transferred && source != HierarchySource::kTrace) {
    return problems;
  }
  size_t i = 0;
  for (NodeList::const_iterator it = nodes.begin(); it != nodes.end();
       ++it, ++i) {
    const NodeTexts tag = TextsOf(stored, i);
    // Missing and empty tags are among stored.problems already.
    if (!tag.tag.has_value() || tag.tag->empty()) continue;
    const MatchKind now_match = computed.MatchKindOf(i);
    // Named only in a problem: a million nodes pass without a message.
    const NodeRef ref = *it;
    auto node = [&ref] { return DescribeNode(ref); };
    if (!module_tags.contains(*tag.tag)) {
      problems.push_back(absl::StrCat(
          node(), ": tag '", *tag.tag, "' is not the tag of any module (from ",
          HierarchySourceName(source), ")",
          transferred
              ? ""
              : absl::StrCat("; hp tags it '", computed.TagOf(i), "'")));
      continue;
    }
    if (!tag.module_path.has_value()) continue;  // the attribute format
    auto module = module_by_path.find(*tag.module_path);
    if (module == module_by_path.end()) {
      problems.push_back(absl::StrCat(
          node(), ": module path '", *tag.module_path,
          "' is not a module (from ", HierarchySourceName(source), ")"));
      continue;
    }
    if (!transferred && *tag.module_path != computed.ModulePathOf(i)) {
      problems.push_back(absl::StrCat(node(), ": module path '",
                                      *tag.module_path, "', but hp finds '",
                                      computed.ModulePathOf(i), "' for it"));
      continue;
    }
    if (!transferred && i < stored.matches.size() &&
        stored.matches[i].has_value() && *stored.matches[i] != now_match) {
      problems.push_back(absl::StrCat(
          node(), ": stored match kind '", MatchKindName(*stored.matches[i]),
          "', but hp finds '", MatchKindName(now_match), "'"));
    }
    // Only nodes without a scope may carry a tag other than their module's:
    // --propagate gives them a neighbour's.
    const bool unscoped = !transferred && (now_match == MatchKind::kRoot ||
                                           now_match == MatchKind::kPropagated);
    if (!unscoped && module->second->tag != *tag.tag) {
      problems.push_back(absl::StrCat(
          node(), ": tag '", *tag.tag, "' disagrees with its module path '",
          *tag.module_path, "', whose tag is '", module->second->tag, "'"));
    }
  }
  return problems;
}

namespace {

// The first component of a tag: "/Net" of "/Net/Encoder".
absl::string_view RootOf(absl::string_view tag) {
  const size_t slash = tag.find('/', 1);
  return slash == absl::string_view::npos ? tag : tag.substr(0, slash);
}

}  // namespace

std::vector<std::string> ValidateStoredFacts(const NodeList& nodes,
                                             const StoredTags& stored) {
  std::vector<std::string> problems = stored.problems;
  const bool transferred = stored.source == kTransferSource;
  if (!stored.matches_recorded && !nodes.empty()) {
    problems.push_back(absl::StrCat(
        "no node records its match kind (",
        transferred ? "transferred" : "tagged", " by hp ",
        stored.hp_version.empty() ? "of unknown version" : stored.hp_version,
        ", before they were stored): pass --trace to check the tags against "
        "the trace they were made with"));
    return problems;
  }
  std::optional<absl::string_view> root;
  absl::flat_hash_map<absl::string_view, absl::string_view> tag_of_path;
  absl::flat_hash_map<absl::string_view, absl::string_view> path_of_tag;
  std::array<int64_t, kMatchKindCount> counted{};
  for (size_t i = 0; i < nodes.size() && i < stored.nodes.size(); ++i) {
    const NodeTexts tag = TextsOf(stored, i);
    const std::optional<MatchKind>& match = stored.matches[i];
    if (match.has_value()) ++counted[static_cast<size_t>(*match)];
    // Missing and empty tags, missing kinds are among stored.problems.
    if (!tag.tag.has_value() || tag.tag->empty() || !match.has_value()) {
      continue;
    }
    auto node = [&nodes, i] { return DescribeNode(nodes[i]); };
    if (!root.has_value()) root = RootOf(*tag.tag);
    if (RootOf(*tag.tag) != *root) {
      problems.push_back(absl::StrCat(node(), ": tag '", *tag.tag,
                                      "' is not under the root '", *root,
                                      "' of the other tags"));
      continue;
    }
    const bool has_path = tag.module_path.has_value();
    if (*match == MatchKind::kRoot || *match == MatchKind::kUnplaced) {
      if (*tag.tag != *root) {
        problems.push_back(absl::StrCat(
            node(), ": matched '", MatchKindName(*match), "' but tagged '",
            *tag.tag, "', not the root tag '", *root, "'"));
      }
      if (has_path && !tag.module_path->empty()) {
        problems.push_back(
            absl::StrCat(node(), ": matched '", MatchKindName(*match),
                         "' but has module path '", *tag.module_path, "'"));
      }
      continue;
    }
    // Transferred tags come from the tagged model's nodes, whose own kinds
    // are not stored here: only direct matches of `tag` pair paths and tags.
    if (*match != MatchKind::kDirect || !has_path) continue;
    auto [by_path, new_path] =
        tag_of_path.try_emplace(*tag.module_path, *tag.tag);
    if (!new_path && by_path->second != *tag.tag) {
      problems.push_back(absl::StrCat(node(), ": module '", *tag.module_path,
                                      "' tagged '", *tag.tag, "' here and '",
                                      by_path->second, "' on other nodes"));
    }
    auto [by_tag, new_tag] =
        path_of_tag.try_emplace(*tag.tag, *tag.module_path);
    if (!new_tag && by_tag->second != *tag.module_path) {
      problems.push_back(
          absl::StrCat("tag '", *tag.tag, "' is shared by module instances '",
                       by_tag->second, "' and '", *tag.module_path, "'"));
    }
  }
  if (stored.recorded_matches.has_value()) {
    for (MatchKind kind : MatchKindsOf(stored.source)) {
      const size_t k = static_cast<size_t>(kind);
      const int64_t recorded = (*stored.recorded_matches)[k];
      if (recorded == counted[k]) continue;
      problems.push_back(absl::StrCat(
          "model metadata: ", kStatisticsKey, " counts ", recorded, " ",
          MatchKindName(kind), " nodes, the nodes record ", counted[k]));
    }
  }
  return problems;
}

std::vector<std::string> CompareWithSidecar(const Sidecar& sidecar,
                                            absl::string_view sidecar_path,
                                            const NodeList& nodes,
                                            const StoredTags& stored,
                                            absl::string_view model_sha256) {
  std::vector<std::string> problems;
  if (sidecar.output_model_sha256 != model_sha256) {
    problems.push_back(absl::StrCat(
        sidecar_path, " describes a model of sha256 ",
        sidecar.output_model_sha256, ", this one has sha256 ", model_sha256,
        " (a sidecar from another model, or the model changed since)"));
  }
  if (sidecar.nodes.size() != nodes.size()) {
    problems.push_back(absl::StrCat(sidecar_path, " lists ",
                                    sidecar.nodes.size(),
                                    " nodes, the model has ", nodes.size()));
  }
  const size_t common = std::min(sidecar.nodes.size(), nodes.size());
  for (size_t i = 0; i < common; ++i) {
    const NodeTag& listed = sidecar.nodes[i];
    const NodeRef& node = nodes[i];
    if (listed.node_name != node.name || listed.op_type != node.op_type ||
        listed.graph_path != node.graph_path) {
      problems.push_back(absl::StrCat(sidecar_path, ": nodes[", i, "] is ",
                                      DescribeNode(listed), ", the model has ",
                                      DescribeNode(node), " there"));
      continue;
    }
    const absl::string_view tag =
        i < stored.nodes.size() ? stored.Tag(i).value_or("") : "";
    if (listed.tag != tag) {
      problems.push_back(absl::StrCat(DescribeNode(node), ": tagged '", tag,
                                      "', ", sidecar_path, " says '",
                                      listed.tag, "'"));
    }
    const std::optional<absl::string_view> module_path =
        i < stored.nodes.size() ? stored.ModulePath(i) : std::nullopt;
    if (module_path.has_value() && *module_path != listed.module_path) {
      problems.push_back(absl::StrCat(DescribeNode(node), ": module path '",
                                      *module_path, "', ", sidecar_path,
                                      " says '", listed.module_path, "'"));
    }
  }
  return problems;
}

}  // namespace hp
