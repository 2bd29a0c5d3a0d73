// Writing tags and taking exactly those writes back: hp/tag/tag_writer.h,
// directly and through hp::TagModel.
#include "hp/tag/tag_writer.h"

#include <deque>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/testing/matchers.h"
#include "hp/testing/model_builder.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::hp::testing::EveryNodeIsTagged;
using ::hp::testing::GraphBuilder;
using ::hp::testing::ModelBuilder;
using ::hp::testing::NodeHasTag;
using ::hp::testing::TraceBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr TagFormat kFormats[] = {TagFormat::kMetadata, TagFormat::kAttribute,
                                  TagFormat::kDocString};

std::vector<std::pair<std::string, std::string>> Metadata(
    const onnx::NodeProto& node) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (const onnx::StringStringEntryProto& entry : node.metadata_props()) {
    entries.emplace_back(entry.key(), entry.value());
  }
  return entries;
}

onnx::NodeProto NodeNamed(absl::string_view name) {
  onnx::NodeProto node;
  node.set_name(std::string(name));
  node.set_op_type("Relu");
  return node;
}

void AddMetadata(onnx::NodeProto* node, absl::string_view key,
                 absl::string_view value) {
  onnx::StringStringEntryProto* entry = node->add_metadata_props();
  entry->set_key(std::string(key));
  entry->set_value(std::string(value));
}

// Equality with a readable difference on failure.
::testing::AssertionResult SameModel(const onnx::ModelProto& a,
                                     const onnx::ModelProto& b) {
  std::string differences;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&differences);
  if (differencer.Compare(a, b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << differences;
}

TEST(WriteNodeTagTest, MetadataFormatWritesTagPathAndNamespace) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  ASSERT_TRUE(WriteNodeTag(&node,
                           {"/Net/Encoder", "encoder", MatchKind::kDirect},
                           WriteOptions())
                  .ok());
  EXPECT_THAT(Metadata(node), ElementsAre(Pair(kTagKey, "/Net/Encoder"),
                                          Pair(kModulePathKey, "encoder"),
                                          Pair(kMatchKey, "direct"),
                                          Pair(kNamespaceKey, "Net/Encoder")));
}

TEST(WriteNodeTagTest, NamespaceCanBeLeftOut) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  WriteOptions options;
  options.write_namespace = false;
  ASSERT_TRUE(WriteNodeTag(&node,
                           {"/Net/Encoder", "encoder", MatchKind::kDirect},
                           options)
                  .ok());
  EXPECT_THAT(Metadata(node), ElementsAre(Pair(kTagKey, "/Net/Encoder"),
                                          Pair(kModulePathKey, "encoder"),
                                          Pair(kMatchKey, "direct")));
}

TEST(WriteNodeTagTest, AnExistingNamespaceIsKeptUnlessOverwritten) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  AddMetadata(&node, kNamespaceKey, "theirs");
  ASSERT_TRUE(WriteNodeTag(&node,
                           {"/Net/Encoder", "encoder", MatchKind::kDirect},
                           WriteOptions())
                  .ok());
  EXPECT_THAT(
      Metadata(node),
      ElementsAre(Pair(kNamespaceKey, "theirs"), Pair(kTagKey, "/Net/Encoder"),
                  Pair(kModulePathKey, "encoder"), Pair(kMatchKey, "direct")));

  onnx::NodeProto overwritten = NodeNamed("/encoder/Relu");
  AddMetadata(&overwritten, kNamespaceKey, "theirs");
  WriteOptions options;
  options.overwrite_namespace = true;
  ASSERT_TRUE(WriteNodeTag(&overwritten,
                           {"/Net/Encoder", "encoder", MatchKind::kDirect},
                           options)
                  .ok());
  EXPECT_THAT(
      Metadata(overwritten),
      ElementsAre(Pair(kNamespaceKey, "Net/Encoder"),
                  Pair(kTagKey, "/Net/Encoder"),
                  Pair(kModulePathKey, "encoder"), Pair(kMatchKey, "direct"),
                  Pair(kOriginalNamespaceKey, "theirs")));
}

TEST(WriteNodeTagTest, RefusesToOverwriteWhatHpDidNotWrite) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  AddMetadata(&node, kTagKey, "/Other");
  absl::Status status =
      WriteNodeTag(&node, {"/Net", "", MatchKind::kDirect}, WriteOptions());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("node '/encoder/Relu' (Relu)"));

  onnx::NodeProto with_attribute = NodeNamed("/encoder/Relu");
  with_attribute.add_attribute()->set_name(kTagAttributeName);
  WriteOptions attribute;
  attribute.format = TagFormat::kAttribute;
  EXPECT_EQ(
      WriteNodeTag(&with_attribute, {"/Net", "", MatchKind::kDirect}, attribute)
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

// The splice path reads nodes as NodeRefs (hp/io/node_list.h); these take
// a message's.
NodeList Listed(const onnx::NodeProto& node) {
  NodeListBuilder nodes;
  nodes.AddMessage(node, "main", -1);
  return nodes.Finish();
}
bool WriteOnlyAppends(const onnx::NodeProto& node,
                      const WriteOptions& options) {
  return hp::WriteOnlyAppends(Listed(node)[0], options);
}
size_t NodeTagRecordsSize(const onnx::NodeProto& node,
                          const NodeTagFacts& facts,
                          const WriteOptions& options) {
  return hp::NodeTagRecordsSize(facts,
                                hp::AppendsNamespace(Listed(node)[0], options));
}
char* EncodeNodeTagRecords(const onnx::NodeProto& node,
                           const NodeTagFacts& facts,
                           const WriteOptions& options, char* target) {
  return hp::EncodeNodeTagRecords(
      facts, hp::AppendsNamespace(Listed(node)[0], options), target);
}

// What the splice writer relies on: for a node WriteOnlyAppends accepts,
// the bytes after WriteNodeTag are the bytes before, then the encoded
// records.
void ExpectEncodingEqualsWriting(const onnx::NodeProto& node,
                                 absl::string_view tag,
                                 absl::string_view module_path,
                                 const WriteOptions& options,
                                 MatchKind match = MatchKind::kDirect) {
  ASSERT_TRUE(WriteOnlyAppends(node, options));
  const NodeTagFacts facts{tag, module_path, match};
  std::string records(NodeTagRecordsSize(node, facts, options), '\0');
  char* end = EncodeNodeTagRecords(node, facts, options, records.data());
  EXPECT_EQ(end, records.data() + records.size());
  onnx::NodeProto written = node;
  ASSERT_TRUE(WriteNodeTag(&written, facts, options).ok());
  EXPECT_TRUE(written.SerializeAsString() == node.SerializeAsString() + records)
      << tag;
}

TEST(EncodeNodeTagRecordsTest, EqualsWritingTheTagOntoTheNode) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  node.add_input("x");
  node.add_output("y");
  ExpectEncodingEqualsWriting(node, "/Net/Encoder", "encoder", WriteOptions());
  // A root node: empty module path, still written.
  ExpectEncodingEqualsWriting(node, "/Net", "", WriteOptions(),
                              MatchKind::kRoot);
  ExpectEncodingEqualsWriting(node, "/Net/Encoder", "", WriteOptions(),
                              MatchKind::kPropagated);
  // Lengths past 127 take two-byte varints.
  const std::string deep = "/Net" + std::string(300, 'x');
  ExpectEncodingEqualsWriting(node, deep, std::string(200, 'p'),
                              WriteOptions());
  WriteOptions no_namespace;
  no_namespace.write_namespace = false;
  ExpectEncodingEqualsWriting(node, "/Net/Encoder", "encoder", no_namespace);
  // Entries the node has (dynamo's, a namespace of its own) stay first.
  onnx::NodeProto dynamo = node;
  AddMetadata(&dynamo, "pkg.torch.onnx.name_scopes", "['', 'encoder']");
  AddMetadata(&dynamo, kNamespaceKey, "theirs");
  ExpectEncodingEqualsWriting(dynamo, "/Net/Encoder", "encoder",
                              WriteOptions());
}

TEST(EncodeNodeTagRecordsTest, OnlyForWritesThatAppend) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  EXPECT_TRUE(WriteOnlyAppends(node, WriteOptions()));
  WriteOptions attribute;
  attribute.format = TagFormat::kAttribute;
  EXPECT_FALSE(WriteOnlyAppends(node, attribute));
  WriteOptions doc_string;
  doc_string.format = TagFormat::kDocString;
  EXPECT_FALSE(WriteOnlyAppends(node, doc_string));

  onnx::NodeProto tagged = node;
  AddMetadata(&tagged, kTagKey, "/Other");
  EXPECT_FALSE(WriteOnlyAppends(tagged, WriteOptions()));

  // Overwriting a namespace changes an entry in place.
  onnx::NodeProto named = node;
  AddMetadata(&named, kNamespaceKey, "theirs");
  WriteOptions overwrite;
  overwrite.overwrite_namespace = true;
  EXPECT_FALSE(WriteOnlyAppends(named, overwrite));
  EXPECT_TRUE(WriteOnlyAppends(node, overwrite));

  // Unknown fields serialize after metadata_props.
  onnx::NodeProto unknown;
  ASSERT_TRUE(unknown.ParseFromString(node.SerializeAsString() +
                                      std::string("\xa0\x06\x01", 3)));
  EXPECT_FALSE(WriteOnlyAppends(unknown, WriteOptions()));
}

TEST(WriteNodeTagTest, AttributeFormatWritesAStringAttribute) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  WriteOptions options;
  options.format = TagFormat::kAttribute;
  ASSERT_TRUE(WriteNodeTag(&node,
                           {"/Net/Encoder", "encoder", MatchKind::kDirect},
                           options)
                  .ok());
  ASSERT_EQ(node.attribute_size(), 2);
  EXPECT_EQ(node.attribute(0).name(), kTagAttributeName);
  EXPECT_EQ(node.attribute(0).type(), onnx::AttributeProto::STRING);
  EXPECT_EQ(node.attribute(0).s(), "/Net/Encoder");
  EXPECT_EQ(node.attribute(1).name(), kMatchAttributeName);
  EXPECT_EQ(node.attribute(1).s(), "direct");
  EXPECT_EQ(node.metadata_props_size(), 0);
  std::deque<std::string> kept;
  const WrittenTag read = ReadNodeTag(node, TagFormat::kAttribute, &kept);
  EXPECT_EQ(read.tag, "/Net/Encoder");
  EXPECT_EQ(read.match, "direct");
}

TEST(WriteNodeTagTest, DocStringFormatKeepsTheOriginalDocString) {
  onnx::NodeProto node = NodeNamed("/encoder/Relu");
  node.set_doc_string("their note");
  WriteOptions options;
  options.format = TagFormat::kDocString;
  ASSERT_TRUE(WriteNodeTag(&node,
                           {"/Net/Encoder", "encoder", MatchKind::kDirect},
                           options)
                  .ok());
  nlohmann::json doc = nlohmann::json::parse(node.doc_string());
  EXPECT_EQ(doc["hierarchy_tag"], "/Net/Encoder");
  EXPECT_EQ(doc["module_path"], "encoder");
  EXPECT_EQ(doc["match"], "direct");
  EXPECT_EQ(doc["original_doc_string"], "their note");
}

TEST(ParseTagFormatTest, NamesRoundTripAndUnknownNamesAreErrors) {
  for (TagFormat format : kFormats) {
    EXPECT_EQ(ParseTagFormat(TagFormatName(format)).value(), format);
  }
  absl::StatusOr<TagFormat> bad = ParseTagFormat("json");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'json'"));
}

// A model holding what tagging must preserve: a namespace and doc_string of
// its own, model metadata of its own, a subgraph.
onnx::ModelProto ModelWithItsOwnEntries() {
  return ModelBuilder()
      .Input("x")
      .Chain({"/encoder/Relu", "Constant_1"})
      .NodeMetadata(kNamespaceKey, "theirs")
      .NodeMetadata("their.key", "1")
      .DocString("their note")
      .Node("/encoder/If", "If", {"v2"}, {"y"})
      .Subgraph("then_branch",
                GraphBuilder("then").Node("Identity_3", "Identity"))
      .Output("y")
      .ModelMetadata("their.model.key", "kept")
      .Build();
}

ScopeTrace EncoderTrace() {
  absl::StatusOr<ScopeTrace> trace =
      TraceBuilder("Net").Module("encoder", "Encoder").Build();
  EXPECT_TRUE(trace.ok()) << trace.status();
  return *std::move(trace);
}

class TagModelTest
    : public ::testing::TestWithParam<std::tuple<TagFormat, bool>> {
 protected:
  TagOptions Options() const {
    TagOptions options;
    options.format = std::get<0>(GetParam());
    options.overwrite_namespace = std::get<1>(GetParam());
    return options;
  }
  onnx::ModelProto Tag(onnx::ModelProto model) {
    const ScopeTrace trace = EncoderTrace();
    absl::StatusOr<TagResult> result = TagModel(&model, &trace, Options());
    EXPECT_TRUE(result.ok()) << result.status();
    return model;
  }
};

TEST_P(TagModelTest, TagsEveryNodeIncludingSubgraphs) {
  onnx::ModelProto tagged = Tag(ModelWithItsOwnEntries());
  EXPECT_TRUE(IsTagged(tagged));
  EXPECT_THAT(tagged, EveryNodeIsTagged());
  EXPECT_THAT(tagged, NodeHasTag("Identity_3", "/Net/Encoder"));
  EXPECT_THAT(tagged, NodeHasTag("Constant_1", "/Net"));
}

TEST_P(TagModelTest, StripRestoresTheModelExactly) {
  const onnx::ModelProto original = ModelWithItsOwnEntries();
  onnx::ModelProto model = Tag(original);
  EXPECT_FALSE(SameModel(model, original));
  ASSERT_TRUE(StripTags(&model).ok());
  EXPECT_FALSE(IsTagged(model));
  EXPECT_TRUE(SameModel(model, original));
}

TEST_P(TagModelTest, TaggingTwiceEqualsTaggingOnce) {
  const onnx::ModelProto once = Tag(ModelWithItsOwnEntries());
  EXPECT_TRUE(SameModel(Tag(once), once));
}

TEST_P(TagModelTest, RetaggingInAnotherFormatEqualsTaggingOnceInIt) {
  for (TagFormat first : kFormats) {
    SCOPED_TRACE(TagFormatName(first));
    onnx::ModelProto model = ModelWithItsOwnEntries();
    const ScopeTrace trace = EncoderTrace();
    TagOptions options;
    options.format = first;
    ASSERT_TRUE(TagModel(&model, &trace, options).ok());
    EXPECT_TRUE(SameModel(Tag(model), Tag(ModelWithItsOwnEntries())));
  }
}

INSTANTIATE_TEST_SUITE_P(
    FormatsAndNamespace, TagModelTest,
    ::testing::Combine(::testing::ValuesIn(kFormats), ::testing::Bool()),
    [](const ::testing::TestParamInfo<TagModelTest::ParamType>& info) {
      return std::string(TagFormatName(std::get<0>(info.param))) +
             (std::get<1>(info.param) ? "_overwrite_namespace" : "");
    });

TEST(TagModelNamespaceTest, AnOverwrittenNamespaceComesBackOnStrip) {
  const onnx::ModelProto original = ModelWithItsOwnEntries();
  onnx::ModelProto model = original;
  const ScopeTrace trace = EncoderTrace();
  TagOptions options;
  options.overwrite_namespace = true;
  ASSERT_TRUE(TagModel(&model, &trace, options).ok());
  EXPECT_EQ(Metadata(model.graph().node(1))[0],
            std::make_pair(std::string(kNamespaceKey), std::string("Net")));
  ASSERT_TRUE(StripTags(&model).ok());
  EXPECT_EQ(Metadata(model.graph().node(1))[0],
            std::make_pair(std::string(kNamespaceKey), std::string("theirs")));
  EXPECT_TRUE(SameModel(model, original));
}

TEST(StripTagsTest, RestoresADocStringThatIsNotUtf8) {
  onnx::ModelProto original = ModelWithItsOwnEntries();
  original.mutable_graph()->mutable_node(1)->set_doc_string("caf\xe9");
  onnx::ModelProto model = original;
  const ScopeTrace trace = EncoderTrace();
  TagOptions options;
  options.format = TagFormat::kDocString;
  ASSERT_TRUE(TagModel(&model, &trace, options).ok());
  ASSERT_TRUE(StripTags(&model).ok());
  EXPECT_TRUE(SameModel(model, original));
}

TEST(StripTagsTest, LeavesAModelHpNeverTaggedUnchanged) {
  onnx::ModelProto model = ModelWithItsOwnEntries();
  AddMetadata(model.mutable_graph()->mutable_node(0), kTagKey, "/NotHp");
  const onnx::ModelProto before = model;
  ASSERT_TRUE(StripTags(&model).ok());
  EXPECT_TRUE(SameModel(model, before));
}

}  // namespace
}  // namespace hp
