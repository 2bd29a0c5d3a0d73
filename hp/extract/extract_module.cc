#include "hp/extract/extract_module.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hp/tag/tag_types.h"
#include "hp/util/parallel.h"

namespace hp {
namespace {

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The few candidates nearest to `wanted`, closest first.
std::string Nearest(absl::string_view wanted,
                    std::vector<absl::string_view> candidates) {
  // Many nodes share a module path: each distinct one is scored once.
  absl::flat_hash_set<absl::string_view> distinct;
  std::vector<std::pair<size_t, absl::string_view>> scored;
  for (absl::string_view candidate : candidates) {
    if (!distinct.insert(candidate).second) continue;
    scored.push_back({EditDistance(wanted, candidate), candidate});
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> shown;
  for (size_t i = 0; i < scored.size() && i < 5; ++i) {
    shown.push_back(absl::StrCat("'", scored[i].second, "'"));
  }
  return absl::StrJoin(shown, ", ");
}

// Names a graph reads from the graphs around it: those its nodes (and
// their bodies) read that neither it declares nor its nodes produce.
void AddOuterNames(const onnx::GraphProto& graph,
                   std::vector<std::string>* names) {
  absl::flat_hash_set<absl::string_view> own;
  for (const onnx::ValueInfoProto& input : graph.input())
    own.insert(input.name());
  for (const onnx::TensorProto& tensor : graph.initializer()) {
    own.insert(tensor.name());
  }
  for (const onnx::SparseTensorProto& tensor : graph.sparse_initializer()) {
    own.insert(tensor.values().name());
  }
  for (const onnx::NodeProto& node : graph.node()) {
    std::vector<std::string> read(node.input().begin(), node.input().end());
    for (const onnx::AttributeProto& attribute : node.attribute()) {
      if (attribute.has_g()) AddOuterNames(attribute.g(), &read);
      for (const onnx::GraphProto& body : attribute.graphs()) {
        AddOuterNames(body, &read);
      }
    }
    for (const std::string& name : read) {
      if (!name.empty() && !own.contains(name)) names->push_back(name);
    }
    for (const std::string& output : node.output()) own.insert(output);
  }
}

// What a main-graph node reads: its inputs and its bodies' outer names.
std::vector<std::string> ReadsOf(const NodeRef& node) {
  std::vector<std::string> reads(node.inputs.begin(), node.inputs.end());
  if (node.owns_subgraphs && node.node != nullptr) {
    for (const onnx::AttributeProto& attribute : node.node->attribute()) {
      if (attribute.has_g()) AddOuterNames(attribute.g(), &reads);
      for (const onnx::GraphProto& body : attribute.graphs()) {
        AddOuterNames(body, &reads);
      }
    }
  }
  return reads;
}

int CommonAncestor(const ModuleTree& tree, int a, int b) {
  const std::vector<TreeModule>& modules = tree.modules();
  while (a >= 0 && b >= 0 && a != b) {
    if (modules[a].depth >= modules[b].depth) {
      a = modules[a].parent;
    } else {
      b = modules[b].parent;
    }
  }
  return a == b ? a : -1;
}

}  // namespace

absl::StatusOr<int> FindModule(const ModuleTree& tree, const StoredTags& stored,
                               absl::string_view tag,
                               absl::string_view module_path,
                               absl::string_view source) {
  std::vector<absl::string_view> candidates;
  if (!tag.empty()) {
    const int found = tree.Find(tag);
    if (found >= 0) return found;
    for (const TreeModule& module : tree.modules()) {
      candidates.push_back(module.tag);
    }
    return absl::NotFoundError(absl::StrCat(
        source, ": no module instance has the tag '", tag,
        "'; nearest: ", Nearest(tag, candidates),
        " (`converter analyze --model ", source, "` lists them all)"));
  }
  for (size_t i = 0; i < tree.modules().size(); ++i) {
    const TreeModule& module = tree.modules()[i];
    if (module.path.has_value() && *module.path == module_path) {
      return static_cast<int>(i);
    }
    if (module.path.has_value()) candidates.push_back(*module.path);
  }
  // A path the tree does not name (a module with no node of its own, such
  // as a layer whose ops all lie in its children): the deepest module
  // holding every node whose module path lies at or below it.
  const std::string below = absl::StrCat(module_path, ".");
  // Many nodes share a stored path: each distinct one is compared once.
  enum : uint8_t { kUnseen, kAtOrBelow, kElsewhere };
  std::vector<uint8_t> path_state(stored.texts.size(), kUnseen);
  int common = -1;
  const size_t count =
      std::min(stored.nodes.size(), tree.module_of_node().size());
  for (size_t i = 0; i < count; ++i) {
    const int32_t id = stored.nodes[i].module_path;
    if (id == StoredTag::kNone) continue;
    uint8_t& state = path_state[static_cast<size_t>(id)];
    if (state == kUnseen) {
      const absl::string_view path = *stored.Text(id);
      if (!path.empty()) candidates.push_back(path);
      state = path == module_path || absl::StartsWith(path, below) ? kAtOrBelow
                                                                   : kElsewhere;
    }
    const int module = tree.module_of_node()[i];
    if (state != kAtOrBelow || module < 0) continue;
    common = common < 0 ? module : CommonAncestor(tree, common, module);
  }
  if (common >= 0) return common;
  if (candidates.empty()) {
    // The attribute format stores tags alone.
    return absl::NotFoundError(absl::StrCat(
        source, ": no node records a module path",
        stored.format == TagFormat::kAttribute
            ? " (the attribute tag format stores none)"
            : "",
        ": name the module by its tag with --module (`converter analyze "
        "--model ",
        source, "` lists them)"));
  }
  return absl::NotFoundError(absl::StrCat(
      source, ": no module instance has the module path '", module_path,
      "'; nearest: ", Nearest(module_path, candidates),
      " (`converter analyze --model ", source, "` lists them all)"));
}

std::vector<bool> NodesInSubtree(const ModuleTree& tree, int module,
                                 const NodeList& nodes) {
  std::vector<bool> in_subtree(tree.modules().size(), false);
  std::vector<int> pending = {module};
  while (!pending.empty()) {
    const int at = pending.back();
    pending.pop_back();
    in_subtree[static_cast<size_t>(at)] = true;
    for (int child : tree.modules()[static_cast<size_t>(at)].children) {
      pending.push_back(child);
    }
  }
  std::vector<bool> inside(nodes.size(), false);
  const std::vector<int>& module_of = tree.module_of_node();
  NodeList::const_iterator it = nodes.begin();
  for (size_t i = 0; i < nodes.size() && i < module_of.size(); ++i, ++it) {
    inside[i] = module_of[i] >= 0 &&
                in_subtree[static_cast<size_t>(module_of[i])] &&
                (*it).owner < 0;
  }
  return inside;
}

std::vector<ModuleCut> CutModules(const onnx::GraphProto& graph,
                                  const NodeList& nodes,
                                  const std::vector<int>& cut_of,
                                  size_t count) {
  std::vector<ModuleCut> cuts(count);
  // Per cut: what its nodes made so far, and what they read before that,
  // in first-read order.
  std::vector<absl::flat_hash_set<absl::string_view>> produced(count);
  std::vector<std::vector<std::string>> reads_inside(count);
  std::vector<absl::flat_hash_set<std::string>> seen(count);
  // The cuts making each name (one, in a graph of single assignments).
  absl::flat_hash_map<absl::string_view, absl::InlinedVector<int, 1>> makers;
  // Per entry, the cut keeping it: a body's node goes with its owner, at
  // any depth.
  std::vector<int> kept(nodes.size(), -1);
  size_t position = 0;
  // Both passes give the pages of the records behind them back. The first
  // reads the records of the nodes cut only (and keeps views of their
  // outputs): their pages are mapped ahead of it where they are many (all
  // modules at a depth), not for one module's few.
  NodeReleaser releaser(nodes, 0);
  const size_t cut_nodes = static_cast<size_t>(std::count_if(
      cut_of.begin(), cut_of.end(), [](int c) { return c >= 0; }));
  std::optional<NodeReadAhead> ahead;
  if (cut_nodes > nodes.size() / 16) ahead.emplace(nodes);
  NodeList::const_iterator it = nodes.begin();
  for (size_t i = 0; i < nodes.size(); ++i, ++it) {
    releaser.Reached(i);
    if (ahead.has_value()) ahead->Reached(i);
    const NodeRef node = *it;
    if (node.owner >= 0) {
      kept[i] = kept[static_cast<size_t>(node.owner)];
      if (kept[i] >= 0) {
        cuts[static_cast<size_t>(kept[i])].ops.push_back(
            {std::string(node.domain), std::string(node.op_type)});
      }
      continue;
    }
    const size_t at = position++;
    const int c = i < cut_of.size() ? cut_of[i] : -1;
    kept[i] = c;
    if (c < 0) continue;
    ModuleCut& cut = cuts[static_cast<size_t>(c)];
    cut.positions.push_back(at);
    cut.list_nodes.push_back(i);
    cut.ops.push_back({std::string(node.domain), std::string(node.op_type)});
    for (std::string& name : ReadsOf(node)) {
      if (name.empty() || produced[c].contains(name)) continue;
      if (seen[c].insert(name).second)
        reads_inside[c].push_back(std::move(name));
    }
    for (absl::string_view output : node.outputs) {
      if (output.empty() || !produced[c].insert(output).second) continue;
      absl::InlinedVector<int, 1>& by = makers[output];
      by.push_back(c);
    }
  }
  // Read outside a cut: by a node it does not keep (of another cut or of
  // none), or as an output of the model. Of what those nodes read, only
  // what some cut makes is kept (a million-node graph's other names are
  // not copied).
  std::vector<absl::flat_hash_set<std::string>> read_outside(count);
  // The second reads every node's inputs from copies of the records
  // (RecordCopy), a run at a time, a slice per core: each slice gathers
  // what it finds apart, and the sets are joined after (only which names
  // they hold is read).
  ahead.reset();
  std::mutex joining;
  ForSlices(nodes.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
    std::vector<absl::flat_hash_set<std::string>> found(count);
    auto read_by = [&](absl::string_view name, int reader) {
      const auto made = makers.find(name);
      if (made == makers.end()) return;
      for (int maker : made->second) {
        if (maker != reader) found[static_cast<size_t>(maker)].emplace(name);
      }
    };
    NodeReleaser pages(nodes, begin);
    RecordCopy records(nodes);
    for (size_t i = begin; i < end; ++i) {
      records.Reached(i, end);
      pages.Reached(i);
      const NodeRef node = records[i];
      if (node.owner >= 0) continue;
      if (!node.owns_subgraphs) {
        for (absl::string_view name : node.inputs) read_by(name, kept[i]);
        continue;
      }
      for (const std::string& name : ReadsOf(node)) read_by(name, kept[i]);
    }
    const std::lock_guard<std::mutex> lock(joining);
    for (size_t c = 0; c < count; ++c) {
      if (read_outside[c].empty()) {
        read_outside[c] = std::move(found[c]);
      } else {
        read_outside[c].merge(found[c]);
      }
    }
  });
  absl::flat_hash_set<std::string> model_outputs;
  for (const onnx::ValueInfoProto& output : graph.output()) {
    model_outputs.insert(output.name());
  }

  absl::flat_hash_map<std::string, size_t> dense;
  absl::flat_hash_map<std::string, size_t> sparse;
  for (int k = 0; k < graph.initializer_size(); ++k) {
    dense.emplace(graph.initializer(k).name(), static_cast<size_t>(k));
  }
  for (int k = 0; k < graph.sparse_initializer_size(); ++k) {
    sparse.emplace(graph.sparse_initializer(k).values().name(),
                   static_cast<size_t>(k));
  }
  absl::flat_hash_set<std::string> model_inputs;
  for (const onnx::ValueInfoProto& input : graph.input()) {
    model_inputs.insert(input.name());
  }
  for (size_t c = 0; c < count; ++c) {
    ModuleCut& cut = cuts[c];
    absl::flat_hash_set<std::string> boundary;
    for (const std::string& name : reads_inside[c]) {
      const auto d = dense.find(name);
      const auto s = sparse.find(name);
      if (d != dense.end()) cut.initializers.push_back(d->second);
      if (s != sparse.end()) cut.sparse_initializers.push_back(s->second);
      // An initializer is an input only where the model lists it as one.
      if ((d == dense.end() && s == sparse.end()) ||
          model_inputs.contains(name)) {
        boundary.insert(name);
      }
    }
    std::sort(cut.initializers.begin(), cut.initializers.end());
    std::sort(cut.sparse_initializers.begin(), cut.sparse_initializers.end());
    for (const onnx::ValueInfoProto& input : graph.input()) {
      if (boundary.erase(input.name()) > 0) cut.inputs.push_back(input.name());
    }
    for (const std::string& name : reads_inside[c]) {
      if (boundary.contains(name)) cut.inputs.push_back(name);
    }

    absl::flat_hash_set<std::string> outputs;
    for (const onnx::ValueInfoProto& output : graph.output()) {
      if (produced[c].contains(output.name()) &&
          outputs.insert(output.name()).second) {
        cut.outputs.push_back(output.name());
      }
    }
    for (size_t i : cut.list_nodes) {
      for (absl::string_view name : nodes[i].outputs) {
        if (name.empty()) continue;
        const std::string output(name);
        if (read_outside[c].contains(output) ||
            model_outputs.contains(output)) {
          if (outputs.insert(output).second) cut.outputs.push_back(output);
        } else {
          cut.internal.push_back(output);
        }
      }
    }
  }
  return cuts;
}

ModuleCut CutModule(const onnx::GraphProto& graph, const NodeList& nodes,
                    const std::vector<bool>& inside) {
  std::vector<int> cut_of(inside.size(), -1);
  for (size_t i = 0; i < inside.size(); ++i) {
    if (inside[i]) cut_of[i] = 0;
  }
  return std::move(CutModules(graph, nodes, cut_of, 1)[0]);
}

}  // namespace hp
