#include "hp/testing/matchers.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hp/model/graph_walk.h"
#include "hp/scope/node_names.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"

namespace hp {
namespace testing {
namespace {

std::string Describe(const CarriedTag& node) {
  return absl::StrCat("'", node.node_name, "' (", node.op_type, ") in ",
                      node.graph_path);
}

// "a, b, c and 4 more".
std::string ListSome(const std::vector<std::string>& items) {
  const size_t shown = std::min<size_t>(items.size(), kMaxListedNodes);
  std::string text = absl::StrJoin(items.begin(), items.begin() + shown, "; ");
  if (items.size() > shown) {
    absl::StrAppend(&text, "; and ", items.size() - shown, " more");
  }
  return text;
}

class EveryNodeIsTaggedMatcher
    : public ::testing::MatcherInterface<const onnx::ModelProto&> {
 public:
  bool MatchAndExplain(
      const onnx::ModelProto& model,
      ::testing::MatchResultListener* listener) const override {
    const std::vector<CarriedTag> nodes = ReadCarriedTags(model);
    std::vector<std::string> untagged;
    for (const CarriedTag& node : nodes) {
      if (!node.tagged) untagged.push_back(Describe(node));
    }
    const std::string format(TagFormatName(RecordedTagFormat(model)));
    if (untagged.empty()) {
      *listener << "all " << nodes.size() << " nodes carry a tag (" << format
                << " format)";
      return true;
    }
    *listener << untagged.size() << " of " << nodes.size()
              << " nodes carry no tag (" << format << " format"
              << (IsTagged(model) ? ""
                                  : "; the model has no pkg.hp.tag_format"
                                    " entry: not tagged by hp?")
              << "): " << ListSome(untagged);
    return false;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "is a model whose every node carries an hp tag";
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "is a model with at least one node without an hp tag";
  }
};

class NodeHasTagMatcher
    : public ::testing::MatcherInterface<const onnx::ModelProto&> {
 public:
  NodeHasTagMatcher(std::string node_name,
                    ::testing::Matcher<const std::string&> tag)
      : node_name_(std::move(node_name)), tag_(std::move(tag)) {}

  bool MatchAndExplain(
      const onnx::ModelProto& model,
      ::testing::MatchResultListener* listener) const override {
    std::vector<std::string> good, bad;
    for (const CarriedTag& node : ReadCarriedTags(model)) {
      if (node.node_name != node_name_) continue;
      ::testing::StringMatchResultListener tag_listener;
      const bool matches = tag_.MatchAndExplain(node.tag, &tag_listener);
      std::string line = absl::StrCat(
          "node ", Describe(node), " has ",
          node.tagged ? absl::StrCat("tag '", node.tag, "'") : "no tag");
      if (!tag_listener.str().empty()) {
        absl::StrAppend(&line, ", ", tag_listener.str());
      }
      (matches ? good : bad).push_back(std::move(line));
    }
    if (good.empty() && bad.empty()) {
      *listener << "the model has no node named '" << node_name_ << "'";
      return false;
    }
    *listener << ListSome(bad.empty() ? good : bad);
    return bad.empty();
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "has a node named '" << node_name_ << "' whose tag ";
    tag_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "has no node named '" << node_name_ << "' whose tag ";
    tag_.DescribeTo(os);
  }

 private:
  std::string node_name_;
  ::testing::Matcher<const std::string&> tag_;
};

// Kept modules by tag; reports every tag two or more of them share.
// `evidence` names, per module, something that shows its tag (a node).
bool ExplainSharedTags(
    const std::map<std::string, std::set<std::string>>& modules_by_tag,
    const absl::flat_hash_map<std::string, std::string>& evidence,
    ::testing::MatchResultListener* listener) {
  std::vector<std::string> shared;
  size_t kept = 0;
  for (const auto& [tag, paths] : modules_by_tag) {
    kept += paths.size();
    if (paths.size() < 2) continue;
    std::vector<std::string> named;
    for (const std::string& path : paths) {
      std::string item = absl::StrCat("'", path, "'");
      if (auto it = evidence.find(path); it != evidence.end()) {
        absl::StrAppend(&item, " (node ", it->second, ")");
      }
      named.push_back(std::move(item));
    }
    shared.push_back(absl::StrCat("tag '", tag, "' is shared by kept modules ",
                                  absl::StrJoin(named, ", ")));
  }
  if (shared.empty()) {
    *listener << kept << " kept modules, " << modules_by_tag.size()
              << " distinct tags";
    return true;
  }
  *listener << ListSome(shared);
  return false;
}

bool IsKept(const absl::flat_hash_map<std::string, bool>& kept,
            absl::string_view path) {
  auto it = kept.find(path);
  return it != kept.end() && it->second;
}

void DescribeNoSharedTag(std::ostream* os, bool negation) {
  *os << (negation ? "has two kept modules sharing one tag"
                   : "gives every kept module a tag of its own");
}

class NoSharedTagInResultMatcher
    : public ::testing::MatcherInterface<const TagResult&> {
 public:
  bool MatchAndExplain(
      const TagResult& result,
      ::testing::MatchResultListener* listener) const override {
    std::map<std::string, std::set<std::string>> modules_by_tag;
    for (const ModuleInfo& module : result.modules) {
      if (module.kept) modules_by_tag[module.tag].insert(module.path);
    }
    return ExplainSharedTags(modules_by_tag, {}, listener);
  }
  void DescribeTo(std::ostream* os) const override {
    DescribeNoSharedTag(os, false);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    DescribeNoSharedTag(os, true);
  }
};

class NoSharedTagInModelMatcher
    : public ::testing::MatcherInterface<const onnx::ModelProto&> {
 public:
  NoSharedTagInModelMatcher(const ScopeTrace* trace, TagOptions options)
      : options_(std::move(options)) {
    if (trace != nullptr) trace_.emplace(*trace);
  }

  bool MatchAndExplain(
      const onnx::ModelProto& model,
      ::testing::MatchResultListener* listener) const override {
    absl::StatusOr<TagResult> computed =
        ComputeTags(model, trace_ ? &*trace_ : nullptr, options_);
    if (!computed.ok()) {
      *listener << "hp::ComputeTags failed: " << computed.status();
      return false;
    }
    const std::vector<CarriedTag> carried = ReadCarriedTags(model);
    if (carried.size() != computed->nodes.size()) {
      *listener << "internal: " << carried.size() << " nodes read, "
                << computed->nodes.size() << " computed";
      return false;
    }
    absl::flat_hash_map<std::string, bool> kept;
    for (const ModuleInfo& module : computed->modules) {
      kept[module.path] = module.kept;
    }
    std::map<std::string, std::set<std::string>> modules_by_tag;
    absl::flat_hash_map<std::string, std::string> evidence;
    for (size_t i = 0; i < carried.size(); ++i) {
      const NodeTag& node = computed->nodes[i];
      if (node.match != MatchKind::kDirect &&
          node.match != MatchKind::kParent) {
        continue;
      }
      if (!carried[i].tagged) continue;  // EveryNodeIsTagged's concern
      absl::string_view owner = node.module_path;
      while (!owner.empty() && !IsKept(kept, owner)) owner = ParentPath(owner);
      const std::string owner_path(owner);
      modules_by_tag[carried[i].tag].insert(owner_path);
      evidence.try_emplace(owner_path, Describe(carried[i]));
    }
    return ExplainSharedTags(modules_by_tag, evidence, listener);
  }
  void DescribeTo(std::ostream* os) const override {
    DescribeNoSharedTag(os, false);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    DescribeNoSharedTag(os, true);
  }

 private:
  std::optional<ScopeTrace> trace_;
  TagOptions options_;
};

}  // namespace

std::vector<CarriedTag> ReadCarriedTags(const onnx::ModelProto& model) {
  const TagFormat format = RecordedTagFormat(model);
  std::vector<CarriedTag> result;
  std::deque<std::string> kept;
  for (const NodeRef& ref : CollectNodes(model)) {
    WrittenTag written = ReadNodeTag(*ref.node, format, &kept);
    CarriedTag carried;
    carried.graph_path = std::string(ref.graph_path);
    carried.node_name = std::string(ref.name);
    carried.op_type = std::string(ref.op_type);
    carried.tag = std::string(written.tag.value_or(""));
    carried.module_path = std::string(written.module_path.value_or(""));
    carried.tagged = !carried.tag.empty();
    result.push_back(std::move(carried));
  }
  return result;
}

::testing::Matcher<const onnx::ModelProto&> EveryNodeIsTagged() {
  return ::testing::MakeMatcher(new EveryNodeIsTaggedMatcher());
}

::testing::Matcher<const onnx::ModelProto&> NodeHasTag(
    absl::string_view node_name, ::testing::Matcher<const std::string&> tag) {
  return ::testing::MakeMatcher(
      new NodeHasTagMatcher(std::string(node_name), std::move(tag)));
}

::testing::Matcher<const TagResult&> NoTagSharedByTwoModules() {
  return ::testing::MakeMatcher(new NoSharedTagInResultMatcher());
}

::testing::Matcher<const onnx::ModelProto&> NoTagSharedByTwoModules(
    const ScopeTrace* trace, const TagOptions& options) {
  return ::testing::MakeMatcher(new NoSharedTagInModelMatcher(trace, options));
}

}  // namespace testing

void PrintTo(const TagResult& result, std::ostream* os) {
  *os << "TagResult{" << result.nodes.size() << " nodes, "
      << result.modules.size() << " modules, root tag '" << result.root_tag
      << "', from " << HierarchySourceName(result.source) << "}";
}

}  // namespace hp

namespace onnx {

void PrintTo(const ModelProto& model, std::ostream* os) {
  *os << "ModelProto{graph '" << model.graph().name() << "', "
      << model.graph().node_size() << " top-level nodes, "
      << (hp::IsTagged(model) ? "tagged by hp" : "not tagged by hp") << "}";
}

}  // namespace onnx
