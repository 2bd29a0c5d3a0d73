// Loading and saving models: equality after a round trip, losslessness for
// fields the schema does not know, external-data references, and the
// messages a user sees for every kind of bad input.
#include "hp/io/model_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::google::protobuf::util::MessageDifferencer;
using ::hp::test_files::ListFolder;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::wire_format::BytesField;
using ::hp::wire_format::Fixed64Field;
using ::hp::wire_format::VarintField;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Diff(const google::protobuf::Message& a,
                 const google::protobuf::Message& b) {
  std::string report;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(a, b);
  return report;
}

// Every byte value, so raw data with zeros and high bytes is covered.
std::string AllByteValues() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  return bytes;
}

// A small model: x -> Relu -> y, with one raw-data initializer.
onnx::ModelProto MakeModel() {
  onnx::ModelProto model;
  model.set_ir_version(10);
  model.set_producer_name("hp-test");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(21);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("main");
  onnx::NodeProto* node = graph->add_node();
  node->set_name("/encoder/Relu");
  node->set_op_type("Relu");
  node->add_input("x");
  node->add_output("y");
  node->set_doc_string("relu doc");
  onnx::TensorProto* weight = graph->add_initializer();
  weight->set_name("w");
  weight->set_data_type(onnx::TensorProto::UINT8);
  weight->add_dims(256);
  weight->set_raw_data(AllByteValues());
  graph->add_input()->set_name("x");
  graph->add_output()->set_name("y");
  return model;
}

// A graph with one node `op_type` reading `input` and writing `output`.
onnx::GraphProto MakeBranch(const std::string& name,
                            const std::string& op_type) {
  onnx::GraphProto branch;
  branch.set_name(name);
  onnx::NodeProto* node = branch.add_node();
  node->set_name(absl::StrCat("/", name, "/", op_type));
  node->set_op_type(op_type);
  node->add_input("x");
  node->add_output(absl::StrCat(name, "_out"));
  node->set_doc_string(absl::StrCat(name, " doc"));
  branch.add_output()->set_name(absl::StrCat(name, "_out"));
  return branch;
}

// A model whose first initializer is stored as external data at `location`
// (no location entry when `location` is null).
onnx::ModelProto MakeExternalDataModel(const char* location) {
  onnx::ModelProto model = MakeModel();
  onnx::TensorProto* weight = model.mutable_graph()->mutable_initializer(0);
  weight->clear_raw_data();
  weight->set_data_location(onnx::TensorProto::EXTERNAL);
  if (location != nullptr) {
    onnx::StringStringEntryProto* entry = weight->add_external_data();
    entry->set_key("location");
    entry->set_value(location);
  }
  onnx::StringStringEntryProto* offset = weight->add_external_data();
  offset->set_key("offset");
  offset->set_value("0");
  onnx::StringStringEntryProto* length = weight->add_external_data();
  length->set_key("length");
  length->set_value("256");
  return model;
}

// A model in canonical field order that carries unknown fields at three
// depths: ModelProto 99 and 100, NodeProto 42, TensorProto 17 and
// OperatorSetIdProto 3.
std::string ModelWithUnknownFields() {
  const std::string node = BytesField(1, "x") + BytesField(2, "y") +
                           BytesField(3, "/Relu") + BytesField(4, "Relu") +
                           BytesField(42, "future node field");
  const std::string tensor =
      VarintField(1, 4) + VarintField(2, 2) + BytesField(8, "w") +
      BytesField(9, std::string("\x01\x02\x00\x04", 4)) + VarintField(17, 7);
  const std::string graph =
      BytesField(1, node) + BytesField(2, "main") + BytesField(5, tensor);
  const std::string opset = BytesField(1, "") + VarintField(2, 21) +
                            BytesField(3, "future opset field");
  return VarintField(1, 10) + BytesField(2, "hand-written") +
         BytesField(7, graph) + BytesField(8, opset) +
         VarintField(99, 123456789) + Fixed64Field(100, 0x0123456789abcdefULL);
}

// Bytes `read` has read so far, from /proc/self/io.
uint64_t BytesReadByThisProcess() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  ADD_FAILURE() << "/proc/self/io has no rchar line";
  return 0;
}

// ----------------------------------------------------------------------------
// Loading and saving.

TEST(ModelIoTest, LoadsFromPath) {
  const std::string folder = TestFolder();
  const onnx::ModelProto model = MakeModel();
  const std::string path = folder + "/model.onnx";
  WriteBytes(path, model.SerializeAsString());

  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(model, *loaded))
      << Diff(model, *loaded);
}

TEST(ModelIoTest, ParsesFromBytes) {
  const onnx::ModelProto model = MakeModel();
  absl::StatusOr<onnx::ModelProto> parsed =
      ParseModel(model.SerializeAsString(), "<memory>");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(MessageDifferencer::Equals(model, *parsed))
      << Diff(model, *parsed);
}

TEST(ModelIoTest, SaveThenLoadGivesAnEqualModel) {
  const std::string folder = TestFolder();
  const onnx::ModelProto model = MakeModel();
  const std::string path = folder + "/out.onnx";
  ASSERT_TRUE(SaveModel(model, path).ok());

  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(model, *loaded))
      << Diff(model, *loaded);
  EXPECT_EQ(ReadBytes(path), *SerializeModel(model, path));
}

TEST(ModelIoTest, SerializationIsDeterministic) {
  const onnx::ModelProto model = MakeModel();
  absl::StatusOr<std::string> first = SerializeModel(model, "a.onnx");
  absl::StatusOr<std::string> second = SerializeModel(model, "b.onnx");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(*first, model.SerializeAsString());
}

// ----------------------------------------------------------------------------
// Losslessness.

TEST(ModelIoTest, UnknownFieldsSurviveLoadAndSaveByteForByte) {
  const std::string folder = TestFolder();
  const std::string original = ModelWithUnknownFields();
  const std::string input = folder + "/future.onnx";
  const std::string output = folder + "/saved.onnx";
  WriteBytes(input, original);

  absl::StatusOr<onnx::ModelProto> model = LoadModel(input);
  ASSERT_TRUE(model.ok()) << model.status();
  // The known fields around the unknown ones were read.
  EXPECT_EQ(model->ir_version(), 10);
  ASSERT_EQ(model->graph().node_size(), 1);
  EXPECT_EQ(model->graph().node(0).op_type(), "Relu");
  EXPECT_EQ(model->graph().initializer(0).raw_data(),
            std::string("\x01\x02\x00\x04", 4));
  EXPECT_EQ(model->opset_import(0).version(), 21);
  // And the unknown ones were kept.
  EXPECT_EQ(model->GetReflection()->GetUnknownFields(*model).field_count(), 2);
  EXPECT_EQ(model->graph()
                .node(0)
                .GetReflection()
                ->GetUnknownFields(model->graph().node(0))
                .field_count(),
            1);

  ASSERT_TRUE(SaveModel(*model, output, {input, false}).ok());
  EXPECT_EQ(ReadBytes(output), original);
}

TEST(ModelIoTest, UnknownFieldsSurviveAnEditOfTheirMessage) {
  absl::StatusOr<onnx::ModelProto> model =
      ParseModel(ModelWithUnknownFields(), "<memory>");
  ASSERT_TRUE(model.ok()) << model.status();
  onnx::NodeProto* node = model->mutable_graph()->mutable_node(0);
  onnx::StringStringEntryProto* tag = node->add_metadata_props();
  tag->set_key("hp.scope");
  tag->set_value("/encoder");

  absl::StatusOr<std::string> bytes = SerializeModel(*model, "<memory>");
  ASSERT_TRUE(bytes.ok());
  absl::StatusOr<onnx::ModelProto> reparsed = ParseModel(*bytes, "<memory>");
  ASSERT_TRUE(reparsed.ok());
  const onnx::NodeProto& saved = reparsed->graph().node(0);
  EXPECT_EQ(saved.metadata_props(0).value(), "/encoder");
  const google::protobuf::UnknownFieldSet& unknown =
      saved.GetReflection()->GetUnknownFields(saved);
  ASSERT_EQ(unknown.field_count(), 1);
  EXPECT_EQ(unknown.field(0).number(), 42);
  EXPECT_EQ(unknown.field(0).length_delimited(), "future node field");
  EXPECT_TRUE(MessageDifferencer::Equals(*model, *reparsed));
}

TEST(ModelIoTest, DocStringsFunctionsSubgraphsAndRawBytesSurvive) {
  const std::string folder = TestFolder();
  onnx::ModelProto model = MakeModel();
  model.set_doc_string("model doc");
  onnx::GraphProto* graph = model.mutable_graph();

  onnx::NodeProto* if_node = graph->add_node();
  if_node->set_name("/If");
  if_node->set_op_type("If");
  if_node->add_input("cond");
  if_node->add_output("z");
  onnx::AttributeProto* then_branch = if_node->add_attribute();
  then_branch->set_name("then_branch");
  then_branch->set_type(onnx::AttributeProto::GRAPH);
  *then_branch->mutable_g() = MakeBranch("then", "Identity");
  onnx::AttributeProto* else_branch = if_node->add_attribute();
  else_branch->set_name("else_branch");
  else_branch->set_type(onnx::AttributeProto::GRAPH);
  *else_branch->mutable_g() = MakeBranch("else", "Neg");

  onnx::NodeProto* loop = graph->add_node();
  loop->set_name("/Loop");
  loop->set_op_type("Loop");
  onnx::AttributeProto* body = loop->add_attribute();
  body->set_name("body");
  body->set_type(onnx::AttributeProto::GRAPH);
  *body->mutable_g() = MakeBranch("body", "Add");
  // A subgraph inside a subgraph, with its own raw initializer.
  onnx::NodeProto* inner = body->mutable_g()->add_node();
  inner->set_op_type("If");
  onnx::AttributeProto* inner_branch = inner->add_attribute();
  inner_branch->set_name("then_branch");
  inner_branch->set_type(onnx::AttributeProto::GRAPH);
  *inner_branch->mutable_g() = MakeBranch("inner", "Sub");
  onnx::TensorProto* inner_weight =
      inner_branch->mutable_g()->add_initializer();
  inner_weight->set_name("inner_w");
  inner_weight->set_raw_data(std::string("\x00\xff\x00", 3));

  onnx::FunctionProto* function = model.add_functions();
  function->set_name("MyGelu");
  function->set_domain("hp.test");
  function->set_doc_string("function doc");
  function->add_input("x");
  function->add_output("y");
  onnx::NodeProto* function_node = function->add_node();
  function_node->set_op_type("Erf");
  function_node->set_doc_string("function node doc");
  graph->add_node()->set_op_type("MyGelu");
  graph->mutable_node(graph->node_size() - 1)->set_domain("hp.test");

  const std::string path = folder + "/rich.onnx";
  ASSERT_TRUE(SaveModel(model, path).ok());
  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(model, *loaded))
      << Diff(model, *loaded);

  // The same facts, spelled out, in case equality were ever weakened.
  EXPECT_EQ(loaded->doc_string(), "model doc");
  EXPECT_EQ(loaded->graph().node(0).doc_string(), "relu doc");
  EXPECT_EQ(loaded->graph().initializer(0).raw_data(), AllByteValues());
  EXPECT_EQ(loaded->graph().node(1).attribute(1).g().node(0).op_type(), "Neg");
  EXPECT_EQ(loaded->graph().node(1).attribute(0).g().node(0).doc_string(),
            "then doc");
  const onnx::GraphProto& inner_graph =
      loaded->graph().node(2).attribute(0).g().node(1).attribute(0).g();
  EXPECT_EQ(inner_graph.node(0).op_type(), "Sub");
  EXPECT_EQ(inner_graph.initializer(0).raw_data(),
            std::string("\x00\xff\x00", 3));
  ASSERT_EQ(loaded->functions_size(), 1);
  EXPECT_EQ(loaded->functions(0).name(), "MyGelu");
  EXPECT_EQ(loaded->functions(0).node(0).doc_string(), "function node doc");
}

// ----------------------------------------------------------------------------
// External data.

TEST(ModelIoTest, ExternalDataLoadsWithoutTheSideFileAndSavesUnchanged) {
  const std::string folder = TestFolder();
  const onnx::ModelProto model = MakeExternalDataModel("weights.bin");
  const std::string input = folder + "/model.onnx";
  const std::string output = folder + "/tagged.onnx";
  WriteBytes(input, model.SerializeAsString());
  // weights.bin does not exist: loading must not need it.
  ASSERT_FALSE(fs::exists(folder + "/weights.bin"));

  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(input);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(SaveModel(*loaded, output, {input, false}).ok());

  EXPECT_EQ(ReadBytes(output), ReadBytes(input));
  absl::StatusOr<onnx::ModelProto> saved = LoadModel(output);
  ASSERT_TRUE(saved.ok()) << saved.status();
  const onnx::TensorProto& weight = saved->graph().initializer(0);
  EXPECT_EQ(weight.data_location(), onnx::TensorProto::EXTERNAL);
  EXPECT_FALSE(weight.has_raw_data());
  ASSERT_EQ(weight.external_data_size(), 3);
  EXPECT_EQ(weight.external_data(0).key(), "location");
  EXPECT_EQ(weight.external_data(0).value(), "weights.bin");
  EXPECT_THAT(ListFolder(folder), ElementsAre("model.onnx", "tagged.onnx"));
}

TEST(ModelIoTest, ExternalDataSideFileIsNeverRead) {
  const std::string folder = TestFolder();
  const std::string input = folder + "/model.onnx";
  WriteBytes(input, MakeExternalDataModel("weights.bin").SerializeAsString());
  // A side file that cannot be read as a file at all.
  fs::create_directory(folder + "/weights.bin");

  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(input);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
}

TEST(ModelIoTest, ExternalDataThroughASymlinkInsideTheFolderIsAccepted) {
  const std::string folder = TestFolder();
  fs::create_directory(folder + "/shards");
  WriteBytes(folder + "/shards/weights.bin", std::string(256, '\0'));
  fs::create_symlink("shards/weights.bin", folder + "/alias.bin");
  const std::string input = folder + "/model.onnx";
  WriteBytes(input, MakeExternalDataModel("alias.bin").SerializeAsString());
  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(input);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
}

// Writes the model to `folder`/model.onnx and returns LoadModel's status.
absl::Status LoadWithLocation(const std::string& folder, const char* location) {
  const std::string input = folder + "/model.onnx";
  WriteBytes(input, MakeExternalDataModel(location).SerializeAsString());
  return LoadModel(input).status();
}

TEST(ModelIoTest, RefusesAnAbsoluteExternalDataLocation) {
  const std::string folder = TestFolder();
  absl::Status status = LoadWithLocation(folder, "/etc/passwd");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(folder + "/model.onnx"));
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
  EXPECT_THAT(status.message(), HasSubstr("'/etc/passwd'"));
  EXPECT_THAT(status.message(), HasSubstr("absolute path"));
}

TEST(ModelIoTest, RefusesADotDotExternalDataLocation) {
  const std::string folder = TestFolder();
  for (const char* location : {"../weights.bin", "shards/../../weights.bin",
                               "shards/../weights.bin"}) {
    absl::Status status = LoadWithLocation(folder, location);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << location;
    EXPECT_THAT(status.message(), HasSubstr(folder + "/model.onnx"));
    EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
    EXPECT_THAT(status.message(), HasSubstr(location));
    EXPECT_THAT(status.message(), HasSubstr("contains '..'"));
  }
}

TEST(ModelIoTest, RefusesAnExternalDataSymlinkLeadingOutside) {
  const std::string root = TestFolder();
  const std::string folder = root + "/model";
  fs::create_directories(folder);
  fs::create_directories(root + "/elsewhere");
  WriteBytes(root + "/elsewhere/secret.bin", std::string(256, 'x'));
  fs::create_symlink(root + "/elsewhere/secret.bin", folder + "/file_link.bin");
  fs::create_symlink("../elsewhere", folder + "/folder_link");

  for (const char* location : {"file_link.bin", "folder_link/secret.bin",
                               "folder_link/not_there.bin"}) {
    absl::Status status = LoadWithLocation(folder, location);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << location;
    EXPECT_THAT(status.message(), HasSubstr(folder + "/model.onnx"));
    EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
    EXPECT_THAT(status.message(), HasSubstr(location));
    EXPECT_THAT(status.message(),
                HasSubstr("leads outside the model's folder"));
  }
}

// Bazel's sandbox and runfiles: the model and its side file are both links
// into the folder where they were made, which is the model's real folder.
TEST(ModelIoTest, AcceptsASideFileLinkedBesideTheModelsOwnFile) {
  const std::string root = TestFolder();
  fs::create_directories(root + "/made");
  fs::create_directories(root + "/runfiles");
  WriteBytes(root + "/made/model.onnx",
             MakeExternalDataModel("w.bin").SerializeAsString());
  WriteBytes(root + "/made/w.bin", std::string(256, 'x'));
  fs::create_symlink(root + "/made/model.onnx", root + "/runfiles/model.onnx");
  fs::create_symlink(root + "/made/w.bin", root + "/runfiles/w.bin");
  absl::StatusOr<onnx::ModelProto> model =
      LoadModel(root + "/runfiles/model.onnx");
  EXPECT_TRUE(model.ok()) << model.status();

  // A side file linked from elsewhere is still refused.
  fs::create_directories(root + "/elsewhere");
  WriteBytes(root + "/elsewhere/w.bin", std::string(256, 'x'));
  fs::remove(root + "/runfiles/w.bin");
  fs::create_symlink(root + "/elsewhere/w.bin", root + "/runfiles/w.bin");
  model = LoadModel(root + "/runfiles/model.onnx");
  EXPECT_THAT(model.status().message(),
              HasSubstr("leads outside the model's folder"));
}

TEST(ModelIoTest, RefusesExternalDataWithoutALocation) {
  const std::string folder = TestFolder();
  absl::Status status = LoadWithLocation(folder, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(folder + "/model.onnx"));
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
  EXPECT_THAT(status.message(), HasSubstr("no 'location' entry"));

  status = LoadWithLocation(folder, "");
  EXPECT_THAT(status.message(), HasSubstr("no 'location' entry"));
}

TEST(ModelIoTest, ChecksExternalDataInSubgraphsAndFunctions) {
  onnx::ModelProto bad_tensor = MakeExternalDataModel("/abs.bin");
  const onnx::TensorProto tensor = bad_tensor.graph().initializer(0);

  onnx::ModelProto in_subgraph = MakeModel();
  onnx::AttributeProto* branch =
      in_subgraph.mutable_graph()->mutable_node(0)->add_attribute();
  branch->set_name("then_branch");
  *branch->mutable_g()->add_initializer() = tensor;
  absl::Status status = CheckExternalDataLocations(in_subgraph, "m.onnx");
  EXPECT_THAT(status.message(), HasSubstr("m.onnx: tensor 'w'"));

  onnx::ModelProto in_function = MakeModel();
  onnx::AttributeProto* value =
      in_function.add_functions()->add_node()->add_attribute();
  value->set_name("value");
  *value->mutable_t() = tensor;
  status = CheckExternalDataLocations(in_function, "m.onnx");
  EXPECT_THAT(status.message(), HasSubstr("absolute path"));
}

// ----------------------------------------------------------------------------
// Bad inputs. Each must fail with a message naming the file, and leave the
// folder as it was (nothing written beside the input).

// Loads `path`, expects failure, and checks that loading and a would-be save
// after it left `folder` holding exactly `expected_names`.
absl::Status LoadExpectingFailure(
    const std::string& path, const std::string& folder,
    const std::vector<std::string>& expected_names) {
  absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
  EXPECT_FALSE(model.ok()) << path << " loaded";
  if (model.ok()) return absl::OkStatus();
  EXPECT_THAT(std::string(model.status().message()), HasSubstr(path));
  EXPECT_EQ(ListFolder(folder), expected_names);
  return model.status();
}

TEST(ModelIoTest, RefusesAnEmptyFile) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/empty.onnx";
  WriteBytes(path, "");
  absl::Status status = LoadExpectingFailure(path, folder, {"empty.onnx"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("empty file"));
}

TEST(ModelIoTest, RefusesATruncatedModel) {
  const std::string folder = TestFolder();
  const std::string whole = MakeModel().SerializeAsString();
  // The 256-byte initializer sits in the middle, so the cut lands inside a
  // length-delimited field.
  const std::string path = folder + "/truncated.onnx";
  WriteBytes(path, whole.substr(0, whole.size() / 2));
  absl::Status status = LoadExpectingFailure(path, folder, {"truncated.onnx"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not an ONNX model"));
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
}

TEST(ModelIoTest, RefusesRandomBytes) {
  const std::string folder = TestFolder();
  std::mt19937 random(20240601);
  for (int trial = 0; trial < 20; ++trial) {
    std::string bytes(1 + random() % 4096, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random());
    const std::string path = folder + "/random.onnx";
    WriteBytes(path, bytes);
    absl::Status status = LoadExpectingFailure(path, folder, {"random.onnx"});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << trial;
    EXPECT_THAT(status.message(), HasSubstr("not an ONNX model"));
  }
}

TEST(ModelIoTest, RefusesBytesThatParseButAreNotAModel) {
  // A valid protobuf message made only of fields ONNX does not define.
  absl::StatusOr<onnx::ModelProto> model =
      ParseModel(VarintField(99, 1) + BytesField(98, "text"), "data.bin");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("data.bin"));
  EXPECT_THAT(model.status().message(), HasSubstr("no ir_version"));
}

TEST(ModelIoTest, RefusesADirectory) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  fs::create_directory(path);
  absl::Status status = LoadExpectingFailure(path, folder, {"model.onnx"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is a directory"));
}

TEST(ModelIoTest, RefusesAFifoWithoutWaitingForAWriter) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
  // Opening a FIFO for reading blocks until a writer comes: LoadModel must
  // refuse it instead of hanging (the test would time out).
  absl::Status status = LoadExpectingFailure(path, folder, {"model.onnx"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a regular file"));
}

TEST(ModelIoTest, RefusesAMissingFile) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/absent.onnx";
  absl::Status status = LoadExpectingFailure(path, folder, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("No such file"));
}

TEST(ModelIoTest, RefusesAFileOver2GbBeforeReadingIt) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/huge.onnx";
  // Sparse: 2 GiB of size, no blocks on disk.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{1} << 31), 0);
  ASSERT_EQ(::close(fd), 0);
  ASSERT_EQ(fs::file_size(path), uint64_t{1} << 31);

  const uint64_t read_before = BytesReadByThisProcess();
  absl::Status status = LoadExpectingFailure(path, folder, {"huge.onnx"});
  const uint64_t read_after = BytesReadByThisProcess();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("2147483648 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("2 GB limit"));
  EXPECT_THAT(status.message(), HasSubstr("external data"));
  // Refused from its size alone: not even the first megabyte was read.
  EXPECT_LT(read_after - read_before, uint64_t{1} << 20);
  fs::remove(path);
}

// ----------------------------------------------------------------------------
// Saving.

TEST(ModelIoTest, RefusesToOverwriteTheInput) {
  const std::string folder = TestFolder();
  const std::string input = folder + "/model.onnx";
  const std::string original = MakeModel().SerializeAsString();
  WriteBytes(input, original);
  fs::create_hard_link(input, folder + "/hard_link.onnx");
  onnx::ModelProto edited = MakeModel();
  edited.set_doc_string("edited");

  for (const std::string& output :
       {input, folder + "/./model.onnx", folder + "/hard_link.onnx"}) {
    absl::Status status = SaveModel(edited, output, {input, false});
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << output;
    EXPECT_THAT(status.message(), HasSubstr(output));
    EXPECT_THAT(status.message(), HasSubstr("refusing to overwrite the input"));
    EXPECT_THAT(status.message(), HasSubstr("in-place writing"));
  }
  EXPECT_EQ(ReadBytes(input), original);
  EXPECT_THAT(ListFolder(folder), ElementsAre("hard_link.onnx", "model.onnx"));
}

TEST(ModelIoTest, OverwritesTheInputWhenAskedTo) {
  const std::string folder = TestFolder();
  const std::string input = folder + "/model.onnx";
  WriteBytes(input, MakeModel().SerializeAsString());
  onnx::ModelProto edited = MakeModel();
  edited.set_doc_string("edited");

  absl::Status status = SaveModel(edited, input, {input, true});
  ASSERT_TRUE(status.ok()) << status;
  absl::StatusOr<onnx::ModelProto> loaded = LoadModel(input);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->doc_string(), "edited");
  EXPECT_THAT(ListFolder(folder), ElementsAre("model.onnx"));
}

TEST(ModelIoTest, AtomicSaveLeavesNoTemporaryFiles) {
  const std::string folder = TestFolder();
  const std::string output = folder + "/out.onnx";
  ASSERT_TRUE(SaveModel(MakeModel(), output).ok());
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.onnx"));
  // Replacing an existing output, too.
  onnx::ModelProto edited = MakeModel();
  edited.set_doc_string("second");
  ASSERT_TRUE(SaveModel(edited, output).ok());
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.onnx"));
  EXPECT_EQ(LoadModel(output)->doc_string(), "second");
}

TEST(ModelIoTest, SaveIntoAMissingFolderFailsCleanly) {
  const std::string folder = TestFolder();
  const std::string output = folder + "/missing/out.onnx";
  absl::Status status = SaveModel(MakeModel(), output);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(output));
  EXPECT_FALSE(fs::exists(folder + "/missing"));
  EXPECT_THAT(ListFolder(folder), ElementsAre());
}

TEST(ModelIoTest, SaveOntoADirectoryFailsAndLeavesNoTemporaryFile) {
  const std::string folder = TestFolder();
  const std::string output = folder + "/out.onnx";
  fs::create_directory(output);
  absl::Status status = SaveModel(MakeModel(), output);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(output));
  EXPECT_THAT(ListFolder(folder), ElementsAre("out.onnx"));
  EXPECT_TRUE(fs::is_directory(output));
  EXPECT_THAT(ListFolder(output), ElementsAre());
}

}  // namespace
}  // namespace hp
