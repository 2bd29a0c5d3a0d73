// A node read from its record gives the same views as the node parsed into
// a message; a malformed record is refused and leaves nothing behind.
#include "hp/io/node_list.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/onnx.pb.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

using ::hp::wire_format::BytesField;
using ::hp::wire_format::VarintField;
using ::testing::ElementsAre;

std::vector<std::string> Strings(const NodeValueNames& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

const uint8_t* Data(const std::string& bytes) {
  return reinterpret_cast<const uint8_t*>(bytes.data());
}

// Both readings of `node`, serialized as `bytes`.
void ExpectRecordReadsAsMessage(const onnx::NodeProto& node,
                                const std::string& bytes) {
  NodeListBuilder from_message;
  from_message.AddMessage(node, "main", -1);
  NodeListBuilder from_record;
  bool needs_message = true;
  ASSERT_TRUE(
      from_record.AddRecord(Data(bytes), {0, bytes.size()}, &needs_message));
  EXPECT_FALSE(needs_message);
  const NodeList expected = from_message.Finish();
  const NodeList read = from_record.Finish();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].name, expected[0].name);
  EXPECT_EQ(read[0].op_type, expected[0].op_type);
  EXPECT_EQ(read[0].domain, expected[0].domain);
  EXPECT_EQ(Strings(read[0].inputs), Strings(expected[0].inputs));
  EXPECT_EQ(Strings(read[0].outputs), Strings(expected[0].outputs));
  ASSERT_EQ(read[0].metadata.size(), expected[0].metadata.size());
  for (size_t i = 0; i < read[0].metadata.size(); ++i) {
    EXPECT_EQ(read[0].metadata[i].key, expected[0].metadata[i].key);
    EXPECT_EQ(read[0].metadata[i].value, expected[0].metadata[i].value);
  }
  EXPECT_EQ(read[0].has_unknown_fields, expected[0].has_unknown_fields);
  EXPECT_EQ(read[0].owns_subgraphs, expected[0].owns_subgraphs);
  EXPECT_EQ(read[0].node, nullptr);
  EXPECT_EQ(read[0].graph_path, "main");
}

onnx::NodeProto Node() {
  onnx::NodeProto node;
  node.set_name("/encoder/layer.0/MatMul");
  node.set_op_type("MatMul");
  node.set_domain("ai.onnx");
  node.add_input("x");
  node.add_input("");  // an omitted optional input
  node.add_input("w");
  node.add_output("y");
  node.set_doc_string("doc");
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name("alpha");
  attribute->set_type(onnx::AttributeProto::FLOAT);
  attribute->set_f(0.5f);
  onnx::StringStringEntryProto* entry = node.add_metadata_props();
  entry->set_key("namespace");
  entry->set_value("theirs");
  entry = node.add_metadata_props();
  entry->set_key("pkg.torch.onnx.name_scopes");
  entry->set_value("['', 'encoder']");
  return node;
}

TEST(NodeListTest, ARecordReadsAsItsMessage) {
  const onnx::NodeProto node = Node();
  ExpectRecordReadsAsMessage(node, node.SerializeAsString());
  ExpectRecordReadsAsMessage(onnx::NodeProto(), "");
}

TEST(NodeListTest, FieldOrderAndRepeatsReadAsProtobufParsesThem) {
  // Out of field order, the name twice (the last one counts), outputs
  // between inputs.
  const std::string bytes = BytesField(3, "first") + BytesField(1, "a") +
                            BytesField(2, "out") + BytesField(1, "b") +
                            BytesField(4, "Add") + BytesField(3, "/x/Add");
  onnx::NodeProto node;
  ASSERT_TRUE(node.ParseFromString(bytes));
  ExpectRecordReadsAsMessage(node, bytes);
  NodeListBuilder builder;
  bool needs_message = false;
  ASSERT_TRUE(
      builder.AddRecord(Data(bytes), {0, bytes.size()}, &needs_message));
  const NodeList read = builder.Finish();
  EXPECT_EQ(read[0].name, "/x/Add");
  EXPECT_THAT(Strings(read[0].inputs), ElementsAre("a", "b"));
}

TEST(NodeListTest, UnknownFieldsAreNoted) {
  const onnx::NodeProto node = Node();
  // Field 20 (unknown), and field 1 as a varint: protobuf keeps both as
  // unknown fields.
  for (const std::string& extra : {VarintField(20, 1), VarintField(1, 7)}) {
    const std::string bytes = node.SerializeAsString() + extra;
    onnx::NodeProto parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    ExpectRecordReadsAsMessage(parsed, bytes);
  }
}

TEST(NodeListTest, SubgraphsAndExternalTensorsNeedTheMessage) {
  onnx::NodeProto owner = Node();
  onnx::AttributeProto* branch = owner.add_attribute();
  branch->set_name("then_branch");
  branch->set_type(onnx::AttributeProto::GRAPH);
  branch->mutable_g()->add_node()->set_name("/inner/Relu");
  onnx::NodeProto constant = Node();
  onnx::TensorProto* tensor = constant.add_attribute()->mutable_t();
  tensor->set_data_location(onnx::TensorProto::EXTERNAL);
  for (const onnx::NodeProto& node : {owner, constant}) {
    const std::string bytes = node.SerializeAsString();
    NodeListBuilder builder;
    bool needs_message = false;
    ASSERT_TRUE(
        builder.AddRecord(Data(bytes), {0, bytes.size()}, &needs_message));
    EXPECT_TRUE(needs_message);
  }
  // As a message, the owner's body follows it.
  NodeListBuilder builder;
  builder.AddMessage(owner, "main", -1);
  const NodeList nodes = builder.Finish();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_TRUE(nodes[0].owns_subgraphs);
  EXPECT_EQ(nodes[1].name, "/inner/Relu");
  EXPECT_EQ(nodes[1].owner, 0);
  EXPECT_EQ(nodes[1].graph_path, "main//encoder/layer.0/MatMul/then_branch");
}

TEST(NodeListTest, AMalformedRecordIsRefusedAndLeavesNothing) {
  const std::string good = Node().SerializeAsString();
  std::vector<std::string> bad = {
      good.substr(0, good.size() - 1),  // cut inside the last entry
      BytesField(1, "x").substr(0, 2),  // a length past the end
      BytesField(5, BytesField(1, "a").substr(0, 2)),  // a broken attribute
      BytesField(9, BytesField(1, "k").substr(0, 2)),  // a broken entry
      std::string("\x0f", 1),                          // wire type 7
  };
  for (const std::string& bytes : bad) {
    onnx::NodeProto parsed;
    EXPECT_FALSE(parsed.ParseFromString(bytes));
    NodeListBuilder builder;
    bool needs_message = false;
    ASSERT_TRUE(
        builder.AddRecord(Data(good), {0, good.size()}, &needs_message));
    EXPECT_FALSE(
        builder.AddRecord(Data(bytes), {0, bytes.size()}, &needs_message));
    const NodeList nodes = builder.Finish();
    ASSERT_EQ(nodes.size(), 1u);
    EXPECT_EQ(nodes[0].inputs.size(), 3u);
    EXPECT_EQ(nodes[0].metadata.size(), 2u);
  }
}

TEST(NodeListTest, AppendedListsKeepTheirOwnersAndViews) {
  onnx::NodeProto owner = Node();
  owner.add_attribute()->mutable_g()->add_node()->set_name("body");
  std::vector<NodeListBuilder> parts(2);
  parts[0].AddMessage(Node(), "main", -1);
  parts[1].AddMessage(owner, "main", -1);
  const NodeList nodes = NodeListBuilder::Join(&parts);
  EXPECT_TRUE(parts.empty());
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[2].owner, 1);
  EXPECT_THAT(Strings(nodes[1].inputs), ElementsAre("x", "", "w"));
  EXPECT_TRUE(nodes[2].inputs.empty());
  EXPECT_EQ(nodes[1].FindMetadata("namespace")->compare("theirs"), 0);
  EXPECT_FALSE(nodes[2].FindMetadata("namespace").has_value());
}

// Forgetting the entries' places leaves every other view as it was, for
// record and message nodes alike; a reserved builder reads the same.
TEST(NodeListTest, ForgottenMetadataLeavesTheRestOfEachNode) {
  const onnx::NodeProto message = Node();  // outlives the list
  const std::string bytes = message.SerializeAsString();
  std::vector<NodeListBuilder> parts(2);
  parts[0].Reserve(2, nullptr);
  bool needs_message = true;
  ASSERT_TRUE(
      parts[0].AddRecord(Data(bytes), {0, bytes.size()}, &needs_message));
  parts[1].Reserve(1, &parts[0]);
  parts[1].AddMessage(message, "main", -1);
  NodeList nodes = NodeListBuilder::Join(&parts);
  ASSERT_EQ(nodes.size(), 2u);
  ASSERT_EQ(nodes[0].metadata.size(), 2u);
  ASSERT_EQ(nodes[1].metadata.size(), 2u);
  nodes.ForgetMetadata();
  for (size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_TRUE(nodes[i].metadata.empty());
    EXPECT_FALSE(nodes[i].FindMetadata("namespace").has_value());
    EXPECT_EQ(nodes[i].name, "/encoder/layer.0/MatMul");
    EXPECT_EQ(nodes[i].op_type, "MatMul");
    EXPECT_THAT(Strings(nodes[i].inputs), ElementsAre("x", "", "w"));
    EXPECT_THAT(Strings(nodes[i].outputs), ElementsAre("y"));
  }
}

// Node i is found in its segment, by index and by iterating, whatever the
// segments' sizes (empty ones included).
TEST(NodeListTest, IndexFindsEveryNodeWhateverTheSegmentSizes) {
  for (const std::vector<int>& sizes : std::vector<std::vector<int>>{
           {4, 4, 4, 1}, {4, 4, 0}, {2, 3, 2}, {4, 4, 5}, {0, 3, 1}, {7}}) {
    std::vector<NodeListBuilder> parts(sizes.size());
    std::deque<onnx::NodeProto> messages;  // outlive the list
    int count = 0;
    for (size_t p = 0; p < sizes.size(); ++p) {
      for (int k = 0; k < sizes[p]; ++k) {
        messages.emplace_back().set_name(absl::StrCat("n", count++));
        parts[p].AddMessage(messages.back(), "main", -1);
      }
    }
    const NodeList nodes = NodeListBuilder::Join(&parts);
    ASSERT_EQ(nodes.size(), static_cast<size_t>(count));
    int at = 0;
    for (const NodeRef& node : nodes) {
      EXPECT_EQ(node.name, absl::StrCat("n", at));
      EXPECT_EQ(nodes[at].name, absl::StrCat("n", at));
      ++at;
    }
    EXPECT_EQ(at, count);
  }
}

// A slice of records whose tables would pass a segment's 32-bit places
// goes on in a new segment: read with room for a few places only, every
// node (those owning subgraph bodies and their bodies' nodes too) reads as
// with the real limit.
TEST(NodeListTest, RecordsPastASegmentsPlacesGoOnInANewSegment) {
  std::string file;
  std::vector<ByteRange> records;
  for (int i = 0; i < 25000; ++i) {
    onnx::NodeProto node = Node();
    node.set_name(absl::StrCat("/layer.", i, "/MatMul"));
    node.add_output(absl::StrCat("t", i));
    if (i % 5000 == 7) {
      onnx::AttributeProto* branch = node.add_attribute();
      branch->set_name("then_branch");
      branch->set_type(onnx::AttributeProto::GRAPH);
      branch->mutable_g()->add_node()->add_input(absl::StrCat("in", i));
    }
    const std::string bytes = node.SerializeAsString();
    records.push_back({file.size(), file.size() + bytes.size()});
    file += bytes;
  }
  auto read = [&](uint64_t max_places, google::protobuf::Arena* arena,
                  NodeList* nodes) {
    ParsedNodes parsed;
    ASSERT_TRUE(ReadNodeRecords(Data(file), records, arena, nodes, &parsed,
                                nullptr, max_places));
  };
  google::protobuf::Arena arena;
  NodeList expected;
  read(kMaxSegmentPlaces, &arena, &expected);
  ASSERT_EQ(expected.size(), 25005u);
  // A node a segment (each record here might take over 64 places), then
  // some dozens.
  for (const uint64_t max_places : {64, 400}) {
    NodeList nodes;
    read(max_places, &arena, &nodes);
    ASSERT_EQ(nodes.size(), expected.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      const NodeRef node = nodes[i];
      const NodeRef want = expected[i];
      ASSERT_EQ(node.name, want.name) << i;
      EXPECT_EQ(Strings(node.inputs), Strings(want.inputs)) << i;
      EXPECT_EQ(Strings(node.outputs), Strings(want.outputs)) << i;
      ASSERT_EQ(node.metadata.size(), want.metadata.size()) << i;
      for (size_t k = 0; k < node.metadata.size(); ++k) {
        EXPECT_EQ(node.metadata[k].value, want.metadata[k].value) << i;
      }
      EXPECT_EQ(node.owner, want.owner) << i;
      EXPECT_EQ(node.graph_path, want.graph_path) << i;
    }
    // Each body's node follows its owner: record 20007 is node 20011.
    EXPECT_EQ(nodes[8].owner, 7);
    EXPECT_THAT(Strings(nodes[8].inputs), ElementsAre("in7"));
    EXPECT_EQ(nodes[20012].owner, 20011);
    EXPECT_THAT(Strings(nodes[20012].inputs), ElementsAre("in20007"));
  }
}

TEST(NodeListTest, ScopeOfANameIsAllBeforeItsOp) {
  EXPECT_EQ(ScopeOfName("/encoder/layer.0/MatMul"), "/encoder/layer.0");
  EXPECT_EQ(ScopeOfName("/Cast"), "");
  EXPECT_EQ(ScopeOfName("Cast_3"), std::nullopt);
  EXPECT_EQ(ScopeOfName(""), std::nullopt);
}

// Read with keep_name_scopes, each node's name scope is an id of its
// segment: nodes of a segment share an id exactly where their scopes are
// the same text, whether found among the last few scopes or not.
TEST(NodeListTest, KeptNameScopesAreOneIdPerScopeInASegment) {
  const std::vector<std::string> ops = {"q", "k", "v", "q", "mlp", "q"};
  std::string file;
  std::vector<ByteRange> records;
  std::vector<std::string> names;
  for (int layer = 0; layer < 40; ++layer) {
    for (size_t k = 0; k < ops.size() + 3; ++k) {
      onnx::NodeProto node = Node();
      if (k < ops.size()) {
        node.set_name(absl::StrCat("/layers.", layer, "/", ops[k], "/Op", k));
      } else {
        // A name without scopes, one at the top, one without any name.
        node.set_name(k == ops.size()       ? "Cast_3"
                      : k == ops.size() + 1 ? "/Cast"
                                            : "");
      }
      // Half the nodes without metadata entries.
      if ((layer + k) % 2 == 0) node.clear_metadata_props();
      const std::string bytes = node.SerializeAsString();
      records.push_back({file.size(), file.size() + bytes.size()});
      file += bytes;
      names.push_back(node.name());
    }
  }
  google::protobuf::Arena arena;
  // One segment, then segments of a few nodes each.
  for (const uint64_t max_places : {kMaxSegmentPlaces, uint64_t{400}}) {
    NodeList nodes;
    ParsedNodes parsed;
    ASSERT_TRUE(ReadNodeRecords(Data(file), records, &arena, &nodes, &parsed,
                                nullptr, max_places,
                                /*keep_name_scopes=*/true));
    ASSERT_EQ(nodes.size(), names.size());
    std::map<std::pair<uint32_t, std::string>, uint32_t> id_of;
    std::map<std::pair<uint32_t, uint32_t>, std::string> text_of;
    size_t i = 0;
    for (NodeList::const_iterator it = nodes.begin(); it != nodes.end();
         ++it, ++i) {
      const NameScope scope = it.name_scope();
      EXPECT_EQ(scope.had_metadata, !(*it).metadata.empty()) << i;
      const std::optional<absl::string_view> want = ScopeOfName(names[i]);
      if (!want.has_value()) {
        EXPECT_EQ(scope.id, NameScope::kNone) << i;
        continue;
      }
      ASSERT_LT(scope.id, NameScope::kNotKept) << i;
      EXPECT_EQ(nodes.NameScopeText(scope), *want) << i;
      const auto [id, new_text] = id_of.emplace(
          std::make_pair(scope.segment, std::string(*want)), scope.id);
      EXPECT_EQ(id->second, scope.id) << i;
      const auto [text, new_id] = text_of.emplace(
          std::make_pair(scope.segment, scope.id), std::string(*want));
      EXPECT_EQ(text->second, *want) << i;
    }
    // 40 layers of 4 scopes and the top one, in one segment.
    if (max_places == kMaxSegmentPlaces) {
      EXPECT_EQ(id_of.size(), 161u);
    }
    nodes.ForgetNameScopes();
    for (NodeList::const_iterator it = nodes.begin(); it != nodes.end(); ++it) {
      EXPECT_EQ(it.name_scope().id, NameScope::kNotKept);
    }
  }
  // Read without keep_name_scopes, the list keeps none.
  NodeList nodes;
  ParsedNodes parsed;
  ASSERT_TRUE(
      ReadNodeRecords(Data(file), records, &arena, &nodes, &parsed, nullptr));
  EXPECT_EQ(nodes.begin().name_scope().id, NameScope::kNotKept);
}

// A record refused after others leaves their scopes as they were, and the
// next record gets its own.
TEST(NodeListTest, ARefusedRecordKeepsNoNameScope) {
  onnx::NodeProto first = Node();
  onnx::NodeProto next = Node();
  next.set_name("/decoder/MatMul");
  const std::string good = first.SerializeAsString();
  const std::string after = next.SerializeAsString();
  const std::string bad = good.substr(0, good.size() - 1);
  NodeListBuilder builder(/*keep_name_scopes=*/true);
  bool needs_message = false;
  ASSERT_TRUE(builder.AddRecord(Data(good), {0, good.size()}, &needs_message));
  EXPECT_FALSE(builder.AddRecord(Data(bad), {0, bad.size()}, &needs_message));
  ASSERT_TRUE(
      builder.AddRecord(Data(after), {0, after.size()}, &needs_message));
  const NodeList nodes = builder.Finish();
  ASSERT_EQ(nodes.size(), 2u);
  NodeList::const_iterator it = nodes.begin();
  EXPECT_EQ(nodes.NameScopeText(it.name_scope()), "/encoder/layer.0");
  ++it;
  EXPECT_EQ(nodes.NameScopeText(it.name_scope()), "/decoder");
}

// A segment tells whether its nodes are all main-graph records without
// metadata entries, unknown fields or subgraph bodies; a range is plain
// where every segment it touches is.
TEST(NodeListTest, PlainRecordsHaveNoEntriesUnknownFieldsOrBodies) {
  onnx::NodeProto bare = Node();
  bare.clear_metadata_props();
  const std::string plain = bare.SerializeAsString();
  const std::string with_entries = Node().SerializeAsString();
  const std::string unknown = plain + VarintField(99, 7);
  onnx::NodeProto owner = bare;
  owner.add_attribute()->mutable_g()->add_node()->set_name("body");
  const std::string with_body = owner.SerializeAsString();
  // Segments: three plain records; one with entries; two plain; one with
  // an unknown field; one owning a body (read as a message, with its
  // body's node).
  const std::vector<std::vector<const std::string*>> segments = {
      {&plain, &plain, &plain},
      {&with_entries},
      {&plain, &plain},
      {&unknown},
      {&with_body}};
  std::vector<NodeListBuilder> parts(segments.size());
  std::deque<onnx::NodeProto> messages;  // outlive the list
  for (size_t p = 0; p < segments.size(); ++p) {
    for (const std::string* bytes : segments[p]) {
      bool needs_message = false;
      ASSERT_TRUE(
          parts[p].AddRecord(Data(*bytes), {0, bytes->size()}, &needs_message));
      if (!needs_message) continue;
      parts[p].RemoveLast();
      ASSERT_TRUE(messages.emplace_back().ParseFromString(*bytes));
      parts[p].AddMessage(messages.back(), "main", -1);
    }
  }
  const NodeList nodes = NodeListBuilder::Join(&parts);
  ASSERT_EQ(nodes.size(), 9u);
  EXPECT_TRUE(nodes.PlainRecords(0, 3));
  EXPECT_TRUE(nodes.PlainRecords(1, 2));
  EXPECT_FALSE(nodes.PlainRecords(3, 4));
  EXPECT_FALSE(nodes.PlainRecords(2, 4));
  EXPECT_TRUE(nodes.PlainRecords(4, 6));
  EXPECT_FALSE(nodes.PlainRecords(4, 7));
  EXPECT_FALSE(nodes.PlainRecords(6, 7));
  EXPECT_FALSE(nodes.PlainRecords(7, 9));
  EXPECT_FALSE(nodes.PlainRecords(0, 9));
  EXPECT_TRUE(nodes.PlainRecords(5, 5));
}

// A graph's fields as a pass over them meets them: runs of node records
// (field 1) between other fields, each run handed to `reader` from its
// first record, as ModelSplice's first pass does. Returns the node records
// a plain reading of the same bytes finds, payload and end.
std::vector<ByteRange> FindRuns(const std::string& file, int fd,
                                NodeRecordReader* reader) {
  std::vector<ByteRange> expected;
  WireReader plain(Data(file), 0, file.size());
  WireRecord field;
  while (!plain.done() && plain.Next(&field)) {
    if (field.field == 1) expected.push_back({field.payload, field.end});
  }
  WireReader pass(Data(file), 0, file.size());
  while (!pass.done()) {
    EXPECT_TRUE(pass.Next(&field));
    if (field.field != 1 || field.wire_type != kLengthDelimited) continue;
    const WireRecord last = reader->ReadRun(fd, TagByte(1), field, file.size());
    EXPECT_GE(last.end, field.end);
    pass = WireReader(Data(file), last.end, file.size());
  }
  return expected;
}

class NodeRecordReaderTest : public ::testing::Test {
 protected:
  // Writes `file` and maps it.
  void Open(const std::string& file) {
    path_ = absl::StrCat(::testing::TempDir(), "/records.bin");
    FILE* out = std::fopen(path_.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(std::fwrite(file.data(), 1, file.size(), out), file.size());
    std::fclose(out);
    fd_ = ::open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd_, 0);
    mapping_ = std::make_unique<FileMapping>(fd_, file.size());
    ASSERT_NE(mapping_->data(), nullptr);
  }
  void TearDown() override {
    mapping_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

  std::string path_;
  int fd_ = -1;
  std::unique_ptr<FileMapping> mapping_;
};

TEST_F(NodeRecordReaderTest, RunsAreFoundAndReadAsAPlainReadingFindsThem) {
  // Over 2 MB of records in three runs, a record longer than a chunk (3 MB)
  // in the first, one over the copy limit (65 MB) in the second, a record
  // whose tag is spelled in two bytes (which only a plain reading takes)
  // starting the third, and a node owning a subgraph.
  std::string file = BytesField(2, "graph name");
  std::vector<std::string> names;
  auto add_node = [&](int i, const std::string& doc) {
    onnx::NodeProto node = Node();
    node.clear_metadata_props();
    node.set_name(absl::StrCat("/layer.", i, "/MatMul"));
    if (!doc.empty()) node.set_doc_string(doc);
    if (i == 30) {
      onnx::AttributeProto* branch = node.add_attribute();
      branch->set_name("then_branch");
      branch->set_type(onnx::AttributeProto::GRAPH);
      branch->mutable_g()->add_node()->set_name("inner");
    }
    names.push_back(node.name());
    file += BytesField(1, node.SerializeAsString());
    if (i == 30) names.push_back("inner");
  };
  int i = 0;
  for (; i < 20000; ++i) {
    add_node(i, i == 9000 ? std::string(3 << 20, 'd') : "");
  }
  file += BytesField(5, "an initializer");
  for (; i < 20100; ++i) {
    add_node(i, i == 20050 ? std::string(65 << 20, 'e') : "");
  }
  file += BytesField(11, "an input");
  {
    onnx::NodeProto node = Node();
    node.clear_metadata_props();
    node.set_name("two-byte tag");
    names.push_back(node.name());
    const std::string bytes = node.SerializeAsString();
    file += "\x8a";
    file += '\0';
    file += wire_format::Varint(bytes.size()) + bytes;
  }
  for (; i < 20200; ++i) add_node(i, "");
  Open(file);

  google::protobuf::Arena arena;
  NodeRecordReader reader(mapping_->data(), mapping_.get(), &arena);
  const std::vector<ByteRange> expected = FindRuns(file, fd_, &reader);
  ASSERT_EQ(expected.size(), 20201u);
  ASSERT_EQ(reader.records().size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    ASSERT_EQ(reader.records()[k].begin, expected[k].begin) << k;
    ASSERT_EQ(reader.records()[k].end, expected[k].end) << k;
  }
  NodeList nodes;
  ParsedNodes parsed;
  ASSERT_TRUE(reader.Finish(&nodes, &parsed));
  ASSERT_EQ(nodes.size(), names.size());
  for (size_t k = 0; k < nodes.size(); ++k) {
    ASSERT_EQ(nodes[k].name, names[k]) << k;
  }
  // The node owning a subgraph was parsed; its body's node follows it.
  EXPECT_NE(parsed[30], nullptr);
  EXPECT_EQ(nodes[31].owner, 30);
}

// `count` node records named /layer.i/MatMul, one after another; the
// record of layer `corrupt` (if any) with a name whose length runs past it.
std::string LayerRecords(int count, int corrupt = -1) {
  std::string file;
  for (int i = 0; i < count; ++i) {
    onnx::NodeProto node = Node();
    node.set_name(absl::StrCat("/layer.", i, "/MatMul"));
    std::string bytes = node.SerializeAsString();
    if (i == corrupt) bytes[bytes.find("/layer.") - 1] = 0x7f;
    file += BytesField(1, bytes);
  }
  return file;
}

// The first record of `file`, as the caller of ReadRun has read it.
WireRecord FirstRecord(const std::string& file) {
  WireRecord first;
  WireReader start(Data(file), 0, file.size());
  EXPECT_TRUE(start.Next(&first));
  return first;
}

TEST_F(NodeRecordReaderTest, AFileShorterThanItsRunEndsTheRun) {
  // The records as a graph 1 MB longer than the file would hold them (the
  // file cut under the reader): the run ends at the last whole record read.
  const std::string file = LayerRecords(5000);
  Open(file);
  google::protobuf::Arena arena;
  NodeRecordReader reader(mapping_->data(), mapping_.get(), &arena);
  const WireRecord last = reader.ReadRun(fd_, TagByte(1), FirstRecord(file),
                                         file.size() + (1 << 20));
  EXPECT_EQ(last.end, file.size());
  EXPECT_EQ(reader.records().size(), 5000u);
  NodeList nodes;
  ParsedNodes parsed;
  ASSERT_TRUE(reader.Finish(&nodes, &parsed));
  EXPECT_EQ(nodes[4999].name, "/layer.4999/MatMul");
}

TEST_F(NodeRecordReaderTest, AMalformedRecordFailsTheReading) {
  const std::string file = LayerRecords(30000, /*corrupt=*/25000);
  Open(file);
  google::protobuf::Arena arena;
  NodeRecordReader reader(mapping_->data(), mapping_.get(), &arena);
  EXPECT_EQ(reader.ReadRun(fd_, TagByte(1), FirstRecord(file), file.size()).end,
            file.size());
  NodeList nodes;
  ParsedNodes parsed;
  EXPECT_FALSE(reader.Finish(&nodes, &parsed));
}

}  // namespace
}  // namespace hp
