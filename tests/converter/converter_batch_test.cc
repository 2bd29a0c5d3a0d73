// `converter tag` over many models, end to end: exit status, what stderr
// says about each bad file, the summary JSON, and which outputs exist.
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_files.h"
#include "tests/support/test_folder.h"

namespace hp {
namespace {

using ::hp::test_files::ListTree;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::testing_batch::MakeMixedFolder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the converter with `arguments` (shell words), capturing both streams.
RunResult Converter(const std::string& folder, const std::string& arguments) {
  const std::string out = folder + "/stdout.txt";
  const std::string err = folder + "/stderr.txt";
  const int status = std::system(absl::StrCat("hp/converter ", arguments, " >",
                                              out, " 2>", err, " </dev/null")
                                     .c_str());
  RunResult run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadBytes(out);
  run.err = ReadBytes(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return run;
}

TEST(ConverterBatchTest, FolderWithBadFilesFailsButWritesTheGoodOnes) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  const RunResult run =
      Converter(folder, absl::StrCat("tag --models_dir ", folder,
                                     "/in --recursive --output_dir ", folder,
                                     "/out --jobs 2 --summary_json ", folder,
                                     "/summary.json"));
  EXPECT_EQ(run.exit_code, 1) << run.err;
  // Not a terminal: plain lines, each bad file named with its reason.
  EXPECT_THAT(run.err, Not(HasSubstr("\r")));
  EXPECT_THAT(run.err,
              HasSubstr(absl::StrCat("FAILED ", folder,
                                     "/in/truncated.onnx: not an ONNX model")));
  EXPECT_THAT(run.err,
              HasSubstr(absl::StrCat("FAILED ", folder,
                                     "/in/random.onnx: not an ONNX model")));
  EXPECT_THAT(run.err,
              HasSubstr(absl::StrCat("FAILED ", folder, "/in/mismatch.onnx")));
  EXPECT_THAT(run.err, HasSubstr("does not match"));
  EXPECT_THAT(run.err, HasSubstr("ok " + folder + "/in/tiny_bert.onnx"));
  EXPECT_THAT(run.err, HasSubstr("3 of 6 models failed"));
  EXPECT_THAT(run.out, HasSubstr("tagged 3 of 6 models"));

  EXPECT_THAT(
      ListTree(folder + "/out"),
      ElementsAre("sub/tiny_gpt.onnx", "tiny_bert.onnx", "tiny_resnet.onnx"));
  EXPECT_THAT(ReadBytes(folder + "/out/sub/tiny_gpt.onnx"),
              HasSubstr("pkg.hp.tag"));

  const nlohmann::json summary =
      nlohmann::json::parse(ReadBytes(folder + "/summary.json"));
  EXPECT_EQ(summary["models"], 6);
  EXPECT_EQ(summary["failed"], 3);
  EXPECT_EQ(summary["jobs"], 2);
  int failed = 0;
  for (const nlohmann::json& file : summary["files"]) {
    if (file["status"] == "failed") {
      ++failed;
      EXPECT_FALSE(file["error"].get<std::string>().empty());
    } else {
      EXPECT_GT(file["nodes"].get<int>(), 0);
    }
  }
  EXPECT_EQ(failed, 3);
}

TEST(ConverterBatchTest, AllGoodExitsZeroAndMatchesSingleRuns) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  WriteBytes(folder + "/in/list.txt", "tiny_bert.onnx\nsub/tiny_gpt.onnx\n");
  const RunResult batch =
      Converter(folder, absl::StrCat("tag --models_list ", folder,
                                     "/in/list.txt --output_dir ", folder,
                                     "/out --progress none"));
  EXPECT_EQ(batch.exit_code, 0) << batch.err;
  EXPECT_EQ(batch.err, "");
  const RunResult single =
      Converter(folder, absl::StrCat("tag --model ", folder,
                                     "/in/sub/tiny_gpt.onnx --output ", folder,
                                     "/single.onnx"));
  EXPECT_EQ(single.exit_code, 0) << single.err;
  EXPECT_THAT(single.out, HasSubstr("170 nodes"));
  EXPECT_TRUE(ReadBytes(folder + "/out/sub/tiny_gpt.onnx") ==
              ReadBytes(folder + "/single.onnx"));
}

TEST(ConverterBatchTest, ManifestPairsATraceWithAModel) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  // The mismatched model, tagged anyway with --trace_digest warn.
  WriteBytes(
      folder + "/in/manifest.json",
      R"({"models": [{"model": "mismatch.onnx", "output": "t5.onnx"}]})");
  const RunResult run =
      Converter(folder, absl::StrCat("tag --manifest ", folder,
                                     "/in/manifest.json --output_dir ", folder,
                                     "/out --trace_digest warn"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("warning: "));
  EXPECT_THAT(ListTree(folder + "/out"), ElementsAre("t5.onnx"));
}

TEST(ConverterBatchTest, FlagMistakesAreRefusedBeforeAnyWork) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  const std::string in = folder + "/in";
  for (const auto& [arguments, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"tag --models_dir " + in, "--output_dir is required"},
           {"tag --models_dir " + in + " --models_list x --output_dir o",
            "exclude each other"},
           {"tag --models_dir " + in + " --model m.onnx --output_dir o",
            "are for one model"},
           {"tag --models_dir " + in + " --trace t.json --output_dir o",
            "--trace none"},
           {"tag --models_dir " + in + " --output_dir o --progress fancy",
            "--progress"},
           {"tag --models_dir " + folder + "/absent --output_dir o",
            "no such folder"},
       }) {
    SCOPED_TRACE(arguments);
    const RunResult run = Converter(folder, arguments);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_THAT(run.err, HasSubstr(message));
  }
  EXPECT_THAT(ListTree(folder), Not(::testing::Contains(HasSubstr("o/"))));
}

TEST(ConverterBatchTest, NoFsyncWritesWhatTheDefaultWrites) {
  const std::string folder = TestFolder();
  MakeMixedFolder(folder + "/in");
  const std::string bert = folder + "/in/tiny_bert.onnx";
  for (const char* flag : {"", " --nofsync"}) {
    SCOPED_TRACE(flag);
    const std::string out = folder + (*flag ? "/nofsync" : "/default");
    const RunResult single = Converter(
        folder,
        absl::StrCat("tag --model ", bert, " --output ", out, ".onnx", flag));
    EXPECT_EQ(single.exit_code, 0) << single.err;
    const RunResult batch =
        Converter(folder, absl::StrCat("tag --models_dir ", folder,
                                       "/in --output_dir ", out, flag));
    EXPECT_EQ(batch.exit_code, 1) << batch.err;  // the mixed folder's bad files
  }
  EXPECT_TRUE(ReadBytes(folder + "/default.onnx") ==
              ReadBytes(folder + "/nofsync.onnx"));
  EXPECT_EQ(ListTree(folder + "/default"), ListTree(folder + "/nofsync"));
  EXPECT_TRUE(ReadBytes(folder + "/default/tiny_bert.onnx") ==
              ReadBytes(folder + "/nofsync/tiny_bert.onnx"));
  EXPECT_TRUE(ReadBytes(folder + "/nofsync.onnx") ==
              ReadBytes(folder + "/nofsync/tiny_bert.onnx"));
}

}  // namespace
}  // namespace hp
