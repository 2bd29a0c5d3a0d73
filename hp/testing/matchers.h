// GoogleTest matchers for models tagged by hp, for users' tests and hp's own.
//
//   EXPECT_THAT(model, hp::testing::EveryNodeIsTagged());
//   EXPECT_THAT(model, hp::testing::NodeHasTag(
//                          "/encoder/layer.0/attention/self/query/MatMul",
//                          "/BertModel/BertEncoder/BertLayer.0/BertAttention/"
//                          "BertSelfAttention"));
//   EXPECT_THAT(model, hp::testing::NoTagSharedByTwoModules(&trace));
//   EXPECT_THAT(*result, hp::testing::NoTagSharedByTwoModules());  // TagResult
//
// Tags are read in the format the model records (pkg.hp.tag_format: node
// metadata, the hierarchy_tag attribute or doc_string JSON); a model without
// that entry is read as the metadata format. Failure messages name the nodes
// (name, op type, graph) that fail, at most kMaxListedNodes of them.
#ifndef HP_TESTING_MATCHERS_H_
#define HP_TESTING_MATCHERS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "hp/hp.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"

namespace hp {
namespace testing {

inline constexpr int kMaxListedNodes = 10;

// One node's tag as the model carries it.
struct CarriedTag {
  std::string graph_path;  // as hp::CollectNodes names it: "main", ...
  std::string node_name;
  std::string op_type;
  bool tagged = false;  // a non-empty tag is present
  std::string tag;
  std::string module_path;  // "" in the attribute format, which has none
};

// Every node's carried tag, in hp::CollectNodes order (subgraph bodies right
// after their owners), so index i matches TagResult::nodes[i].
std::vector<CarriedTag> ReadCarriedTags(const onnx::ModelProto& model);

// Every node, subgraph nodes included, carries a non-empty tag.
::testing::Matcher<const onnx::ModelProto&> EveryNodeIsTagged();

// The model has a node named `node_name` (in any graph), and every node of
// that name carries a tag matching `tag`: a string ("/Net/Encoder") or a
// string matcher (StartsWith("/Net/")).
::testing::Matcher<const onnx::ModelProto&> NodeHasTag(
    absl::string_view node_name, ::testing::Matcher<const std::string&> tag);

// No two module instances that are each their own kept module share a tag.
//
// torch.nn modules (unless kept) and modules no scope names share their
// nearest kept ancestor's tag by design (docs/tag-rules.md, rule 2), so
// only kept modules count: tag rule 5 promises that each of them gets a
// tag of its own.
//
// On a TagResult the rule is checked on ModuleInfo::kept and ::tag as is.
::testing::Matcher<const TagResult&> NoTagSharedByTwoModules();

// On a tagged model the tags checked are those the model carries; which
// module each node belongs to, and which modules are kept, come from
// hp::ComputeTags on the model with `trace` (may be null: node names or
// dynamo metadata) and `options`. Pass the options the model was tagged
// with (keep lists matter: a module kept here but not at tagging time
// shares its parent's tag, which reads as a collision). Nodes placed by
// the root fallback or by propagation are left out: their tag is not their
// module's. A node counts for the nearest kept ancestor of its module.
::testing::Matcher<const onnx::ModelProto&> NoTagSharedByTwoModules(
    const ScopeTrace* trace, const TagOptions& options = TagOptions());

}  // namespace testing

// Short descriptions for GoogleTest's failure messages, instead of a dump of
// every field.
void PrintTo(const TagResult& result, std::ostream* os);

}  // namespace hp

namespace onnx {
void PrintTo(const ModelProto& model, std::ostream* os);
}  // namespace onnx

#endif  // HP_TESTING_MATCHERS_H_
