// Batches: every model gets its own result, failures (file and reason) do
// not stop the others, good outputs are those a single run writes, bad ones
// leave nothing; items come from folders, lists and manifests.
#include "hp/batch/batch_tagger.h"

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/batch/batch_inputs.h"
#include "hp/batch/progress.h"
#include "hp/pipeline/tag_file.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_files.h"
#include "tests/support/test_folder.h"

namespace hp {
namespace {

using ::hp::test_files::CopyExternalDataFixture;
using ::hp::test_files::Inode;
using ::hp::test_files::kLibonnxTestdata;
using ::hp::test_files::ListTree;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::testing_batch::MakeMixedFolder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const BatchItemResult& ResultFor(const BatchResult& batch,
                                 const std::string& model_suffix) {
  for (const BatchItemResult& item : batch.items) {
    if (absl::EndsWith(item.item.model, model_suffix)) return item;
  }
  ADD_FAILURE() << "no result for " << model_suffix;
  static const BatchItemResult* none = new BatchItemResult();
  return *none;
}

BatchLayout IntoFolder(const std::string& output_dir) {
  BatchLayout layout;
  layout.output_dir = output_dir;
  return layout;
}

TEST(BatchTaggerTest, FailuresAreReportedPerFileAndTheOthersAreWritten) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromFolder(folder + "/in", false, IntoFolder(folder + "/out"));
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 5u);

  BatchOptions options;
  options.jobs = 3;
  std::vector<int> done_counts;
  BatchResult batch = TagBatch(
      *items, options, [&](const BatchItemResult&, int done, int total) {
        EXPECT_EQ(total, 5);
        done_counts.push_back(done);
      });
  EXPECT_THAT(done_counts, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(batch.failed, 3);
  EXPECT_EQ(batch.jobs, 3);

  EXPECT_TRUE(ResultFor(batch, "/tiny_bert.onnx").status.ok());
  EXPECT_TRUE(ResultFor(batch, "/tiny_resnet.onnx").status.ok());
  EXPECT_EQ(ResultFor(batch, "/tiny_bert.onnx").statistics.nodes, 102);
  EXPECT_EQ(ResultFor(batch, "/tiny_bert.onnx").source,
            HierarchySource::kTrace);
  for (const char* bad : {"/truncated.onnx", "/random.onnx"}) {
    const absl::Status& status = ResultFor(batch, bad).status;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr(bad));
    EXPECT_THAT(std::string(status.message()), HasSubstr("not an ONNX model"));
  }
  const absl::Status& mismatch = ResultFor(batch, "/mismatch.onnx").status;
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(mismatch.message()),
              HasSubstr("mismatch.trace.json"));
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("does not match"));

  // Good outputs only, nothing half-written.
  EXPECT_THAT(ListTree(folder + "/out"),
              ElementsAre("tiny_bert.onnx", "tiny_resnet.onnx"));
  // Each equals what tagging that one model writes.
  TagFileRequest single;
  single.model_path = folder + "/in/tiny_bert.onnx";
  single.trace_path = folder + "/in/tiny_bert.trace.json";
  single.output_path = folder + "/single.onnx";
  ASSERT_TRUE(TagFile(single, TagFileOptions()).ok());
  EXPECT_TRUE(ReadBytes(folder + "/out/tiny_bert.onnx") ==
              ReadBytes(folder + "/single.onnx"));
}

// in/: the external-data fixture, twin.onnx (a copy of its model sharing
// its side file) and sub/ (another copy of both). Outputs go to out/.
std::vector<BatchItem> ExternalDataItems(const std::string& folder) {
  CopyExternalDataFixture(folder + "/in");
  CopyExternalDataFixture(folder + "/in/sub");
  WriteBytes(folder + "/in/twin.onnx", ReadBytes(folder + "/in/mlp.onnx"));
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromFolder(folder + "/in", true, IntoFolder(folder + "/out"));
  EXPECT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(items.ok() ? items->size() : 0, 3u);
  return items.value_or(std::vector<BatchItem>());
}

TEST(BatchTaggerTest, ExternalDataModelsKeepTheirSideFilesInTheLayout) {
  for (ExternalDataMode mode :
       {ExternalDataMode::kLink, ExternalDataMode::kCopy}) {
    const std::string folder = TestFolder();
    const std::vector<BatchItem> items = ExternalDataItems(folder);
    BatchOptions options;
    options.jobs = 3;  // mlp.onnx and twin.onnx place one file at once
    options.tag_file.external_data.mode = mode;
    BatchResult batch = TagBatch(items, options);
    for (const BatchItemResult& item : batch.items) {
      EXPECT_TRUE(item.status.ok()) << item.item.model << ": " << item.status;
    }
    EXPECT_THAT(ListTree(folder + "/out"),
                ElementsAre("mlp.onnx", "mlp.onnx.data", "sub/mlp.onnx",
                            "sub/mlp.onnx.data", "twin.onnx"));
    for (const char* side : {"/mlp.onnx.data", "/sub/mlp.onnx.data"}) {
      const std::string in = folder + "/in" + side;
      const std::string out = folder + "/out" + side;
      EXPECT_TRUE(ReadBytes(out) == ReadBytes(in)) << side;
      if (mode == ExternalDataMode::kLink) {
        EXPECT_EQ(Inode(out), Inode(in)) << side;
      } else {
        EXPECT_NE(Inode(out), Inode(in)) << side;
      }
    }
    EXPECT_THAT(ListTree(folder + "/in"),
                ElementsAre("mlp.onnx", "mlp.onnx.data", "sub/mlp.onnx",
                            "sub/mlp.onnx.data", "twin.onnx"));
  }
}

TEST(BatchTaggerTest, ExternalDataErrorModeFailsEachModelAndWritesNothing) {
  const std::string folder = TestFolder();
  const std::vector<BatchItem> items = ExternalDataItems(folder);
  BatchOptions options;
  options.tag_file.external_data.mode = ExternalDataMode::kError;
  BatchResult batch = TagBatch(items, options);
  EXPECT_EQ(batch.failed, 3);
  for (const BatchItemResult& item : batch.items) {
    EXPECT_EQ(item.status.code(), absl::StatusCode::kFailedPrecondition)
        << item.item.model;
    EXPECT_THAT(std::string(item.status.message()), HasSubstr("mlp.onnx.data"));
  }
  EXPECT_THAT(ListTree(folder + "/out"), ElementsAre());
}

TEST(BatchTaggerTest, OneWorkerAndManyGiveTheSameResults) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  BatchOptions options;
  std::vector<std::string> outputs;
  for (int jobs : {1, 4}) {
    const std::string out = absl::StrCat(folder, "/out", jobs);
    absl::StatusOr<std::vector<BatchItem>> items =
        ItemsFromFolder(folder + "/in", true, IntoFolder(out));
    ASSERT_TRUE(items.ok()) << items.status();
    options.jobs = jobs;
    BatchResult batch = TagBatch(*items, options);
    ASSERT_EQ(batch.items.size(), 6u);
    // Results are in the order of the items, whatever finished first.
    for (size_t i = 0; i < items->size(); ++i) {
      EXPECT_EQ(batch.items[i].item.model, (*items)[i].model);
    }
    EXPECT_EQ(batch.failed, 3);
    EXPECT_THAT(
        ListTree(out),
        ElementsAre("sub/tiny_gpt.onnx", "tiny_bert.onnx", "tiny_resnet.onnx"));
    outputs.push_back(ReadBytes(out + "/sub/tiny_gpt.onnx"));
  }
  EXPECT_TRUE(outputs[0] == outputs[1]);
}

TEST(BatchTaggerTest, InPlaceOverwritesEachGoodModelOnly) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder);
  const std::string truncated = ReadBytes(folder + "/truncated.onnx");
  BatchLayout layout;
  layout.in_place = true;
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromFolder(folder, false, layout);
  ASSERT_TRUE(items.ok());
  BatchOptions options;
  options.overwrite_input = true;
  BatchResult batch = TagBatch(*items, options);
  EXPECT_EQ(batch.failed, 3);
  EXPECT_THAT(ReadBytes(folder + "/tiny_bert.onnx"), HasSubstr("pkg.hp.tag"));
  EXPECT_EQ(ReadBytes(folder + "/truncated.onnx"), truncated);
  EXPECT_EQ(ListTree(folder).size(), 10u);  // no temporary files left
}

TEST(BatchTaggerTest, WithoutInPlaceAnOutputOntoItsModelIsRefused) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder);
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromFolder(folder, false, IntoFolder(folder));
  ASSERT_TRUE(items.ok());
  BatchResult batch = TagBatch(*items, BatchOptions());
  EXPECT_THAT(std::string(ResultFor(batch, "/tiny_bert.onnx").status.message()),
              HasSubstr("refusing to overwrite the input"));
}

// ----------------------------------------------------------------------------
// Where items come from.

TEST(BatchInputsTest, FolderFindsModelsAndTheirTraces) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  absl::StatusOr<std::vector<BatchItem>> flat =
      ItemsFromFolder(folder + "/in", false, IntoFolder(folder + "/out"));
  ASSERT_TRUE(flat.ok());
  std::vector<std::string> models;
  for (const BatchItem& item : *flat) models.push_back(item.model);
  EXPECT_EQ(models.size(), 5u);
  EXPECT_EQ((*flat)[2].model, folder + "/in/tiny_bert.onnx");
  EXPECT_EQ((*flat)[2].trace, folder + "/in/tiny_bert.trace.json");
  EXPECT_EQ((*flat)[2].output, folder + "/out/tiny_bert.onnx");
  EXPECT_EQ((*flat)[1].trace, "");  // random.onnx: no trace beside it

  BatchLayout no_traces = IntoFolder(folder + "/in/out");
  no_traces.no_traces = true;
  absl::StatusOr<std::vector<BatchItem>> deep =
      ItemsFromFolder(folder + "/in", true, no_traces);
  ASSERT_TRUE(deep.ok());
  ASSERT_EQ(deep->size(), 6u);
  EXPECT_EQ((*deep)[2].output, folder + "/in/out/sub/tiny_gpt.onnx");
  for (const BatchItem& item : *deep) EXPECT_EQ(item.trace, "");
  // An output folder inside the models' is not read as models.
  std::filesystem::create_directories(folder + "/in/out");
  WriteBytes(folder + "/in/out/old.onnx", "x");
  deep = ItemsFromFolder(folder + "/in", true, no_traces);
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->size(), 6u);
}

TEST(BatchInputsTest, FolderErrors) {
  const std::string folder = TestFolder();
  EXPECT_THAT(
      std::string(ItemsFromFolder(folder, false, IntoFolder(folder + "/out"))
                      .status()
                      .message()),
      HasSubstr("no *.onnx files"));
  EXPECT_EQ(ItemsFromFolder(folder + "/absent", false, IntoFolder("out"))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ItemsFromFolder(folder, false, BatchLayout()).ok());
}

TEST(BatchInputsTest, ListResolvesPathsAgainstItsFolder) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  WriteBytes(folder + "/in/list.txt",
             "# models to tag\n"
             "tiny_bert.onnx\n"
             "\n"
             "  sub/tiny_gpt.onnx  \n" +
                 folder + "/in/tiny_resnet.onnx\n");
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromList(folder + "/in/list.txt", IntoFolder(folder + "/out"));
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0].model, folder + "/in/tiny_bert.onnx");
  EXPECT_EQ((*items)[0].trace, folder + "/in/tiny_bert.trace.json");
  EXPECT_EQ((*items)[1].output, folder + "/out/sub/tiny_gpt.onnx");
  EXPECT_EQ((*items)[2].output, folder + "/out/tiny_resnet.onnx");

  EXPECT_THAT(
      std::string(ItemsFromList(folder + "/absent.txt", IntoFolder("out"))
                      .status()
                      .message()),
      HasSubstr("absent.txt"));
}

// The layout of ONNX's own test data: every model is called model.onnx, in
// a folder of its own.
const char* const kNamedAlike[] = {"node/test_abs", "node/test_acos",
                                   "node/test_add"};

std::string Outputs(const std::vector<BatchItem>& items,
                    const std::string& output_dir) {
  std::string outputs;
  for (const BatchItem& item : items) {
    absl::StrAppend(&outputs, outputs.empty() ? "" : " ",
                    std::filesystem::path(item.output)
                        .lexically_relative(output_dir)
                        .string());
  }
  return outputs;
}

TEST(BatchInputsTest, ListOfModelsNamedAlikeKeepsTheirFolders) {
  const std::string folder = TestFolder();
  std::string list;
  for (const char* test : kNamedAlike) {
    absl::StrAppend(&list, kLibonnxTestdata, "/", test, "/model.onnx\n");
  }
  WriteBytes(folder + "/list.txt", list);
  const std::string out = folder + "/out";
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromList(folder + "/list.txt", IntoFolder(out));
  ASSERT_TRUE(items.ok()) << items.status();
  // Named relative to the deepest folder holding all three: .../data/node.
  EXPECT_EQ(Outputs(*items, out),
            "test_abs/model.onnx test_acos/model.onnx test_add/model.onnx");
  EXPECT_EQ((*items)[0].model,
            absl::StrCat(kLibonnxTestdata, "/node/test_abs/model.onnx"));
  EXPECT_EQ((*items)[0].trace, "");  // none beside it

  BatchResult batch = TagBatch(*items, BatchOptions());
  EXPECT_EQ(batch.failed, 0);
  EXPECT_THAT(ListTree(out),
              ElementsAre("test_abs/model.onnx", "test_acos/model.onnx",
                          "test_add/model.onnx"));
  // Each output is its own model tagged, as a single run writes it.
  for (const char* test : kNamedAlike) {
    TagFileRequest single;
    single.model_path =
        absl::StrCat(kLibonnxTestdata, "/", test, "/model.onnx");
    single.output_path = folder + "/single.onnx";
    ASSERT_TRUE(TagFile(single, TagFileOptions()).ok()) << test;
    EXPECT_TRUE(ReadBytes(single.output_path) ==
                ReadBytes(absl::StrCat(out, "/", std::string(test).substr(5),
                                       "/model.onnx")))
        << test;
  }
}

TEST(BatchInputsTest, ListCommonFolderOfRelativeAndAbsoluteEntries) {
  const std::string folder = TestFolder();
  for (const char* test : kNamedAlike) {
    std::filesystem::create_directories(folder + "/data/" + test);
    WriteBytes(absl::StrCat(folder, "/data/", test, "/model.onnx"), test);
  }
  std::filesystem::create_directories(folder + "/lists");
  const std::string out = folder + "/out";
  auto outputs_of = [&](const std::string& list) {
    WriteBytes(folder + "/lists/list.txt", list);
    absl::StatusOr<std::vector<BatchItem>> items =
        ItemsFromList(folder + "/lists/list.txt", IntoFolder(out));
    EXPECT_TRUE(items.ok()) << items.status();
    return items.ok() ? Outputs(*items, out) : "";
  };
  // Climbing out with '..': the deepest folder holding the models.
  EXPECT_EQ(outputs_of("../data/node/test_abs/model.onnx\n"
                       "../data/node/test_acos/model.onnx\n"),
            "test_abs/model.onnx test_acos/model.onnx");
  // A relative entry and an absolute one: the same rule on absolute paths.
  EXPECT_EQ(outputs_of("../data/node/test_abs/model.onnx\n" + folder +
                       "/data/node/test_add/model.onnx\n"),
            "test_abs/model.onnx test_add/model.onnx");
  // One model alone keeps its file name.
  EXPECT_EQ(outputs_of(folder + "/data/node/test_add/model.onnx\n"),
            "model.onnx");

  // Entries below the list's folder keep the path as written, also when
  // they all share a subfolder; an absolute one below it is named alike.
  WriteBytes(folder + "/data/list.txt",
             "node/test_abs/model.onnx\n" + folder +
                 "/data/node/test_acos/model.onnx\n");
  absl::StatusOr<std::vector<BatchItem>> below =
      ItemsFromList(folder + "/data/list.txt", IntoFolder(out));
  ASSERT_TRUE(below.ok()) << below.status();
  EXPECT_EQ(Outputs(*below, out),
            "node/test_abs/model.onnx node/test_acos/model.onnx");

  // A list named by a relative path: the same outputs, models relative too.
  const std::filesystem::path working = std::filesystem::current_path();
  std::filesystem::current_path(folder);
  absl::StatusOr<std::vector<BatchItem>> relative =
      ItemsFromList("data/list.txt", IntoFolder("out"));
  std::filesystem::current_path(working);
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ((*relative)[0].model, "data/node/test_abs/model.onnx");
  EXPECT_EQ(Outputs(*relative, "out"),
            "node/test_abs/model.onnx node/test_acos/model.onnx");
}

TEST(BatchInputsTest, ListRefusesAModelListedTwiceNamingBothLines) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  const BatchLayout layout = IntoFolder(folder + "/out");
  auto error_of = [&](const std::string& list) {
    WriteBytes(folder + "/in/list.txt", list);
    return std::string(
        ItemsFromList(folder + "/in/list.txt", layout).status().message());
  };
  const std::string message =
      error_of("tiny_bert.onnx\n# again\n./tiny_bert.onnx\n");
  EXPECT_EQ(message,
            absl::StrCat(folder,
                         "/in/list.txt: line 1 (tiny_bert.onnx) and "
                         "line 3 (./tiny_bert.onnx) are the same file, ",
                         folder, "/in/tiny_bert.onnx; list each model once"));
  // The same file by its absolute path, through a hard link and through a
  // symbolic link to its folder: each a different output name, one file.
  EXPECT_THAT(
      error_of("sub/tiny_gpt.onnx\n" + folder + "/in/sub/tiny_gpt.onnx\n"),
      HasSubstr("line 1 (sub/tiny_gpt.onnx) and line 2 ("));
  std::filesystem::create_hard_link(folder + "/in/tiny_bert.onnx",
                                    folder + "/in/bert_link.onnx");
  EXPECT_THAT(error_of("tiny_bert.onnx\nbert_link.onnx\n"),
              HasSubstr("line 1 (tiny_bert.onnx) and line 2 (bert_link.onnx) "
                        "are the same file"));
  std::filesystem::create_directory_symlink("sub", folder + "/in/linked");
  EXPECT_THAT(error_of("linked/tiny_gpt.onnx\n\nsub/tiny_gpt.onnx\n"),
              HasSubstr("line 1 (linked/tiny_gpt.onnx) and line 3 "
                        "(sub/tiny_gpt.onnx) are the same file"));
  // With --in_place too.
  BatchLayout in_place;
  in_place.in_place = true;
  WriteBytes(folder + "/in/list.txt", "tiny_bert.onnx\ntiny_bert.onnx\n");
  EXPECT_THAT(
      std::string(
          ItemsFromList(folder + "/in/list.txt", in_place).status().message()),
      HasSubstr("are the same file"));
}

TEST(BatchInputsTest, ManifestPairsModelsTracesAndOutputs) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  WriteBytes(folder + "/in/manifest.json", R"({"models": [
    {"model": "tiny_bert.onnx"},
    {"model": "mismatch.onnx", "trace": "tiny_bert.trace.json",
     "output": "renamed.onnx"},
    {"model": "tiny_resnet.onnx", "trace": null},
    {"model": "sub/tiny_gpt.onnx", "trace": "none"}
  ]})");
  absl::StatusOr<std::vector<BatchItem>> items = ItemsFromManifest(
      folder + "/in/manifest.json", IntoFolder(folder + "/out"));
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 4u);
  EXPECT_EQ((*items)[0].trace, folder + "/in/tiny_bert.trace.json");
  EXPECT_EQ((*items)[0].output, folder + "/out/tiny_bert.onnx");
  EXPECT_EQ((*items)[1].trace, folder + "/in/tiny_bert.trace.json");
  EXPECT_EQ((*items)[1].output, folder + "/out/renamed.onnx");
  EXPECT_EQ((*items)[2].trace, "");
  EXPECT_EQ((*items)[3].trace, "");
  EXPECT_EQ((*items)[3].output, folder + "/out/sub/tiny_gpt.onnx");

  // Without an output folder, outputs are relative to the manifest.
  WriteBytes(
      folder + "/in/own.json",
      R"({"models": [{"model": "tiny_bert.onnx", "output": "t.onnx"}]})");
  items = ItemsFromManifest(folder + "/in/own.json", BatchLayout());
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ((*items)[0].output, folder + "/in/t.onnx");
}

TEST(BatchInputsTest, ManifestErrorsNameTheEntry) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/manifest.json";
  const BatchLayout layout = IntoFolder(folder + "/out");
  WriteBytes(path, R"({"models": [{"model": "a.onnx"}, {"model": 3}]})");
  EXPECT_THAT(
      std::string(ItemsFromManifest(path, layout).status().message()),
      HasSubstr("models[1].model: expected a non-empty path string, got 3"));
  WriteBytes(path, R"({"models": [{"model": "a.onnx", "trace": 1}]})");
  EXPECT_THAT(std::string(ItemsFromManifest(path, layout).status().message()),
              HasSubstr("models[0].trace"));
  WriteBytes(path, R"([1, 2])");
  EXPECT_THAT(std::string(ItemsFromManifest(path, layout).status().message()),
              HasSubstr("\"models\" array"));
  WriteBytes(path, "{\"models\": [\n  {\"model\": \"a.onnx\",}\n]}");
  absl::Status syntax = ItemsFromManifest(path, layout).status();
  EXPECT_THAT(std::string(syntax.message()),
              StartsWith(path + ": JSON syntax error at line 2, column 22 "
                                "(byte offset 34): "));
  WriteBytes(path, R"({"models": [{"model": "a.onnx"}]})");
  EXPECT_THAT(
      std::string(ItemsFromManifest(path, BatchLayout()).status().message()),
      HasSubstr("models[0]: no \"output\""));
  WriteBytes(path, R"({"models": []})");
  EXPECT_THAT(std::string(ItemsFromManifest(path, layout).status().message()),
              HasSubstr("no models to tag"));
}

// ----------------------------------------------------------------------------
// What a user sees.

TEST(BatchReportTest, SummaryJsonHasTotalsAndOneEntryPerModel) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  absl::StatusOr<std::vector<BatchItem>> items =
      ItemsFromFolder(folder + "/in", false, IntoFolder(folder + "/out"));
  ASSERT_TRUE(items.ok());
  const BatchResult batch = TagBatch(*items, BatchOptions());
  const nlohmann::json summary = nlohmann::json::parse(BatchSummaryJson(batch));
  EXPECT_EQ(summary["models"], 5);
  EXPECT_EQ(summary["succeeded"], 2);
  EXPECT_EQ(summary["failed"], 3);
  ASSERT_EQ(summary["files"].size(), 5u);
  const nlohmann::json& bert = summary["files"][2];
  EXPECT_EQ(bert["model"], folder + "/in/tiny_bert.onnx");
  EXPECT_EQ(bert["status"], "ok");
  EXPECT_EQ(bert["nodes"], 102);
  EXPECT_EQ(bert["source"], "trace");
  EXPECT_TRUE(bert["seconds"].is_number());
  EXPECT_FALSE(bert.contains("error"));
  const nlohmann::json& random = summary["files"][1];
  EXPECT_EQ(random["status"], "failed");
  EXPECT_THAT(random["error"].get<std::string>(),
              HasSubstr("not an ONNX model"));
  EXPECT_TRUE(random["trace"].is_null());
}

std::string Printed(ProgressStyle style,
                    const std::vector<BatchItemResult>& results) {
  std::ostringstream out;
  ProgressPrinter printer(out, style);
  for (size_t i = 0; i < results.size(); ++i) {
    printer.Report(results[i], static_cast<int>(i + 1),
                   static_cast<int>(results.size()));
  }
  printer.Finish();
  return out.str();
}

TEST(BatchReportTest, ProgressNamesEveryFailureWithItsReason) {
  BatchItemResult good;
  good.item = {"m/a.onnx", "", "out/a.onnx"};
  good.statistics.nodes = 12;
  good.warnings = {"m/a.onnx: no node name carries a module scope"};
  BatchItemResult bad;
  bad.item = {"m/b.onnx", "", "out/b.onnx"};
  bad.status = absl::InvalidArgumentError("m/b.onnx: not an ONNX model");

  const std::string lines = Printed(ProgressStyle::kLines, {good, bad});
  EXPECT_THAT(lines, HasSubstr("[1/2] ok m/a.onnx -> out/a.onnx (12 nodes"));
  EXPECT_THAT(lines, HasSubstr("warning: m/a.onnx: no node name"));
  EXPECT_THAT(lines, HasSubstr("[2/2] FAILED m/b.onnx: not an ONNX model\n"));
  EXPECT_EQ(lines.find('\r'), std::string::npos);

  const std::string bar = Printed(ProgressStyle::kBar, {good, bad});
  EXPECT_THAT(bar, HasSubstr("\r[###############...............] 1/2 done"));
  EXPECT_THAT(bar, HasSubstr("FAILED m/b.onnx: not an ONNX model\n"));
  EXPECT_THAT(bar, HasSubstr("2/2 done, 1 failed\n"));

  const std::string quiet = Printed(ProgressStyle::kNone, {good, bad});
  EXPECT_THAT(quiet, Not(HasSubstr("ok m/a.onnx")));
  EXPECT_THAT(quiet, HasSubstr("FAILED m/b.onnx"));
}

}  // namespace
}  // namespace hp
