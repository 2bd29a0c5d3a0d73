// Wire-level re-tagging: the result equals tagging the fully loaded model,
// byte for byte, while initializers are never parsed; errors are LoadModel's.
#include "hp/io/model_splice.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "hp/io/model_io.h"
#include "hp/tag/appended_tags.h"
#include "hp/tag/record_strip.h"
#include "hp/tag/tag_writer.h"
#include "hp/trace/scope_trace.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::google::protobuf::util::MessageDifferencer;
using ::hp::test_files::kModels;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::wire_format::BytesField;
using ::hp::wire_format::Varint;
using ::hp::wire_format::VarintField;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Bytes(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& name,
                         const std::string& op_type, const std::string& input,
                         const std::string& output) {
  onnx::NodeProto* node = graph->add_node();
  node->set_name(name);
  node->set_op_type(op_type);
  node->add_input(input);
  node->add_output(output);
  return node;
}

// x -> MatMul(w) -> Add(b) -> Relu -> y with torch-style names, raw-data
// initializers, a sparse initializer, value infos and graph metadata: every
// GraphProto field around the spliced ones.
onnx::ModelProto MakeModel() {
  onnx::ModelProto model;
  model.set_ir_version(10);
  model.set_producer_name("hp-test");
  model.add_opset_import()->set_version(21);
  onnx::GraphProto* graph = model.mutable_graph();
  AddNode(graph, "/layers.0/fc/MatMul", "MatMul", "x", "h")->add_input("w");
  AddNode(graph, "/layers.0/fc/Add", "Add", "h", "a")->add_input("b");
  AddNode(graph, "/layers.0/act/Relu", "Relu", "a", "y");
  graph->set_name("main");
  onnx::TensorProto* weight = graph->add_initializer();
  weight->set_name("w");
  weight->set_data_type(onnx::TensorProto::FLOAT);
  weight->add_dims(64);
  weight->add_dims(64);
  weight->set_raw_data(Bytes(64 * 64 * 4, 1));
  onnx::TensorProto* bias = graph->add_initializer();
  bias->set_name("b");
  bias->set_data_type(onnx::TensorProto::FLOAT);
  bias->add_dims(64);
  for (int i = 0; i < 64; ++i) bias->add_float_data(0.5f * i);
  onnx::SparseTensorProto* sparse = graph->add_sparse_initializer();
  sparse->add_dims(64);
  sparse->mutable_values()->set_name("s");
  sparse->mutable_values()->set_data_type(onnx::TensorProto::FLOAT);
  sparse->mutable_values()->add_dims(2);
  sparse->mutable_values()->add_float_data(1.0f);
  sparse->mutable_values()->add_float_data(2.0f);
  sparse->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
  sparse->mutable_indices()->add_dims(2);
  sparse->mutable_indices()->add_int64_data(3);
  sparse->mutable_indices()->add_int64_data(7);
  graph->set_doc_string("graph doc");
  graph->add_input()->set_name("x");
  graph->add_output()->set_name("y");
  graph->add_value_info()->set_name("h");
  onnx::StringStringEntryProto* entry = graph->add_metadata_props();
  entry->set_key("graph key");
  entry->set_value("graph value");
  entry = model.add_metadata_props();
  entry->set_key("model key");
  entry->set_value("model value");
  return model;
}

// Strips a model read as records and saves it.
absl::StatusOr<std::string> StripSpliced(const std::string& path,
                                         const std::string& output) {
  SpliceOptions open;
  open.read_node_records = true;
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path, open);
  if (!splice.ok()) return splice.status();
  absl::Status stripped = StripTags(&*splice);
  if (!stripped.ok()) return stripped;
  absl::Status saved = splice->Save(output);
  if (!saved.ok()) return saved;
  return ReadBytes(output);
}

// What hp did before the splice path: load all, tag, serialize.
absl::StatusOr<std::string> TagFullyLoaded(const std::string& path,
                                           const ScopeTrace* trace,
                                           const TagOptions& options) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
  if (!model.ok()) return model.status();
  absl::StatusOr<TagResult> result = TagModel(&*model, trace, options);
  if (!result.ok()) return result.status();
  return SerializeModel(*model, path);
}

// How the splice is tagged: every node parsed into the skeleton, with
// main-graph node tags serialized or appended to the node records as read
// (AppendedNodeTags); or nodes read as records, never parsed unless they
// must be, as `converter tag` does.
enum class SpliceMode { kParsed, kAppended, kRecords };

absl::StatusOr<std::string> TagSpliced(const std::string& path,
                                       const std::string& output,
                                       const ScopeTrace* trace,
                                       const TagOptions& options,
                                       SpliceMode mode = SpliceMode::kParsed) {
  SpliceOptions open;
  open.read_node_records = mode == SpliceMode::kRecords;
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path, open);
  if (!splice.ok()) return splice.status();
  AppendedNodeTags appended;
  absl::StatusOr<TagResult> result;
  const TagOptions kept = WithRecordedDigests(splice->skeleton(), options);
  if (mode == SpliceMode::kRecords) {
    absl::Status stripped = StripTags(&*splice);
    if (!stripped.ok()) return stripped;
  }
  if (splice->reads_node_records()) {
    ModelSplice* opened = &*splice;
    result = TagModel(
        &splice->skeleton(), splice->nodes(),
        [opened](size_t i) { return opened->MutableNode(i); }, trace, kept,
        &appended);
  } else {
    result = TagModel(&splice->skeleton(), trace, kept,
                      mode == SpliceMode::kAppended ? &appended : nullptr);
  }
  if (!result.ok()) return result.status();
  absl::Status saved =
      splice->Save(output, {}, {&appended.sizes, appended.encode});
  if (!saved.ok()) return saved;
  return ReadBytes(output);
}

// Splice-tagged bytes equal fully-loaded-tagged bytes, and stripping the
// splice's output gives the input back.
void ExpectSpliceEqualsFullLoad(const std::string& path,
                                const ScopeTrace* trace,
                                const TagOptions& options,
                                const std::string& folder) {
  SCOPED_TRACE(path);
  absl::StatusOr<std::string> expected = TagFullyLoaded(path, trace, options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  const std::string output = folder + "/spliced.onnx";
  absl::StatusOr<std::string> spliced =
      TagSpliced(path, output, trace, options);
  ASSERT_TRUE(spliced.ok()) << spliced.status();
  EXPECT_TRUE(*spliced == *expected)
      << "splice output differs from SerializeModel(TagModel(LoadModel()))";
  absl::StatusOr<std::string> appended =
      TagSpliced(path, output, trace, options, SpliceMode::kAppended);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_TRUE(*appended == *expected)
      << "splice output with node tags appended to the records as read "
         "differs from SerializeModel(TagModel(LoadModel()))";
  // Read as records: tagged, tagged again, and stripped.
  absl::StatusOr<std::string> records =
      TagSpliced(path, output, trace, options, SpliceMode::kRecords);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(*records == *expected)
      << "tagging nodes read as records differs from "
         "SerializeModel(TagModel(LoadModel()))";
  const std::string again = folder + "/again.onnx";
  absl::StatusOr<std::string> retagged =
      TagSpliced(output, again, trace, options, SpliceMode::kRecords);
  ASSERT_TRUE(retagged.ok()) << retagged.status();
  EXPECT_TRUE(*retagged == *expected) << "re-tagging records differs";
  absl::StatusOr<std::string> record_stripped = StripSpliced(output, again);
  ASSERT_TRUE(record_stripped.ok()) << record_stripped.status();
  EXPECT_TRUE(*record_stripped == ReadBytes(path))
      << "strip of records (splice-tag(x)) != x";

  absl::StatusOr<onnx::ModelProto> tagged = LoadModel(output);
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  ASSERT_TRUE(StripTags(&*tagged).ok());
  absl::StatusOr<std::string> stripped = SerializeModel(*tagged, output);
  ASSERT_TRUE(stripped.ok());
  EXPECT_TRUE(*stripped == ReadBytes(path)) << "strip(splice-tag(x)) != x";
}

// ----------------------------------------------------------------------------
// Equal to the full load.

class FixtureSpliceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureSpliceTest, EqualsTaggingTheFullyLoadedModel) {
  const std::string folder = TestFolder();
  const std::string model = absl::StrCat(kModels, "/", GetParam(), ".onnx");
  absl::StatusOr<ScopeTrace> trace =
      LoadScopeTrace(absl::StrCat(kModels, "/", GetParam(), ".trace.json"));
  ASSERT_TRUE(trace.ok()) << trace.status();

  ExpectSpliceEqualsFullLoad(model, &*trace, TagOptions(), folder);
  ExpectSpliceEqualsFullLoad(model, nullptr, TagOptions(), folder);
  TagOptions options;
  options.propagate = true;
  options.keep_all_torch_nn = true;
  options.format = TagFormat::kAttribute;
  ExpectSpliceEqualsFullLoad(model, &*trace, options, folder);
  options.format = TagFormat::kDocString;
  ExpectSpliceEqualsFullLoad(model, &*trace, options, folder);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureSpliceTest,
                         ::testing::Values("tiny_bert", "tiny_resnet",
                                           "tiny_gpt", "tiny_t5",
                                           "control_flow", "containers",
                                           "recalls", "dynamo_style",
                                           "unscoped"));

TEST(ModelSpliceTest, SkeletonHoldsNoInitializerData) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok()) << splice.status();
  EXPECT_EQ(splice->skeleton().graph().initializer_size(), 0);
  EXPECT_EQ(splice->skeleton().graph().sparse_initializer_size(), 0);
  EXPECT_EQ(splice->skeleton().graph().node_size(), 3);
  EXPECT_EQ(splice->initializer_count(), 3);
  // The 16 KiB weight is left in the file.
  EXPECT_GT(splice->initializer_bytes(), 64u * 64 * 4);
  EXPECT_LT(splice->skeleton().ByteSizeLong(), 1024u);
  EXPECT_EQ(splice->file_bytes(), fs::file_size(path));
}

// A selection saves the nodes and initializer records chosen, as the
// fully loaded model with the others removed serializes, read as records
// or parsed.
TEST(ModelSpliceTest, ASelectionSavesTheNodesAndInitializersChosen) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  const onnx::ModelProto model = MakeModel();
  WriteBytes(path, model.SerializeAsString());
  onnx::ModelProto expected = model;
  onnx::GraphProto* graph = expected.mutable_graph();
  graph->mutable_node()->DeleteSubrange(0, 1);         // keep Add and Relu
  graph->mutable_initializer()->DeleteSubrange(0, 1);  // keep b
  graph->clear_sparse_initializer();
  const std::vector<size_t> nodes = {1, 2};
  const std::vector<size_t> initializers = {1};
  const std::vector<size_t> sparse;
  for (const bool records : {true, false}) {
    SpliceOptions open;
    open.read_node_records = records;
    absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path, open);
    ASSERT_TRUE(splice.ok()) << splice.status();
    const std::string output =
        absl::StrCat(folder, "/selected", records, ".onnx");
    absl::StatusOr<AtomicFileWriter> writer = splice->SaveSelectionUncommitted(
        output, SaveOptions(), {&nodes, &initializers, &sparse});
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(writer->Commit().ok());
    EXPECT_EQ(ReadBytes(output), expected.SerializeAsString()) << records;
  }
}

TEST(ModelSpliceTest, EveryGraphFieldAroundTheInitializers) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  ExpectSpliceEqualsFullLoad(path, nullptr, TagOptions(), folder);
}

TEST(ModelSpliceTest, UnknownFieldsStayWhereProtobufPutsThem) {
  // Unknown fields (graph 3 and 99, model 99) serialize after every known
  // field; the initializers must still land between name (2) and doc (10).
  const std::string folder = TestFolder();
  onnx::ModelProto model = MakeModel();
  std::string bytes = model.SerializeAsString();
  onnx::ModelProto with_unknown;
  ASSERT_TRUE(with_unknown.ParseFromString(
      bytes + BytesField(7, VarintField(3, 5) + BytesField(99, "graph extra")) +
      VarintField(99, 42)));
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, *SerializeModel(with_unknown, path));
  ExpectSpliceEqualsFullLoad(path, nullptr, TagOptions(), folder);

  // A graph made only of unknown fields and initializers.
  onnx::GraphProto graph;
  *graph.add_initializer() = MakeModel().graph().initializer(0);
  const std::string odd =
      VarintField(1, 10) +
      BytesField(7, graph.SerializeAsString() + VarintField(3, 5));
  WriteBytes(path, odd);
  ExpectSpliceEqualsFullLoad(path, nullptr, TagOptions(), folder);
}

TEST(ModelSpliceTest, NonCanonicalFieldOrderGivesTheSameModel) {
  // Graph first, initializers between nodes, the graph split in two records
  // (protobuf merges them): protobuf would reorder all of it on saving.
  const std::string folder = TestFolder();
  const onnx::ModelProto model = MakeModel();
  const onnx::GraphProto& graph = model.graph();
  std::string first = BytesField(1, graph.node(0).SerializeAsString()) +
                      BytesField(5, graph.initializer(0).SerializeAsString()) +
                      BytesField(1, graph.node(1).SerializeAsString()) +
                      BytesField(2, "first name");
  std::string second =
      BytesField(15, graph.sparse_initializer(0).SerializeAsString()) +
      BytesField(11, graph.input(0).SerializeAsString()) +
      BytesField(1, graph.node(2).SerializeAsString()) +
      BytesField(5, graph.initializer(1).SerializeAsString()) +
      BytesField(2, "main");
  const std::string bytes =
      BytesField(7, first) + VarintField(1, 10) + BytesField(7, second) +
      BytesField(8, model.opset_import(0).SerializeAsString());
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, bytes);

  absl::StatusOr<std::string> expected =
      TagFullyLoaded(path, nullptr, TagOptions());
  ASSERT_TRUE(expected.ok()) << expected.status();
  absl::StatusOr<std::string> spliced =
      TagSpliced(path, folder + "/out.onnx", nullptr, TagOptions());
  ASSERT_TRUE(spliced.ok()) << spliced.status();
  // The initializers were canonical: even the bytes agree.
  EXPECT_TRUE(*spliced == *expected);
  onnx::ModelProto got;
  ASSERT_TRUE(got.ParseFromString(*spliced));
  EXPECT_EQ(got.graph().name(), "main");
  EXPECT_EQ(got.graph().node_size(), 3);
  EXPECT_EQ(got.graph().initializer_size(), 2);
}

TEST(ModelSpliceTest, ModelWithoutAGraph) {
  // (TagModel gives such a model an empty graph, so strip cannot restore
  // the bytes; only equality with the full load is checked.)
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, VarintField(1, 8) + BytesField(2, "no graph"));
  absl::StatusOr<std::string> expected =
      TagFullyLoaded(path, nullptr, TagOptions());
  ASSERT_TRUE(expected.ok()) << expected.status();
  absl::StatusOr<std::string> spliced =
      TagSpliced(path, folder + "/out.onnx", nullptr, TagOptions());
  ASSERT_TRUE(spliced.ok()) << spliced.status();
  EXPECT_TRUE(*spliced == *expected);
}

TEST(ModelSpliceTest, TaggingTwiceEqualsTaggingOnce) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  absl::StatusOr<std::string> once =
      TagSpliced(path, folder + "/once.onnx", nullptr, TagOptions());
  ASSERT_TRUE(once.ok()) << once.status();
  absl::StatusOr<std::string> twice = TagSpliced(
      folder + "/once.onnx", folder + "/twice.onnx", nullptr, TagOptions());
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_TRUE(*once == *twice);
}

TEST(ModelSpliceTest, ExternalDataIsNeverRead) {
  const std::string folder = TestFolder();
  onnx::ModelProto model = MakeModel();
  onnx::TensorProto* weight = model.mutable_graph()->mutable_initializer(0);
  weight->clear_raw_data();
  weight->set_data_location(onnx::TensorProto::EXTERNAL);
  onnx::StringStringEntryProto* entry = weight->add_external_data();
  entry->set_key("location");
  entry->set_value("weights.bin");  // does not exist
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, model.SerializeAsString());
  ExpectSpliceEqualsFullLoad(path, nullptr, TagOptions(), folder);
}

// ----------------------------------------------------------------------------
// Errors: the same as LoadModel's.

void ExpectSameErrorAsLoadModel(const std::string& path,
                                absl::string_view expected_text) {
  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(path);
  absl::StatusOr<ModelSplice> spliced = ModelSplice::Open(path);
  SpliceOptions records;
  records.read_node_records = true;
  absl::StatusOr<ModelSplice> read = ModelSplice::Open(path, records);
  ASSERT_FALSE(loaded.ok());
  ASSERT_FALSE(spliced.ok());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(spliced.status(), loaded.status());
  EXPECT_EQ(read.status(), loaded.status());
  EXPECT_THAT(spliced.status().message(), HasSubstr(expected_text));
  EXPECT_THAT(spliced.status().message(), HasSubstr(path));
}

// A graph of `count` nodes in torch's naming, with a subgraph, unknown
// fields and an attribute here and there: enough nodes to be parsed in
// slices on several threads. One node of 9 MB makes the splice write the
// nodes in several batches.
onnx::ModelProto ManyNodesModel(int count) {
  onnx::ModelProto model = MakeModel();
  onnx::GraphProto* graph = model.mutable_graph();
  for (int i = 0; i < count; ++i) {
    const std::string scope = absl::StrCat("/layers.", i / 10, "/fc");
    onnx::NodeProto* node =
        AddNode(graph, absl::StrCat(scope, "/MatMul_", i % 10), "MatMul",
                absl::StrCat("v", i), absl::StrCat("v", i + 1));
    if (i % 1000 == 7) {
      onnx::AttributeProto* attribute = node->add_attribute();
      attribute->set_name("alpha");
      attribute->set_f(0.5f);
    }
    if (i % 1000 == 8) {
      node->mutable_unknown_fields()->AddVarint(99, i);
    }
    if (i == count / 3) {
      onnx::AttributeProto* blob = node->add_attribute();
      blob->set_name("blob");
      blob->set_s(Bytes(9 << 20, 3));
    }
    if (i == count / 2) {
      onnx::AttributeProto* body = node->add_attribute();
      body->set_name("then_branch");
      AddNode(body->mutable_g(), "Inner", "Identity", "a", "b");
    }
  }
  return model;
}

TEST(ModelSpliceTest, ManyNodesAreParsedAsInTheWholeModel) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  const onnx::ModelProto model = ManyNodesModel(50000);
  WriteBytes(path, model.SerializeAsString());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok()) << splice.status();
  onnx::ModelProto expected = model;
  expected.mutable_graph()->clear_initializer();
  expected.mutable_graph()->clear_sparse_initializer();
  EXPECT_TRUE(MessageDifferencer::Equals(splice->skeleton(), expected));
  ExpectSpliceEqualsFullLoad(path, nullptr, TagOptions(), folder);
  // The later half of the node records read ahead on a second thread, from
  // wherever after the first record: the same nodes, whether the guess
  // landed on a boundary or inside a record (the 9 MB attribute).
  const auto& nodes = splice->skeleton().graph().node();
  for (const uint64_t after : {uint64_t{0}, uint64_t{1} << 20}) {
    SCOPED_TRACE(after);
    SpliceOptions ahead;
    ahead.node_run_ahead_after = after;
    absl::StatusOr<ModelSplice> read_ahead = ModelSplice::Open(path, ahead);
    ASSERT_TRUE(read_ahead.ok()) << read_ahead.status();
    EXPECT_TRUE(
        MessageDifferencer::Equals(read_ahead->skeleton(), splice->skeleton()));
  }
  // Found and read as records in one pass (NodeRecordReader: chunks of at
  // most 2 MB, the 9 MB record read alone): each main-graph node's record
  // is its message's bytes, or the node was parsed into that message.
  SpliceOptions as_records;
  as_records.read_node_records = true;
  absl::StatusOr<ModelSplice> records = ModelSplice::Open(path, as_records);
  ASSERT_TRUE(records.ok()) << records.status();
  int main_nodes = 0;
  for (size_t k = 0; k < records->nodes().size(); ++k) {
    if (records->nodes()[k].owner >= 0) continue;  // a subgraph body's
    ASSERT_LT(main_nodes, nodes.size());
    const std::string bytes = nodes.Get(main_nodes++).SerializeAsString();
    if (const std::optional<absl::string_view> record =
            records->NodeRecord(k)) {
      ASSERT_EQ(*record, bytes) << k;
    } else {
      absl::StatusOr<onnx::NodeProto*> parsed = records->MutableNode(k);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      ASSERT_EQ((*parsed)->SerializeAsString(), bytes) << k;
    }
  }
  EXPECT_EQ(main_nodes, nodes.size());
}

TEST(ModelSpliceTest, ACorruptNodeAmongManyFailsAsLoadModelFails) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  onnx::ModelProto model = ManyNodesModel(50000);
  model.mutable_graph()->mutable_node(40000)->set_name("corrupt me");
  std::string bytes = model.SerializeAsString();
  // The name's length byte now runs past the end of its node.
  bytes[bytes.find("corrupt me") - 1] = 0x7f;
  WriteBytes(path, bytes);
  ExpectSameErrorAsLoadModel(path, "not an ONNX model");
}

TEST(ModelSpliceTest, NestingAtProtobufsDepthLimitFailsAsLoadModelFails) {
  // If nodes nested in each other's then_branch (3 messages a level), the
  // innermost branch holding 0, 1 or 2 more: the deepest nesting LoadModel
  // parses, the splice parses; one level more, both refuse, in words of
  // recursion depth (CheckSubgraphDepth), not as a corrupt file.
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  auto nested = [](int depth, int tail) {
    onnx::ModelProto model = MakeModel();
    onnx::GraphProto* graph = model.mutable_graph();
    for (int level = 0; level < depth; ++level) {
      onnx::NodeProto* node =
          AddNode(graph, absl::StrCat("If_", level), "If", "c", "y");
      onnx::AttributeProto* branch = node->add_attribute();
      branch->set_name("then_branch");
      graph = branch->mutable_g();
    }
    if (tail >= 1) {
      onnx::NodeProto* node = AddNode(graph, "Inner", "Identity", "a", "b");
      if (tail >= 2) node->add_attribute()->set_name("inner");
    }
    return model.SerializeAsString();
  };
  for (int tail = 0; tail <= 2; ++tail) {
    SCOPED_TRACE(tail);
    int depth = 1;
    while (true) {
      WriteBytes(path, nested(depth, tail));
      if (!LoadModel(path).ok()) break;
      ASSERT_TRUE(ModelSplice::Open(path).ok()) << depth;
      ++depth;
      ASSERT_LT(depth, 100);
    }
    // Refused from the first level past the limit that holds a node; an
    // empty innermost branch still fits one level further.
    EXPECT_EQ(depth, kMaxSubgraphDepth + (tail == 0 ? 2 : 1));
    ExpectSameErrorAsLoadModel(path, "recursion depth");
  }
}

TEST(ModelSpliceTest, BadInputsFailAsLoadModelFails) {
  const std::string folder = TestFolder();
  const std::string whole = MakeModel().SerializeAsString();
  const std::string path = folder + "/model.onnx";

  WriteBytes(path, "");
  ExpectSameErrorAsLoadModel(path, "empty file");
  for (size_t cut : {size_t{3}, whole.size() / 2, whole.size() - 1}) {
    SCOPED_TRACE(cut);
    WriteBytes(path, whole.substr(0, cut));
    ExpectSameErrorAsLoadModel(path, "not an ONNX model");
  }
  std::mt19937 random(7);
  for (int trial = 0; trial < 50; ++trial) {
    SCOPED_TRACE(trial);
    WriteBytes(path, Bytes(1 + random() % 4096, random()));
    ExpectSameErrorAsLoadModel(path, "not an ONNX model");
  }
  // Corrupt inside an initializer: the length of its name runs past it.
  WriteBytes(path,
             VarintField(1, 10) +
                 BytesField(7, BytesField(5, BytesField(8, "w").substr(0, 2))));
  ExpectSameErrorAsLoadModel(path, "not an ONNX model");
  // Parses, but is not a model.
  WriteBytes(path, VarintField(99, 1));
  ExpectSameErrorAsLoadModel(path, "no ir_version");
  fs::remove(path);
  ExpectSameErrorAsLoadModel(path, "No such file");
  fs::create_directory(path);
  ExpectSameErrorAsLoadModel(path, "is a directory");
  const std::string fifo = folder + "/fifo.onnx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  ExpectSameErrorAsLoadModel(fifo, "not a regular file");
}

TEST(ModelSpliceTest, ExternalDataLeavingTheFolderIsRefusedInInitializers) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  onnx::ModelProto model = MakeModel();
  onnx::TensorProto* weight = model.mutable_graph()->mutable_initializer(1);
  weight->set_data_location(onnx::TensorProto::EXTERNAL);
  onnx::StringStringEntryProto* entry = weight->add_external_data();
  entry->set_key("location");
  entry->set_value("../outside.bin");
  WriteBytes(path, model.SerializeAsString());
  ExpectSameErrorAsLoadModel(path, "contains '..'");

  model = MakeModel();
  onnx::TensorProto* values =
      model.mutable_graph()->mutable_sparse_initializer(0)->mutable_values();
  values->set_data_location(onnx::TensorProto::EXTERNAL);
  entry = values->add_external_data();
  entry->set_key("location");
  entry->set_value("/etc/passwd");
  WriteBytes(path, model.SerializeAsString());
  ExpectSameErrorAsLoadModel(path, "is an absolute path");
}

TEST(ModelSpliceTest, OversizeSkeletonIsNamedClearly) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  SpliceOptions options;
  options.max_skeleton_bytes = 64;
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path, options);
  ASSERT_FALSE(splice.ok());
  EXPECT_EQ(splice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(splice.status().message(), HasSubstr(path));
  EXPECT_THAT(splice.status().message(),
              HasSubstr("the model without its graph initializers is"));
  EXPECT_THAT(splice.status().message(), HasSubstr("64-byte limit"));
  // The initializers do not count: a limit above the skeleton is enough.
  options.max_skeleton_bytes = 1024;
  EXPECT_TRUE(ModelSplice::Open(path, options).ok());
}

// Nodes read as records need not fit one message together; where one does
// not parse, the error names it rather than the whole model.
TEST(ModelSpliceTest, NodeRecordsPastTheLimitAreReadAndABadOneIsNamed) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/records.onnx";
  std::string nodes;
  for (int i = 0; i < 100; ++i) {
    nodes += BytesField(
        1, BytesField(3, "/layers." + std::to_string(i) + "/fc/MatMul") +
               BytesField(4, "MatMul"));
  }
  const std::string head =
      VarintField(1, 8) + BytesField(8, VarintField(2, 17));
  WriteBytes(path, head + BytesField(7, nodes));
  SpliceOptions options;
  options.read_node_records = true;
  options.max_skeleton_bytes = 256;  // each record is about 30 bytes
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path, options);
  ASSERT_TRUE(splice.ok()) << splice.status();
  EXPECT_EQ(splice->nodes().size(), 100u);

  // Record 7's payload made of a field with wire type 7, which no parser
  // accepts.
  std::string bad;
  for (int i = 0; i < 100; ++i) {
    bad += BytesField(
        1, i == 7 ? std::string("\x0f\x00", 2) : BytesField(4, "MatMul"));
  }
  WriteBytes(path, head + BytesField(7, bad));
  const absl::Status status = ModelSplice::Open(path, options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(),
              HasSubstr(path + ": node record 7 does not parse"));
}

TEST(ModelSpliceTest, OpensAModelOver2GbFromItsHeadersAlone) {
  // One initializer of 2 GiB + 1 KiB of raw data, as a sparse file: nothing
  // but the record headers is read, and no 2 GB message is ever parsed.
  const std::string folder = TestFolder();
  const std::string path = folder + "/huge.onnx";
  const uint64_t raw_bytes = (uint64_t{1} << 31) + 1024;
  const std::string head =
      BytesField(8, "w") + Varint(9 << 3 | 2) + Varint(raw_bytes);
  const std::string tensor_head =
      Varint(5 << 3 | 2) + Varint(head.size() + raw_bytes);
  const std::string node = BytesField(
      1, BytesField(3, "/layers.0/fc/MatMul") + BytesField(4, "MatMul"));
  const uint64_t graph_bytes =
      node.size() + tensor_head.size() + head.size() + raw_bytes;
  const std::string prefix = VarintField(1, 10) + Varint(7 << 3 | 2) +
                             Varint(graph_bytes) + node + tensor_head + head;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, prefix.data(), prefix.size()),
            static_cast<ssize_t>(prefix.size()));
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(prefix.size() + raw_bytes)), 0);
  ASSERT_EQ(::close(fd), 0);

  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok()) << splice.status();
  EXPECT_EQ(splice->skeleton().graph().node_size(), 1);
  EXPECT_EQ(splice->initializer_count(), 1);
  EXPECT_GT(splice->initializer_bytes(), raw_bytes);
  absl::StatusOr<TagResult> result =
      TagModel(&splice->skeleton(), nullptr, TagOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->nodes[0].module_path, "layers.0.fc");
  fs::remove(path);
}

// ----------------------------------------------------------------------------
// Saving.

TEST(ModelSpliceTest, RefusesToOverwriteTheInputUnlessAsked) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  const std::string original = MakeModel().SerializeAsString();
  WriteBytes(path, original);
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok());
  ASSERT_TRUE(TagModel(&splice->skeleton(), nullptr, TagOptions()).ok());
  SaveOptions options;
  options.input_path = path;
  absl::Status refused = splice->Save(path, options);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("refusing to overwrite the input"));
  EXPECT_EQ(ReadBytes(path), original);

  options.overwrite_input = true;
  ASSERT_TRUE(splice->Save(path, options).ok());
  EXPECT_THAT(ListFolder(folder), ElementsAre("model.onnx"));
  absl::StatusOr<onnx::ModelProto> tagged = LoadModel(path);
  ASSERT_TRUE(tagged.ok());
  EXPECT_TRUE(IsTagged(*tagged));
  EXPECT_EQ(tagged->graph().initializer(0).raw_data(),
            MakeModel().graph().initializer(0).raw_data());
}

TEST(ModelSpliceTest, FailedSaveLeavesNothing) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok());
  absl::Status missing_folder = splice->Save(folder + "/absent/out.onnx");
  EXPECT_FALSE(missing_folder.ok());
  EXPECT_THAT(missing_folder.message(), HasSubstr("absent/out.onnx"));
  fs::create_directory(folder + "/dir.onnx");
  EXPECT_FALSE(splice->Save(folder + "/dir.onnx").ok());
  EXPECT_THAT(ListFolder(folder), ElementsAre("dir.onnx", "model.onnx"));
}

// Appended tags that no longer match the skeleton's nodes would be lost or
// land on the wrong nodes: the save is refused and nothing is left.
TEST(ModelSpliceTest, AppendedTagsForOtherNodesAreRefused) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok()) << splice.status();
  ASSERT_TRUE(splice->can_copy_nodes());
  AppendedNodeTags appended;
  ASSERT_TRUE(
      TagModel(&splice->skeleton(), nullptr, TagOptions(), &appended).ok());
  ASSERT_EQ(appended.sizes.size(), 3u);
  splice->skeleton().mutable_graph()->add_node()->set_name("added");
  absl::Status saved = splice->Save(folder + "/out.onnx", {},
                                    {&appended.sizes, appended.encode});
  EXPECT_EQ(saved.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(saved.message(),
              HasSubstr("do not match the skeleton's 4 nodes"));
  EXPECT_THAT(ListFolder(folder), ElementsAre("model.onnx"));
}

TEST(ModelSpliceTest, WriterAbandonedBeforeCommitLeavesNothing) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, MakeModel().SerializeAsString());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok());
  {
    absl::StatusOr<AtomicFileWriter> writer =
        splice->SaveUncommitted(folder + "/out.onnx");
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_EQ(ListFolder(folder).size(), 2u);  // the model, the temporary
    EXPECT_EQ(writer->bytes_written(), fs::file_size(path));
  }
  EXPECT_THAT(ListFolder(folder), ElementsAre("model.onnx"));
}

}  // namespace
}  // namespace hp
