#include "hp/scope/scope_reconstruction.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "hp/scope/node_names.h"

namespace hp {
namespace {

const std::string* FindMetadata(const onnx::NodeProto& node,
                                absl::string_view key) {
  for (const onnx::StringStringEntryProto& entry : node.metadata_props()) {
    if (entry.key() == key) return &entry.value();
  }
  return nullptr;
}

absl::string_view ClassNameOf(absl::string_view qualified_class) {
  return LastAtom(qualified_class);
}

// Resolves node-name scopes against a module table, one component at a time.
class ComponentResolver {
 public:
  explicit ComponentResolver(ModuleTable* modules) : modules_(modules) {}

  // The module the component names, called from `current` (reached through
  // the component `previous`), or -1 when the table has none and may not
  // grow.
  int Resolve(int current, absl::string_view previous,
              absl::string_view component) {
    const std::string& current_path = modules_->at(current).path;
    const bool traced = modules_->source() == ModuleTable::Source::kTrace;
    // A component that is a real module wins over a de-duplicated name, so
    // a module really named "relu_1" is told apart from a second "relu" call.
    for (bool overlap : {true, false}) {
      int found = modules_->Find(
          CandidatePath(current_path, previous, component, overlap));
      if (found >= 0) return found;
    }
    // A trace says which modules ran more than once; without one, a "_N"
    // name whose base module already ran is taken as its next call, since
    // the exporter numbers repeated scopes in call order.
    absl::string_view base = WithoutDedupSuffix(component);
    if (!base.empty()) {
      for (bool overlap : {true, false}) {
        int found = modules_->Find(
            CandidatePath(current_path, previous, base, overlap));
        if (found >= 0 && (!traced || modules_->at(found).call_count > 1)) {
          return found;
        }
      }
    }
    if (traced) return -1;
    return modules_->Add(
        {CandidatePath(current_path, previous, component, true)});
  }

 private:
  // nn.Sequential / nn.ModuleList children repeat their parent's component
  // ("/layer1/layer1.0"): such a component replaces the previous one.
  static std::string CandidatePath(absl::string_view current_path,
                                   absl::string_view previous,
                                   absl::string_view component,
                                   bool allow_overlap) {
    if (allow_overlap && !previous.empty() &&
        absl::StartsWith(component, absl::StrCat(previous, "."))) {
      absl::string_view stem = current_path.substr(
          0, current_path.size() - std::min(previous.size(), current_path.size()));
      absl::ConsumeSuffix(&stem, ".");
      return JoinPath(stem, component);
    }
    return JoinPath(current_path, component);
  }

  ModuleTable* modules_;
};

// The call chain (root first) named by a node's dynamo metadata, adding its
// modules to the table when it may grow. A table that may not grow cuts the
// chain before the first path it lacks, which goes to `missing`.
bool DynamoChain(const onnx::NodeProto& node, ModuleTable* modules,
                 std::vector<int>* chain, std::string* missing) {
  const std::string* scopes = FindMetadata(node, kDynamoNameScopesKey);
  if (scopes == nullptr) return false;
  std::optional<std::vector<std::string>> paths = ParsePythonStringList(*scopes);
  if (!paths || paths->empty()) return false;
  std::vector<std::string> classes;
  if (const std::string* hierarchy = FindMetadata(node, kDynamoClassHierarchyKey)) {
    classes = ParsePythonStringList(*hierarchy).value_or(std::vector<std::string>{});
  }
  chain->assign(1, 0);
  // The last entry is the FX node, not a module.
  for (size_t i = 1; i + 1 < paths->size(); ++i) {
    int index = modules->Find((*paths)[i]);
    if (index < 0 && modules->source() != ModuleTable::Source::kTrace) {
      Module module;
      module.path = (*paths)[i];
      if (i < classes.size()) {
        module.qualified_class = classes[i];
        module.class_name = std::string(ClassNameOf(classes[i]));
        module.is_torch_nn = absl::StartsWith(classes[i], "torch.nn.");
      }
      index = modules->Add(std::move(module));
    }
    if (index < 0) {
      *missing = (*paths)[i];
      break;
    }
    chain->push_back(index);
  }
  return true;
}

}  // namespace

void ScopeStack::Align(const std::vector<int>& chain) {
  size_t common = 1;  // The root is shared by every chain.
  while (common < stack_.size() && common < chain.size() &&
         stack_[common] == chain[common]) {
    ++common;
  }
  stack_.resize(common);
  stack_.insert(stack_.end(), chain.begin() + common, chain.end());
}

ScopeReconstruction ReconstructScopes(const std::vector<NodeRef>& nodes,
                                      ModuleTable* modules) {
  ScopeReconstruction result;
  result.nodes.resize(nodes.size());
  ComponentResolver resolver(modules);
  ScopeStack stack(0);
  // Call chains of nodes owning subgraphs, for their scope-less body nodes.
  absl::flat_hash_map<int, std::vector<int>> owner_chains;
  std::vector<int> chain;

  for (size_t i = 0; i < nodes.size(); ++i) {
    const onnx::NodeProto& node = *nodes[i].node;
    NodeScope& scope = result.nodes[i];
    chain.assign(1, 0);
    std::string missing;
    if (DynamoChain(node, modules, &chain, &missing)) {
      scope.origin = ScopeOrigin::kDynamoMetadata;
      result.any_scope = true;
      if (!missing.empty()) {
        scope.origin = ScopeOrigin::kNearestAncestor;
        result.warnings.push_back(absl::StrCat(
            "node '", node.name(), "' (", node.op_type(), "): module '",
            missing, "' of ", kDynamoNameScopesKey,
            " is not a module of the trace; tagged as its nearest traced "
            "ancestor '", modules->at(chain.back()).path, "'"));
      }
    } else if (NodeNameScope named = ParseNodeName(node.name()); named.has_scope) {
      result.any_scope = true;
      scope.origin = ScopeOrigin::kNodeName;
      absl::string_view previous;
      for (const std::string& component : named.components) {
        int next = resolver.Resolve(chain.back(), previous, component);
        if (next < 0) {
          scope.origin = ScopeOrigin::kNearestAncestor;
          result.warnings.push_back(absl::StrCat(
              "node '", node.name(), "' (", node.op_type(), "): scope '",
              component, "' under '", modules->at(chain.back()).path,
              "' is not a module of the trace; tagged as its nearest traced "
              "ancestor"));
          break;
        }
        chain.push_back(next);
        previous = component;
      }
    } else if (nodes[i].owner >= 0) {
      scope.origin = ScopeOrigin::kEnclosingNode;
      auto owner_chain = owner_chains.find(nodes[i].owner);
      if (owner_chain != owner_chains.end()) chain = owner_chain->second;
    }
    stack.Align(chain);
    scope.module = stack.top();
    if (node.attribute_size() > 0 &&
        std::any_of(node.attribute().begin(), node.attribute().end(),
                    [](const onnx::AttributeProto& a) {
                      return a.has_g() || a.graphs_size() > 0;
                    })) {
      owner_chains[static_cast<int>(i)] = stack.frames();
    }
  }
  return result;
}

std::optional<std::string> DynamoRootClass(const std::vector<NodeRef>& nodes) {
  for (const NodeRef& ref : nodes) {
    const std::string* hierarchy =
        FindMetadata(*ref.node, kDynamoClassHierarchyKey);
    if (hierarchy == nullptr) continue;
    std::optional<std::vector<std::string>> classes =
        ParsePythonStringList(*hierarchy);
    if (classes && !classes->empty()) return classes->front();
  }
  return std::nullopt;
}

std::optional<std::vector<std::string>> ParsePythonStringList(
    absl::string_view text) {
  std::vector<std::string> items;
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) ++pos;
  };
  skip_space();
  if (pos >= text.size() || text[pos] != '[') return std::nullopt;
  ++pos;
  skip_space();
  if (pos < text.size() && text[pos] == ']') return items;
  while (pos < text.size()) {
    const char quote = text[pos];
    if (quote != '\'' && quote != '"') return std::nullopt;
    ++pos;
    std::string item;
    while (pos < text.size() && text[pos] != quote) {
      if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
      item.push_back(text[pos++]);
    }
    if (pos >= text.size()) return std::nullopt;
    ++pos;  // closing quote
    items.push_back(std::move(item));
    skip_space();
    if (pos < text.size() && text[pos] == ']') return items;
    if (pos >= text.size() || text[pos] != ',') return std::nullopt;
    ++pos;
    skip_space();
  }
  return std::nullopt;
}

}  // namespace hp
