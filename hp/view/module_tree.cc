#include "hp/view/module_tree.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "hp/scope/node_names.h"
#include "hp/tag/tag_codec.h"

namespace hp {
namespace {

// docs/tag-rules.md: a component is Class, Class.N (list index N) or
// Class[relative.path] (collisions).
std::string ClassOfComponent(absl::string_view component) {
  const size_t bracket = component.find('[');
  if (bracket != absl::string_view::npos && !component.empty() &&
      component.back() == ']') {
    return std::string(component.substr(0, bracket));
  }
  const size_t dot = component.rfind('.');
  if (dot != absl::string_view::npos &&
      IsListIndex(component.substr(dot + 1))) {
    return std::string(component.substr(0, dot));
  }
  return std::string(component);
}

}  // namespace

std::optional<absl::string_view> ParentTag(absl::string_view tag) {
  const size_t slash = tag.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return std::nullopt;
  return tag.substr(0, slash);
}

namespace {

// Node i as hp computes its tag: its names from `node` (its op type kept
// in `op_types`), its tag from `computed`.
ShownNode ComputedNode(const NodeRef& node, const ComputedTags& computed,
                       size_t i, OpTypeTable* op_types) {
  ShownNode shown;
  shown.graph_path = node.graph_path;
  shown.node_name = node.name;
  shown.op_id = op_types->Intern(node.op_type);
  shown.op_type = op_types->Name(shown.op_id);
  shown.module_path = computed.ModulePathOf(i);
  shown.tag = computed.TagOf(i);
  shown.match = computed.MatchKindOf(i);
  return shown;
}

}  // namespace

int OpTypeTable::Intern(absl::string_view op_type) {
  if (last_ >= 0 && op_type == names_[static_cast<size_t>(last_)]) {
    return last_;
  }
  auto it = ids_.find(op_type);
  if (it == ids_.end()) {
    const int id = static_cast<int>(names_.size());
    it = ids_.emplace(names_.emplace_back(op_type), id).first;
  }
  last_ = it->second;
  return last_;
}

std::string DescribeNode(const ShownNode& node) {
  return DescribeNode(node.node_name, node.op_type, node.graph_path);
}

TagsToShow ComputedTagsToShow(const NodeList& nodes,
                              const ComputedTags& computed) {
  TagsToShow shown;
  shown.nodes.reserve(nodes.size());
  size_t i = 0;
  for (const NodeRef& node : nodes) {
    shown.nodes.push_back(ComputedNode(node, computed, i++, &shown.op_types));
  }
  shown.modules = computed.summary.modules;
  shown.source = computed.summary.source;
  shown.warnings = computed.summary.warnings;
  return shown;
}

absl::StatusOr<TagsToShow> StoredTagsToShow(const NodeList& nodes,
                                            const ComputedTags& computed,
                                            const StoredTags& stored) {
  if (computed.size() != stored.nodes.size() ||
      nodes.size() != computed.size()) {
    return absl::InternalError(absl::StrCat(
        "the computed tags cover ", computed.size(), " nodes, the stored ones ",
        stored.nodes.size(), ": not the same model"));
  }
  TagsToShow shown;
  shown.read_from_model = true;
  shown.modules = computed.summary.modules;
  shown.source = computed.summary.source;
  shown.nodes.reserve(nodes.size());
  int64_t differing = 0;
  size_t i = 0;
  for (const NodeRef& ref : nodes) {
    ShownNode node = ComputedNode(ref, computed, i, &shown.op_types);
    const std::optional<absl::string_view> tag = stored.Tag(i);
    const std::optional<absl::string_view> module_path = stored.ModulePath(i);
    node.tag = tag.value_or("");
    node.match_known = tag.has_value() && node.tag == computed.TagOf(i);
    if (module_path.has_value()) {
      node.module_path = *module_path;
    } else if (!node.match_known) {
      node.module_path = "";  // the attribute format has none
    }
    differing += node.match_known ? 0 : 1;
    shown.nodes.push_back(node);
    ++i;
  }
  if (differing > 0) {
    shown.warnings.push_back(absl::StrCat(
        differing, " of ", computed.size(),
        " nodes carry tags other than those hp computes now (hierarchy from ",
        HierarchySourceName(computed.summary.source),
        "), so how they were matched is unknown; pass the --trace and tag "
        "flags the model was tagged with"));
  }
  return shown;
}

TagsToShow StoredFactsToShow(const NodeList& nodes, const StoredTags& stored) {
  TagsToShow shown;
  shown.read_from_model = true;
  shown.stored_matches = true;
  shown.transferred = stored.source == kTransferSource;
  if (std::optional<HierarchySource> source =
          ParseHierarchySource(stored.source)) {
    shown.source = *source;
  }
  const size_t count = std::min(nodes.size(), stored.nodes.size());
  shown.modules = StoredModules(stored, count);
  shown.nodes.reserve(count);
  // Op types read from copies of the records (RecordCopy).
  RecordCopy records(nodes);
  NodeList::const_iterator it = nodes.begin();
  for (size_t i = 0; i < count; ++i, ++it) {
    records.Reached(i, count);
    const NodeRef ref = *it;
    ShownNode node;
    node.graph_path = ref.graph_path;
    node.node_name = ref.name;
    node.op_id = shown.op_types.Intern(records[i].op_type);
    node.op_type = shown.op_types.Name(node.op_id);
    node.tag = stored.Tag(i).value_or("");
    node.module_path = stored.ModulePath(i).value_or("");
    node.match_known = stored.matches[i].has_value();
    if (node.match_known) node.match = *stored.matches[i];
    shown.nodes.push_back(std::move(node));
  }
  if (!stored.matches_recorded && !nodes.empty()) {
    shown.warnings.push_back(absl::StrCat(
        "the model records no match kinds (tagged by hp ",
        stored.hp_version.empty() ? "of unknown version" : stored.hp_version,
        ", before they were stored); pass --trace to recompute them"));
  }
  return shown;
}

std::vector<ModuleInfo> StoredModules(const StoredTags& stored, size_t count) {
  std::vector<ModuleInfo> modules;
  // Views of the stored texts, which are in memory, not in the file.
  absl::flat_hash_set<absl::string_view> known_paths;
  // Neighbours mostly share a path: no lookup for those.
  int32_t last_path = StoredTag::kNone;
  for (size_t i = 0; i < count; ++i) {
    if (stored.matches[i] != MatchKind::kDirect ||
        stored.nodes[i].module_path == last_path) {
      continue;
    }
    const std::optional<absl::string_view> tag = stored.Tag(i);
    const std::optional<absl::string_view> path = stored.ModulePath(i);
    if (!path.has_value() || !tag.has_value() || tag->empty()) continue;
    last_path = stored.nodes[i].module_path;
    if (known_paths.emplace(*path).second) {
      modules.push_back(
          {std::string(*path), "", std::string(*tag), /*kept=*/true});
    }
  }
  return modules;
}

absl::Status CheckSameNodes(const NodeList& nodes, const TagsToShow& shown) {
  if (nodes.size() != shown.nodes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model has ", nodes.size(), " nodes, the tags describe ",
        shown.nodes.size(), ": not the same model"));
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ShownNode& tagged = shown.nodes[i];
    if (nodes[i].name != tagged.node_name ||
        nodes[i].op_type != tagged.op_type ||
        nodes[i].graph_path != tagged.graph_path) {
      return absl::InvalidArgumentError(
          absl::StrCat(DescribeNode(nodes[i]), ": the tags describe ",
                       DescribeNode(tagged), " there: not the same model"));
    }
  }
  return absl::OkStatus();
}

int ModuleTree::Find(absl::string_view tag) const {
  auto it = index_.find(tag);
  return it == index_.end() ? -1 : it->second;
}

int ModuleTree::Add(absl::string_view tag) {
  if (int found = Find(tag); found >= 0) return found;
  std::optional<absl::string_view> parent_tag = ParentTag(tag);
  const int parent = parent_tag.has_value() ? Add(*parent_tag) : -1;
  const int index = static_cast<int>(modules_.size());
  TreeModule module;
  module.tag = std::string(tag);
  module.component =
      std::string(parent_tag.has_value() ? tag.substr(parent_tag->size() + 1)
                                         : absl::StripPrefix(tag, "/"));
  module.class_name = ClassOfComponent(module.component);
  module.parent = parent;
  if (parent >= 0) {
    module.depth = modules_[parent].depth + 1;
    modules_[parent].children.push_back(index);
  } else {
    roots_.push_back(index);
  }
  modules_.push_back(std::move(module));
  index_.emplace(modules_.back().tag, index);
  return index;
}

ModuleTree ModuleTree::Build(const TagsToShow& shown) {
  return Build(shown.modules, shown.nodes.size(),
               [&](size_t i) { return shown.nodes[i].tag; });
}

ModuleTree ModuleTree::Build(
    const std::vector<ModuleInfo>& modules, size_t count,
    const std::function<absl::string_view(size_t)>& tag_of) {
  // Every tag a node carries, and its ancestors: views of tag_of's texts,
  // not copies (a million nodes' tags change every few nodes).
  absl::flat_hash_set<absl::string_view> carried;
  absl::string_view last_tag;
  for (size_t i = 0; i < count; ++i) {
    std::optional<absl::string_view> tag = tag_of(i);
    if (tag->empty() || *tag == last_tag) continue;
    last_tag = *tag;
    for (; tag.has_value(); tag = ParentTag(*tag)) {
      if (!carried.insert(*tag).second) break;
    }
  }

  ModuleTree tree;
  // Known modules first, in their order (the trace's: named_modules()), so
  // that siblings appear as the model declares them. A module that holds no
  // node joins only where its parent is in the tree: stored tags that differ
  // from the computed ones must not grow a second tree beside theirs.
  for (const ModuleInfo& module : modules) {
    if (!module.kept || module.tag.empty()) continue;
    std::optional<absl::string_view> parent = ParentTag(module.tag);
    const bool fits = carried.contains(module.tag) ||
                      (parent.has_value() && tree.Find(*parent) >= 0) ||
                      (!parent.has_value() && carried.empty());
    if (!fits) continue;
    TreeModule& added = tree.modules_[tree.Add(module.tag)];
    // Two kept modules with one tag (validate reports it): the first wins.
    if (added.path.has_value()) continue;
    added.path = module.path;
    if (!module.class_name.empty()) added.class_name = module.class_name;
  }

  tree.AddNodes(count, tag_of);
  return tree;
}

ModuleTree ModuleTree::FromNodeTags(
    size_t count, const std::function<absl::string_view(size_t)>& tag_of) {
  ModuleTree tree;
  tree.AddNodes(count, tag_of);
  return tree;
}

void ModuleTree::AddNodes(
    size_t count, const std::function<absl::string_view(size_t)>& tag_of) {
  module_of_node_.assign(count, -1);
  // Neighbours mostly share a tag, and a block's nodes take a few tags in
  // turn: the last few tags met need no lookup. They are known by where
  // their text lies (tag_of's views stay valid while the tree is built);
  // the same text elsewhere is looked up.
  struct Recent {
    const char* data = nullptr;
    size_t size = 0;
    int module = -1;
  };
  std::array<Recent, 4> recent;
  size_t replaced_next = 0;
  for (size_t i = 0; i < count; ++i) {
    const absl::string_view tag = tag_of(i);
    if (tag.empty()) continue;
    int module = -1;
    for (const Recent& seen : recent) {
      if (seen.data == tag.data() && seen.size == tag.size()) {
        module = seen.module;
        break;
      }
    }
    if (module < 0) {
      module = Add(tag);
      recent[replaced_next] = {tag.data(), tag.size(), module};
      replaced_next = (replaced_next + 1) % recent.size();
    }
    module_of_node_[i] = module;
    modules_[module].nodes.push_back(static_cast<int>(i));
  }
  // Children come after their parents, so one backward pass sums subtrees.
  for (int i = static_cast<int>(modules_.size()) - 1; i >= 0; --i) {
    TreeModule& module = modules_[i];
    module.subtree_nodes += static_cast<int64_t>(module.nodes.size());
    if (module.parent >= 0) {
      modules_[module.parent].subtree_nodes += module.subtree_nodes;
    }
  }
}

}  // namespace hp
