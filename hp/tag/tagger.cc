// The tagging pipeline, top to bottom: modules -> scopes -> tags ->
// propagation -> statistics -> writing.
#include "hp/tag/tagger.h"

#include <algorithm>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "hp/model/graph_walk.h"
#include "hp/model/module_table.h"
#include "hp/scope/node_names.h"
#include "hp/scope/scope_reconstruction.h"
#include "hp/tag/appended_tags.h"
#include "hp/tag/module_tags.h"
#include "hp/tag/propagation.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/util/parallel.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

ModuleTable MakeModuleTable(const std::vector<NodeRef>& nodes,
                            const ScopeTrace* trace, const TagOptions& options) {
  if (trace != nullptr) return ModuleTableFromTrace(*trace);
  if (std::optional<std::string> root = DynamoRootClass(nodes)) {
    return ModuleTable(HierarchySource::kDynamoMetadata,
                       std::string(LastAtom(*root)), *root);
  }
  return ModuleTable(HierarchySource::kNodeNames, options.root_name, "");
}


MatchKind MatchOf(const NodeScope& scope, const ModuleTags& tags) {
  switch (scope.origin) {
    case ScopeOrigin::kNone:
      return MatchKind::kRoot;
    case ScopeOrigin::kNearestAncestor:
    case ScopeOrigin::kEnclosingNode:
      return MatchKind::kParent;
    case ScopeOrigin::kNodeName:
    case ScopeOrigin::kDynamoMetadata:
      return tags.kept[scope.module] ? MatchKind::kDirect : MatchKind::kParent;
  }
  return MatchKind::kRoot;
}

// One id per distinct tag: the first module that carries it. Nodes are
// compared and counted by these ids rather than by their tag strings.
std::vector<int> TagIds(const ModuleTags& module_tags) {
  absl::flat_hash_map<absl::string_view, int> first;
  std::vector<int> ids(module_tags.tag.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = first.try_emplace(module_tags.tag[i], static_cast<int>(i))
                 .first->second;
  }
  return ids;
}

// Per node, how its tag was found and its tag's id (TagIds).
TagStatistics CountMatches(const std::vector<MatchKind>& matches,
                           const std::vector<int>& tags, int modules) {
  TagStatistics statistics;
  statistics.nodes = static_cast<int64_t>(matches.size());
  statistics.modules = modules;
  std::vector<bool> seen(modules);
  for (int id : tags) {
    if (!seen[id]) ++statistics.tags;
    seen[id] = true;
  }
  for (MatchKind match : matches) {
    switch (match) {
      case MatchKind::kDirect:
        ++statistics.direct;
        break;
      case MatchKind::kParent:
        ++statistics.parent;
        break;
      case MatchKind::kRoot:
        ++statistics.root;
        break;
      case MatchKind::kPropagated:
        ++statistics.propagated;
        break;
    }
  }
  statistics.coverage =
      statistics.nodes == 0
          ? 1.0
          : static_cast<double>(statistics.nodes - statistics.root) /
                static_cast<double>(statistics.nodes);
  return statistics;
}

}  // namespace

std::optional<TagOptions> RecordedTagOptions(const onnx::ModelProto& model) {
  std::optional<std::string> text = ModelMetadataValue(model, kOptionsKey);
  if (!text) return std::nullopt;
  std::optional<TagOptions> options = ParseRecordedOptionsJson(*text);
  if (options) options->format = RecordedTagFormat(model);
  return options;
}

namespace {

// ComputeTags' work with every node's tag kept as indices into the tables
// (a million nodes' strings are the costliest part of a result).
struct NodeTagIds {
  std::vector<NodeRef> nodes;
  std::optional<ModuleTable> modules;  // set by ComputeTagIds
  ModuleTags module_tags;
  std::vector<int> module;  // per node: the module that ran it
  std::vector<int> tag;     // per node: its tag, an index into module_tags
  std::vector<MatchKind> matches;

  absl::string_view TagOf(size_t node) const {
    return module_tags.tag[tag[node]];
  }
  absl::string_view ModulePathOf(size_t node) const {
    return modules->at(module[node]).path;
  }
};

// Everything of a TagResult but its nodes, which FillNodeTags adds.
absl::StatusOr<TagResult> ComputeTagIds(const onnx::ModelProto& model, const ScopeTrace* trace,
                        const TagOptions& options, NodeTagIds* ids) {
  // Only names, dynamo metadata and value names are read: nothing hp
  // writes, so a tagged model gives the same tags as its original.
  // A trace's module table does not depend on the model: it is built on a
  // second thread while the nodes are collected.
  std::future<ModuleTable> traced_modules;
  if (trace != nullptr) {
    traced_modules =
        std::async(std::launch::async, ModuleTableFromTrace, std::cref(*trace));
  }
  std::vector<NodeRef>& nodes = ids->nodes;
  nodes = CollectNodes(model);

  ids->modules.emplace(traced_modules.valid()
                           ? traced_modules.get()
                           : MakeModuleTable(nodes, trace, options));
  const ModuleTable& modules = *ids->modules;
  HP_ASSIGN_OR_RETURN(
      ScopeReconstruction scopes,
      ReconstructScopes(nodes, &*ids->modules, {options.first_candidate}));
  ids->module_tags = ResolveModuleTags(
      modules, {options.keep_all_torch_nn, options.keep_torch_nn_classes});
  const ModuleTags& module_tags = ids->module_tags;

  TagResult result;
  result.source = modules.source();
  result.root_tag = module_tags.tag[0];
  result.warnings = std::move(scopes.warnings);
  if (!scopes.any_scope && !nodes.empty()) {
    result.warnings.push_back(
        "no node name carries a module scope (an export by torch older than "
        "1.13?): every node gets the root tag");
  }

  const std::vector<int> tag_ids = TagIds(module_tags);
  std::vector<int>& tags = ids->tag;
  std::vector<MatchKind>& matches = ids->matches;
  tags.resize(nodes.size());
  matches.resize(nodes.size());
  ids->module.resize(nodes.size());
  std::vector<bool> unscoped(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeScope& scope = scopes.nodes[i];
    ids->module[i] = scope.module;
    matches[i] = MatchOf(scope, module_tags);
    tags[i] = tag_ids[scope.module];
    unscoped[i] = matches[i] == MatchKind::kRoot;
  }
  if (options.propagate) {
    std::vector<bool> moved = PropagateTags(nodes, unscoped, &tags);
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (moved[i]) matches[i] = MatchKind::kPropagated;
    }
  }

  result.modules.reserve(modules.size());
  for (int i = 0; i < modules.size(); ++i) {
    const Module& module = modules.at(i);
    result.modules.push_back({module.path, module.class_name,
                              module_tags.tag[i], bool(module_tags.kept[i])});
  }
  result.statistics = CountMatches(matches, tags, modules.size());
  return result;
}

void FillNodeTags(const NodeTagIds& ids, TagResult* result) {
  result->nodes.resize(ids.nodes.size());
  ForSlices(ids.nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      NodeTag& node = result->nodes[i];
      node.graph_path = ids.nodes[i].graph_path;
      node.node_name = ids.nodes[i].node->name();
      node.op_type = ids.nodes[i].node->op_type();
      node.module_path = std::string(ids.ModulePathOf(i));
      node.tag = std::string(ids.TagOf(i));
      node.match = ids.matches[i];
    }
  });
}

}  // namespace

absl::StatusOr<TagResult> ComputeTags(const onnx::ModelProto& model,
                                      const ScopeTrace* trace,
                                      const TagOptions& options) {
  NodeTagIds ids;
  HP_ASSIGN_OR_RETURN(TagResult result,
                      ComputeTagIds(model, trace, options, &ids));
  FillNodeTags(ids, &result);
  return result;
}

absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options) {
  return TagModel(model, trace, options, nullptr);
}

absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options,
                                   AppendedNodeTags* appended) {
  const std::string model_sha256 =
      RecordedModelSha256(*model).value_or(options.model_sha256);
  const std::string model_structure_sha256 =
      RecordedModelStructureSha256(*model).value_or(
          options.model_structure_sha256);
  // Stripping changes the nodes of a model tagged before: their bytes as
  // read are then no longer theirs.
  const bool append = appended != nullptr && !IsTagged(*model);
  HP_RETURN_IF_ERROR(StripTags(model));
  NodeTagIds ids;
  HP_ASSIGN_OR_RETURN(TagResult result,
                      ComputeTagIds(*model, trace, options, &ids));
  const WriteOptions write{options.format, options.write_namespace,
                           options.overwrite_namespace};
  std::vector<onnx::NodeProto*> nodes = MutableNodes(model);
  // main_node[i]: the main-graph position of nodes[i], -1 in a subgraph.
  std::vector<int> main_node;
  std::vector<uint64_t> appended_bytes;
  if (append) {
    main_node.assign(nodes.size(), -1);
    int next = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (ids.nodes[i].owner < 0) main_node[i] = next++;
    }
    appended_bytes.assign(static_cast<size_t>(next), 0);
  }
  // Each node is its own message (the arena is thread-safe): slices are
  // written in parallel, and the first node in graph order that fails is
  // the one reported.
  std::mutex failure_mutex;
  size_t failed_at = std::numeric_limits<size_t>::max();
  absl::Status failure;
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const absl::string_view tag = ids.TagOf(i);
      const absl::string_view module_path = ids.ModulePathOf(i);
      // A node whose subgraph bodies get tags is itself changed by that.
      if (append && main_node[i] >= 0 && WriteOnlyAppends(*nodes[i], write) &&
          !OwnsSubgraphs(*nodes[i])) {
        appended_bytes[main_node[i]] =
            NodeTagRecordsSize(*nodes[i], tag, module_path, write);
        continue;
      }
      absl::Status written = WriteNodeTag(nodes[i], tag, module_path, write);
      if (written.ok()) continue;
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (i < failed_at) {
        failed_at = i;
        failure = absl::Status(
            written.code(),
            absl::StrCat(ids.nodes[i].graph_path, ": ", written.message()));
      }
      return;
    }
  });
  HP_RETURN_IF_ERROR(failure);
  if (appended != nullptr) *appended = AppendedNodeTags();
  if (append) {
    std::vector<uint64_t>& ends = appended->ends;
    ends.resize(appended_bytes.size());
    uint64_t total = 0;
    for (size_t k = 0; k < ends.size(); ++k) ends[k] = total += appended_bytes[k];
    if (total == 0) ends.clear();
    appended->buffer.reset(new char[total]);
    ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        const int k = main_node[i];
        if (k < 0 || appended_bytes[k] == 0) continue;
        EncodeNodeTagRecords(*nodes[i], ids.TagOf(i), ids.ModulePathOf(i),
                             write,
                             &appended->buffer[ends[k] - appended_bytes[k]]);
      }
    });
  }
  std::vector<std::pair<std::string, std::string>> entries = {
      {kFormatKey, std::string(TagFormatName(options.format))},
      {kVersionKey, kVersion},
      {kSourceKey, std::string(HierarchySourceName(result.source))},
  };
  if (!model_sha256.empty()) entries.push_back({kModelSha256Key, model_sha256});
  if (!model_structure_sha256.empty()) {
    entries.push_back({kModelStructureSha256Key, model_structure_sha256});
  }
  if (trace != nullptr) {
    entries.push_back({kTraceSha256Key, trace->text_sha256()});
  }
  entries.push_back({kStatisticsKey, RecordedStatisticsJson(result.statistics)});
  entries.push_back({kOptionsKey, RecordedOptionsJson(options)});
  WriteModelMetadata(model, entries);
  // Callers that keep node tags out of the messages write files at scale
  // and do not list the nodes.
  if (appended == nullptr) FillNodeTags(ids, &result);
  return result;
}

}  // namespace hp
