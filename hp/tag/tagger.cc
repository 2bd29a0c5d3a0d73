// The tagging pipeline, top to bottom: modules -> scopes -> tags ->
// propagation -> statistics -> writing.
#include "hp/tag/tagger.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
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
#include "hp/tag/computed_tags.h"
#include "hp/tag/module_tags.h"
#include "hp/tag/propagation.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/util/parallel.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

ModuleTable MakeModuleTable(const NodeList& nodes, const ScopeTrace* trace,
                            const TagOptions& options) {
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
  first.reserve(
      std::count(module_tags.kept.begin(), module_tags.kept.end(), true));
  std::vector<int> ids(module_tags.tag.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    // A module left out carries its owner's tag, and its owner comes
    // first: only kept modules' tags are hashed.
    const int owner = module_tags.owner[i];
    ids[i] = owner != static_cast<int>(i)
                 ? ids[owner]
                 : first.try_emplace(module_tags.tag[i], owner).first->second;
  }
  return ids;
}

// Per node, how its tag was found and its tag's id (TagIds).
TagStatistics CountMatches(const std::vector<uint8_t>& matches,
                           const std::vector<int>& tags, int modules) {
  TagStatistics statistics;
  statistics.nodes = static_cast<int64_t>(matches.size());
  statistics.modules = modules;
  std::vector<bool> seen(modules);
  for (int id : tags) {
    if (!seen[id]) ++statistics.tags;
    seen[id] = true;
  }
  MatchKindCounts counts{};
  for (uint8_t match : matches) ++counts[match];
  statistics.direct = counts[static_cast<size_t>(MatchKind::kDirect)];
  statistics.parent = counts[static_cast<size_t>(MatchKind::kParent)];
  statistics.root = counts[static_cast<size_t>(MatchKind::kRoot)];
  statistics.propagated = counts[static_cast<size_t>(MatchKind::kPropagated)];
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
struct NodeTagIds : NodeTagSource {
  // The nodes: read elsewhere (kept alive by the caller), else collected
  // here and owned.
  const NodeList* nodes_read = nullptr;
  NodeList owned_nodes;
  std::optional<ModuleTable> modules;  // set by ComputeTagIds
  ModuleTags module_tags;
  std::vector<int> module;  // per node: the module that ran it
  std::vector<int> tag;     // per node: its tag, an index into module_tags
  // Per node: its MatchKind, in a byte (a million nodes: 1 MB, not 4).
  std::vector<uint8_t> matches;

  const NodeList& nodes() const override {
    return nodes_read != nullptr ? *nodes_read : owned_nodes;
  }
  absl::string_view TagOf(size_t node) const {
    return module_tags.tag[tag[node]];
  }
  absl::string_view ModulePathOf(size_t node) const {
    return modules->at(module[node]).path;
  }
  MatchKind MatchKindOf(size_t node) const {
    return static_cast<MatchKind>(matches[node]);
  }
  NodeTagFacts FactsOf(size_t node) const override {
    return {TagOf(node), ModulePathOf(node), MatchKindOf(node)};
  }
};

// Everything of a TagResult but its modules and nodes, which ListModules and
// ListNodeTags spell out.
absl::StatusOr<TagResult> ComputeTagIds(const ScopeTrace* trace,
                                        const TagOptions& options,
                                        NodeTagIds* ids) {
  // Only names, dynamo metadata and value names are read: nothing hp
  // writes, so a tagged model gives the same tags as its original.
  const NodeList& nodes = ids->nodes();
  // A trace's module table may have been built already (TagModel's
  // `traced_modules`).
  if (!ids->modules.has_value()) {
    ids->modules.emplace(MakeModuleTable(nodes, trace, options));
  }
  const ModuleTable& modules = *ids->modules;
  const TagRules rules{options.keep_all_torch_nn,
                       options.keep_torch_nn_classes};
  // ReconstructScopes only reads a trace's table (others grow as node
  // names name modules): its tags are then resolved on another core
  // meanwhile, rather than on one core after it. Declared after `rules`:
  // waited for first, also on an early return.
  std::future<std::pair<ModuleTags, std::vector<int>>> resolving;
  auto resolve = [&modules, &rules] {
    ModuleTags tags = ResolveModuleTags(modules, rules);
    std::vector<int> tag_ids = TagIds(tags);
    return std::make_pair(std::move(tags), std::move(tag_ids));
  };
  if (modules.source() == HierarchySource::kTrace) {
    resolving = std::async(std::launch::async, resolve);
  }
  HP_ASSIGN_OR_RETURN(
      ScopeReconstruction scopes,
      ReconstructScopes(nodes, &*ids->modules, {options.first_candidate}));
  std::pair<ModuleTags, std::vector<int>> resolved =
      resolving.valid() ? resolving.get() : resolve();
  ids->module_tags = std::move(resolved.first);
  const std::vector<int> tag_ids = std::move(resolved.second);
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

  std::vector<int>& tags = ids->tag;
  std::vector<uint8_t>& matches = ids->matches;
  tags.resize(nodes.size());
  matches.resize(nodes.size());
  ids->module.resize(nodes.size());
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const NodeScope& scope = scopes.nodes[i];
      ids->module[i] = scope.module;
      matches[i] = static_cast<uint8_t>(MatchOf(scope, module_tags));
      tags[i] = tag_ids[scope.module];
    }
  });
  if (options.propagate) {
    // Bits, so filled on one thread.
    std::vector<bool> unscoped(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      unscoped[i] = matches[i] == static_cast<uint8_t>(MatchKind::kRoot);
    }
    std::vector<bool> moved = PropagateTags(nodes, unscoped, &tags);
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (moved[i]) matches[i] = static_cast<uint8_t>(MatchKind::kPropagated);
    }
  }

  result.statistics = CountMatches(matches, tags, modules.size());
  return result;
}

// The module instances of a result, as copies (a large graph's run to
// 20 MB: a writer of large files does not list them).
void ListModules(const NodeTagIds& ids, TagResult* result) {
  const ModuleTable& modules = *ids.modules;
  result->modules.reserve(modules.size());
  for (int i = 0; i < modules.size(); ++i) {
    const Module& module = modules.at(i);
    result->modules.push_back(
        {std::string(module.path), std::string(module.class_name),
         ids.module_tags.tag[i], bool(ids.module_tags.kept[i])});
  }
}

// Every node with its tag spelled out, for users of the public result:
// `tags` (a NodeTagIds or a ComputedTags) holds them per node of `nodes`.
template <typename Tags>
std::vector<NodeTag> ListNodeTags(const NodeList& nodes, const Tags& tags) {
  std::vector<NodeTag> listed(nodes.size());
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    NodeList::const_iterator it = nodes.At(begin);
    for (size_t i = begin; i < end; ++i, ++it) {
      const NodeRef ref = *it;
      NodeTag& node = listed[i];
      node.graph_path = std::string(ref.graph_path);
      node.node_name = std::string(ref.name);
      node.op_type = std::string(ref.op_type);
      node.module_path = std::string(tags.ModulePathOf(i));
      node.tag = std::string(tags.TagOf(i));
      node.match = tags.MatchKindOf(i);
    }
  });
  return listed;
}

}  // namespace

absl::StatusOr<ComputedTags> ComputeNodeTags(const NodeList& nodes,
                                             const ScopeTrace* trace,
                                             const TagOptions& options) {
  NodeTagIds ids;
  ids.nodes_read = &nodes;
  ComputedTags computed;
  HP_ASSIGN_OR_RETURN(computed.summary, ComputeTagIds(trace, options, &ids));
  ListModules(ids, &computed.summary);
  // Tag ids are the first module carrying each tag (TagIds): indices into
  // summary.modules as they are into the module table.
  computed.module = std::move(ids.module);
  computed.tag = std::move(ids.tag);
  computed.matches = std::move(ids.matches);
  return computed;
}

absl::StatusOr<TagResult> ComputeTags(const onnx::ModelProto& model,
                                      const ScopeTrace* trace,
                                      const TagOptions& options) {
  return ComputeTags(CollectNodes(model), trace, options);
}

absl::StatusOr<TagResult> ComputeTags(const NodeList& nodes,
                                      const ScopeTrace* trace,
                                      const TagOptions& options) {
  HP_ASSIGN_OR_RETURN(ComputedTags computed,
                      ComputeNodeTags(nodes, trace, options));
  // Listed before the summary moves out: the tags view its modules.
  std::vector<NodeTag> listed = ListNodeTags(nodes, computed);
  TagResult result = std::move(computed.summary);
  result.nodes = std::move(listed);
  return result;
}

absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options) {
  return TagModel(model, trace, options, nullptr);
}

TagOptions WithRecordedDigests(const onnx::ModelProto& model,
                               TagOptions options) {
  options.model_sha256 =
      RecordedModelSha256(model).value_or(options.model_sha256);
  options.model_structure_sha256 = RecordedModelStructureSha256(model).value_or(
      options.model_structure_sha256);
  return options;
}

absl::Status WriteNodeTags(std::shared_ptr<const NodeTagSource> source,
                           const NodeMessageOf& message_of,
                           const WriteOptions& write, bool append,
                           AppendedNodeTags* appended) {
  const NodeList& nodes = source->nodes();
  // Per node until the nodes are all written, then per main-graph node:
  // subgraph nodes (which stay 0) are dropped.
  std::vector<uint32_t> appended_bytes;
  // Per node, whether its appended bytes add a `namespace` (AppendsNamespace):
  // decided while its metadata views are at hand, so that the encoder,
  // which runs serially within the save, never looks the node up again.
  std::vector<uint8_t> with_namespace;
  if (append) {
    appended_bytes.assign(nodes.size(), 0);
    with_namespace.assign(nodes.size(), 0);
  }
  // Each node is its own message (the arena is thread-safe): slices are
  // written in parallel, and the first node in graph order that fails is
  // the one reported.
  std::mutex failure_mutex;
  size_t failed_at = std::numeric_limits<size_t>::max();
  absl::Status failure;
  // Counted here, where each node is at hand anyway.
  std::atomic<size_t> subgraph_nodes{0};
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    // A slice of plain records (NodeList::PlainRecords) is sized without
    // reading a node, as most graphs' slices are: each is written as a
    // node with nothing in it would be (no entries, unknown fields or
    // bodies), by the same rules.
    const NodeRef plain{};
    if (append && WriteOnlyAppends(plain, write) &&
        nodes.PlainRecords(begin, end)) {
      const bool namespaced = AppendsNamespace(plain, write);
      for (size_t i = begin; i < end; ++i) {
        with_namespace[i] = namespaced;
        appended_bytes[i] = static_cast<uint32_t>(
            NodeTagRecordsSize(source->FactsOf(i), namespaced));
      }
      return;
    }
    NodeList::const_iterator it = nodes.At(begin);
    size_t in_subgraphs = 0;
    for (size_t i = begin; i < end; ++i, ++it) {
      const NodeRef node = *it;
      in_subgraphs += node.owner >= 0 ? 1 : 0;
      const NodeTagFacts facts = source->FactsOf(i);
      // A node whose subgraph bodies get tags is itself changed by that.
      if (append && node.owner < 0 && WriteOnlyAppends(node, write) &&
          !node.owns_subgraphs) {
        with_namespace[i] = AppendsNamespace(node, write);
        appended_bytes[i] = static_cast<uint32_t>(
            NodeTagRecordsSize(facts, with_namespace[i] != 0));
        continue;
      }
      absl::StatusOr<onnx::NodeProto*> message = message_of(i);
      absl::Status written = message.ok() ? WriteNodeTag(*message, facts, write)
                                          : message.status();
      if (written.ok()) continue;
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (i < failed_at) {
        failed_at = i;
        failure = absl::Status(
            written.code(),
            absl::StrCat(node.graph_path, ": ", written.message()));
      }
      return;
    }
    subgraph_nodes += in_subgraphs;
  });
  HP_RETURN_IF_ERROR(failure);
  if (appended != nullptr) *appended = AppendedNodeTags();
  const bool any_appended =
      std::any_of(appended_bytes.begin(), appended_bytes.end(),
                  [](uint32_t size) { return size > 0; });
  if (append && any_appended) {
    // node_of_main[k]: the node at main-graph position k. Left empty when
    // no node is in a subgraph (most models): then it is k itself, and a
    // million nodes save its 4 MB.
    std::vector<int> node_of_main;
    const size_t main_nodes = nodes.size() - subgraph_nodes;
    if (main_nodes < nodes.size()) {
      node_of_main.reserve(main_nodes);
      size_t i = 0;
      for (const NodeRef& node : nodes) {
        if (node.owner < 0) {
          appended_bytes[node_of_main.size()] = appended_bytes[i];
          node_of_main.push_back(static_cast<int>(i));
        }
        ++i;
      }
      appended_bytes.resize(main_nodes);
      appended_bytes.shrink_to_fit();
    }
    // The encoder keeps the source, whose tables the facts view.
    struct Encoder {
      std::shared_ptr<const NodeTagSource> source;
      std::vector<int> node_of_main;
      std::vector<uint8_t> with_namespace;
    };
    auto kept = std::make_shared<const Encoder>(Encoder{
        std::move(source), std::move(node_of_main), std::move(with_namespace)});
    appended->sizes = std::move(appended_bytes);
    appended->encode = [kept](size_t k, char* target) {
      const Encoder& encoder = *kept;
      const size_t i = encoder.node_of_main.empty()
                           ? k
                           : static_cast<size_t>(encoder.node_of_main[k]);
      EncodeNodeTagRecords(encoder.source->FactsOf(i),
                           encoder.with_namespace[i] != 0, target);
    };
  }
  return absl::OkStatus();
}

namespace {

// Tags `nodes` (untagged by now) and writes the model's entries: a node's
// tag is appended to its record where `append` allows (AppendedNodeTags),
// else written into the message `message_of` gives for it.
absl::StatusOr<TagResult> WriteTags(onnx::ModelProto* model, NodeTagIds ids,
                                    const NodeMessageOf& message_of,
                                    const ScopeTrace* trace,
                                    const TagOptions& options, bool append,
                                    AppendedNodeTags* appended) {
  HP_ASSIGN_OR_RETURN(TagResult result, ComputeTagIds(trace, options, &ids));
  const WriteOptions write{options.format, options.write_namespace,
                           options.overwrite_namespace};
  auto source = std::make_shared<const NodeTagIds>(std::move(ids));
  HP_RETURN_IF_ERROR(
      WriteNodeTags(source, message_of, write, append, appended));
  std::vector<std::pair<std::string, std::string>> entries = {
      {kFormatKey, std::string(TagFormatName(options.format))},
      {kVersionKey, kVersion},
      {kSourceKey, std::string(HierarchySourceName(result.source))},
  };
  if (!options.model_sha256.empty()) {
    entries.push_back({kModelSha256Key, options.model_sha256});
  }
  if (!options.model_structure_sha256.empty()) {
    entries.push_back(
        {kModelStructureSha256Key, options.model_structure_sha256});
  }
  if (trace != nullptr) {
    entries.push_back({kTraceSha256Key, trace->text_sha256()});
  }
  entries.push_back(
      {kStatisticsKey, RecordedStatisticsJson(result.statistics)});
  entries.push_back({kOptionsKey, RecordedOptionsJson(options)});
  WriteModelMetadata(model, entries);
  // Callers that keep node tags out of the messages write files at scale
  // and list neither the nodes nor the modules.
  if (appended == nullptr) {
    ListModules(*source, &result);
    result.nodes = ListNodeTags(source->nodes(), *source);
  }
  return result;
}

}  // namespace

absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const ScopeTrace* trace,
                                   const TagOptions& options,
                                   AppendedNodeTags* appended,
                                   std::optional<ModuleTable> traced_modules) {
  const TagOptions kept = WithRecordedDigests(*model, options);
  // Stripping changes the nodes of a model tagged before: their bytes as
  // read are then no longer theirs.
  const bool append = appended != nullptr && !IsTagged(*model);
  HP_RETURN_IF_ERROR(StripTags(model));
  NodeTagIds ids;
  ids.owned_nodes = CollectNodes(*model);
  if (trace != nullptr) ids.modules = std::move(traced_modules);
  const std::vector<onnx::NodeProto*> messages = MutableNodes(model);
  return WriteTags(
      model, std::move(ids),
      [&](size_t i) -> absl::StatusOr<onnx::NodeProto*> { return messages[i]; },
      trace, kept, append, appended);
}

absl::StatusOr<TagResult> TagModel(onnx::ModelProto* model,
                                   const NodeList& nodes,
                                   const NodeMessageOf& message_of,
                                   const ScopeTrace* trace,
                                   const TagOptions& options,
                                   AppendedNodeTags* appended,
                                   std::optional<ModuleTable> traced_modules) {
  if (IsTagged(*model)) {
    return absl::FailedPreconditionError(
        "tagging nodes read as records needs an untagged model: a tagged "
        "one is stripped, which changes its node records");
  }
  NodeTagIds ids;
  ids.nodes_read = &nodes;
  if (trace != nullptr) ids.modules = std::move(traced_modules);
  return WriteTags(model, std::move(ids), message_of, trace,
                   WithRecordedDigests(*model, options), /*append=*/true,
                   appended);
}

}  // namespace hp
