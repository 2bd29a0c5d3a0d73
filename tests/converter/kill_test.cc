// Every command that writes a model, killed with SIGKILL at random moments:
// the output path holds nothing or the complete file an uninterrupted run
// writes, the inputs keep their bytes, and the next run into the same
// folder leaves no temporary file behind (docs/reliability.md, "Kill
// tests"). Stopped instead by SIGINT, SIGTERM or SIGHUP, which it may
// catch, a command leaves no temporary file even before a next run. Runs
// per command: HP_KILL_RUNS (default 25 on small models, 8 on the 400 MB
// one).
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/synthetic_models.h"
#include "gtest/gtest.h"
#include "tests/converter/kill_support.h"
#include "tests/support/test_files.h"

namespace hp {
namespace kill_test {
namespace {

using ::hp::test_files::kModels;
using ::hp::test_files::TestFolder;

int RunsPerCommand(int fallback) {
  const char* runs = std::getenv("HP_KILL_RUNS");
  return runs != nullptr && std::atoi(runs) > 0 ? std::atoi(runs) : fallback;
}

// One command line to kill, what it reads and what it writes.
struct Command {
  std::string name;
  std::vector<std::string> args;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::string output_folder;
};

// SIGKILL, or the signals a stopped program may catch, in turn.
enum class Stop { kKill, kCatchable };

struct Totals {
  int runs = 0;
  int killed = 0;            // ended by the signal, not finished first
  int complete_output = 0;   // of those: the output was already in place
  int temporaries_left = 0;  // of those: a temporary file was left behind
};

// `folder`/in holds model.onnx (and its trace), `folder`/batch_in two
// copies. Builds the reference outputs with uninterrupted runs.
class KillTest : public ::testing::Test {
 protected:
  void Prepare(const std::string& folder) {
    folder_ = folder;
    const std::string in = folder + "/in/model.onnx";
    fs::create_directories(folder + "/batch_in");
    fs::create_directories(folder + "/ref");
    fs::create_directories(folder + "/out");
    fs::create_directories(folder + "/out_batch");
    for (const char* name : {"a", "b"}) {
      fs::copy_file(in, absl::StrCat(folder, "/batch_in/", name, ".onnx"));
      fs::copy_file(folder + "/in/model.trace.json",
                    absl::StrCat(folder, "/batch_in/", name, ".trace.json"));
    }
    const std::string log = folder + "/log.txt";
    Outcome tagged = RunConverter(
        {"tag", "--model", in, "--output", folder + "/ref/tagged.onnx"}, log);
    ASSERT_EQ(tagged.exit_code, 0) << tagged.output;
    commands_ = {
        {"tag",
         {"tag", "--model", in, "--output", folder + "/out/tagged.onnx"},
         {in},
         {"tagged.onnx"},
         folder + "/out"},
        {"strip",
         {"strip", "--model", folder + "/ref/tagged.onnx", "--output",
          folder + "/out/stripped.onnx"},
         {folder + "/ref/tagged.onnx"},
         {"stripped.onnx"},
         folder + "/out"},
        {"transfer",
         {"transfer", "--from", folder + "/ref/tagged.onnx", "--model", in,
          "--output", folder + "/out/transferred.onnx"},
         {folder + "/ref/tagged.onnx", in},
         {"transferred.onnx"},
         folder + "/out"},
        {"batch",
         {"tag", "--models_dir", folder + "/batch_in", "--output_dir",
          folder + "/out_batch", "--jobs", "2"},
         {folder + "/batch_in/a.onnx", folder + "/batch_in/b.onnx"},
         {"a.onnx", "b.onnx"},
         folder + "/out_batch"},
    };
  }

  // Runs `command` to its end, keeps copies of its outputs and inputs in
  // `folder_`/expected/<name>, and returns how long it took.
  double Reference(const Command& command) {
    // Timed on a second run: the first reads the input from disk, the
    // killed runs from the page cache, and would spread the kills past
    // their end.
    Outcome first = RunConverter(command.args, folder_ + "/log.txt");
    EXPECT_EQ(first.exit_code, 0) << command.name << ": " << first.output;
    const auto start = std::chrono::steady_clock::now();
    Outcome run = RunConverter(command.args, folder_ + "/log.txt");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    EXPECT_EQ(run.exit_code, 0) << command.name << ": " << run.output;
    const std::string expected = Expected(command);
    fs::create_directories(expected + "/inputs");
    for (const std::string& output : command.outputs)
      fs::copy_file(command.output_folder + "/" + output,
                    expected + "/" + output);
    for (size_t i = 0; i < command.inputs.size(); ++i)
      fs::copy_file(command.inputs[i], absl::StrCat(expected, "/inputs/", i));
    return seconds;
  }

  std::string Expected(const Command& command) const {
    return folder_ + "/expected/" + command.name;
  }

  void ExpectInputsUnchanged(const Command& command, const std::string& when) {
    for (size_t i = 0; i < command.inputs.size(); ++i) {
      EXPECT_TRUE(SameBytes(command.inputs[i],
                            absl::StrCat(Expected(command), "/inputs/", i)))
          << command.name << " " << when << ": " << command.inputs[i]
          << " changed";
    }
  }

  // Kills `command` `runs` times after random delays spread over one
  // uninterrupted run, checking after each; then runs it once more to its
  // end and checks that nothing temporary is left. With Stop::kCatchable
  // the signals are SIGINT, SIGTERM and SIGHUP in turn, after each of
  // which no temporary file may be left at all.
  void KillRepeatedly(const Command& command, int runs, uint32_t seed,
                      Stop stop) {
    const double seconds = Reference(command);
    std::mt19937 random(seed);
    std::uniform_int_distribution<int64_t> delay_us(
        0, static_cast<int64_t>(seconds * 1.2e6) + 1000);
    Totals totals;
    for (int run = 0; run < runs; ++run) {
      for (const std::string& output : command.outputs)
        fs::remove(command.output_folder + "/" + output);
      const int signal =
          stop == Stop::kKill
              ? SIGKILL
              : std::vector<int>{SIGINT, SIGTERM, SIGHUP}[run % 3];
      // The stop signals' default action, whatever the test runner left.
      const pid_t pid = StartConverter(command.args, "", [] {
        for (const int stop_signal : {SIGINT, SIGTERM, SIGHUP})
          ::signal(stop_signal, SIG_DFL);
      });
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
      ::kill(pid, signal);
      const int exit_code = Wait(pid);
      const std::string when =
          absl::StrCat("run ", run, " (seed ", seed, ", signal ", signal, ")");
      ++totals.runs;
      EXPECT_TRUE(exit_code == 0 || exit_code == 128 + signal)
          << command.name << " " << when << ": exit code " << exit_code;
      if (exit_code == 128 + signal) ++totals.killed;
      bool all_complete = true;
      for (const std::string& output : command.outputs) {
        const std::string path = command.output_folder + "/" + output;
        if (!fs::exists(path)) {
          all_complete = false;
          continue;
        }
        EXPECT_TRUE(SameBytes(path, Expected(command) + "/" + output))
            << command.name << " " << when << ": " << output
            << " is neither missing nor complete";
      }
      if (exit_code == 128 + signal && all_complete) ++totals.complete_output;
      const std::vector<std::string> left = Temporaries(command.output_folder);
      if (!left.empty()) ++totals.temporaries_left;
      if (stop == Stop::kCatchable) {
        EXPECT_TRUE(left.empty())
            << command.name << " " << when << " left " << left.front();
      }
      ExpectInputsUnchanged(command, when);
    }
    // The next run cleans up after the killed ones.
    Outcome last = RunConverter(command.args, folder_ + "/log.txt");
    EXPECT_EQ(last.exit_code, 0) << last.output;
    for (const std::string& output : command.outputs) {
      EXPECT_TRUE(SameBytes(command.output_folder + "/" + output,
                            Expected(command) + "/" + output))
          << command.name << ": " << output << " after the last run";
    }
    const std::vector<std::string> left = Temporaries(command.output_folder);
    EXPECT_TRUE(left.empty()) << command.name << " left " << left.size()
                              << " temporary files, e.g. " << left.front();
    std::cout << (stop == Stop::kKill ? "kill " : "stop ") << command.name
              << ": " << totals.runs << " runs, " << totals.killed
              << " killed before exiting (" << totals.complete_output
              << " with the output already in place, "
              << totals.temporaries_left
              << " leaving a temporary file), uninterrupted run " << seconds
              << " s; temporary files after the next run: " << left.size()
              << "\n";
    const std::string prefix =
        (stop == Stop::kKill ? "" : "stopped_") + command.name;
    RecordProperty(prefix + "_runs", totals.runs);
    RecordProperty(prefix + "_temporaries_left", totals.temporaries_left);
  }

  void KillEveryCommand(int runs, Stop stop = Stop::kKill) {
    uint32_t seed = 1;
    for (const Command& command : commands_)
      KillRepeatedly(command, runs, seed++, stop);
  }

  std::string folder_;
  std::vector<Command> commands_;
};

TEST_F(KillTest, FixtureModel) {
  const std::string folder = TestFolder() + "/fixture";
  fs::create_directories(folder + "/in");
  fs::copy_file(std::string(kModels) + "/tiny_gpt.onnx",
                folder + "/in/model.onnx");
  fs::copy_file(std::string(kModels) + "/tiny_gpt.trace.json",
                folder + "/in/model.trace.json");
  Prepare(folder);
  KillEveryCommand(RunsPerCommand(25));
}

TEST_F(KillTest, InlineWeights20MB) {
  const std::string folder = TestFolder() + "/inline_20m";
  fs::create_directories(folder + "/in");
  ASSERT_TRUE(
      bench::WriteInlineWeightsModel(folder + "/in/model.onnx", 20000000).ok());
  Prepare(folder);
  KillEveryCommand(RunsPerCommand(25));
  fs::remove_all(folder);
}

TEST_F(KillTest, InlineWeights20MBStoppedByCatchableSignals) {
  const std::string folder = TestFolder() + "/inline_20m_stopped";
  fs::create_directories(folder + "/in");
  ASSERT_TRUE(
      bench::WriteInlineWeightsModel(folder + "/in/model.onnx", 20000000).ok());
  Prepare(folder);
  KillEveryCommand(RunsPerCommand(24), Stop::kCatchable);
  fs::remove_all(folder);
}

// kill_large_test only.
TEST_F(KillTest, LargeInlineWeights400MB) {
  const std::string folder = TestFolder() + "/inline_400m";
  fs::create_directories(folder + "/in");
  ASSERT_TRUE(
      bench::WriteInlineWeightsModel(folder + "/in/model.onnx", 400000000)
          .ok());
  Prepare(folder);
  KillEveryCommand(RunsPerCommand(8));
  fs::remove_all(folder);
}

}  // namespace
}  // namespace kill_test
}  // namespace hp
