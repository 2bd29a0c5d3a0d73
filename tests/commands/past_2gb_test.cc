// Every command on a model past protobuf's 2 GB limit: tagged, summarized,
// analyzed, validated, drawn, its tags transferred onto a renamed copy,
// stripped back to its original bytes, and its layer extracted with the
// 2 GiB weight. The
// model is a sparse file (one initializer of 2 GiB + 1 KiB of zeros), so
// making it costs no disk; copying it writes the outputs for real.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/commands/analyze.h"
#include "hp/commands/dot.h"
#include "hp/commands/extract.h"
#include "hp/commands/strip.h"
#include "hp/commands/summary.h"
#include "hp/commands/tag.h"
#include "hp/commands/transfer.h"
#include "hp/commands/validate.h"
#include "hp/util/sha256.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_files.h"
#include "tests/support/wire_format.h"

namespace hp {
namespace {

using ::hp::test_files::TestFolder;
using ::hp::wire_format::BytesField;
using ::hp::wire_format::Varint;
using ::hp::wire_format::VarintField;
using ::testing::HasSubstr;

// ModelProto{ir_version 8, graph{node /layers.0/fc/Neg, node /Relu,
// initializer w of 2 GiB + 1 KiB}}, written around a hole. `renamed`: the
// nodes named as a tool that renames them would (Neg_0, Relu_1).
std::string WriteHugeModel(const std::string& path, bool renamed = false) {
  const uint64_t raw_bytes = (uint64_t{1} << 31) + 1024;
  const std::string head = BytesField(8, "w") + VarintField(2, 1) +
                           Varint(9 << 3 | 2) + Varint(raw_bytes);
  const std::string tensor_head =
      Varint(5 << 3 | 2) + Varint(head.size() + raw_bytes);
  const std::string nodes =
      BytesField(1, BytesField(1, "w") + BytesField(2, "y") +
                        BytesField(3, renamed ? "Neg_0" : "/layers.0/fc/Neg") +
                        BytesField(4, "Neg")) +
      BytesField(1, BytesField(1, "y") + BytesField(2, "z") +
                        BytesField(3, renamed ? "Relu_1" : "/Relu") +
                        BytesField(4, "Relu"));
  const uint64_t graph_bytes =
      nodes.size() + tensor_head.size() + head.size() + raw_bytes;
  const std::string prefix = VarintField(1, 8) + Varint(7 << 3 | 2) +
                             Varint(graph_bytes) + nodes + tensor_head + head;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, prefix.data(), prefix.size()),
            static_cast<ssize_t>(prefix.size()));
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(prefix.size() + raw_bytes)), 0);
  EXPECT_EQ(::close(fd), 0);
  return path;
}

template <typename Args, typename Run>
std::string RunOk(Run run, const Args& args) {
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status status = run(args, out, err);
  EXPECT_TRUE(status.ok()) << status;
  return out.str();
}

TEST(Past2GbTest, EveryCommandReadsAndWritesIt) {
  const std::string folder = TestFolder();
  const std::string model = WriteHugeModel(folder + "/huge.onnx");
  ASSERT_GT(std::filesystem::file_size(model), uint64_t{1} << 31);

  TagArgs tag;
  tag.model = model;
  tag.trace = "none";
  tag.output.output = folder + "/huge.tagged.onnx";
  tag.durability = Durability::kNoFsync;
  EXPECT_THAT(RunOk(RunTag, tag), HasSubstr(": 2 nodes (2 direct, 0 parent, "
                                            "0 root, 0 propagated)"));

  EXPECT_THAT(RunOk(RunSummary, SummaryArgs{tag.output.output}),
              HasSubstr("2 nodes, 1 initializers, tagged by hp"));

  InspectArgs inspect;
  inspect.model = tag.output.output;
  inspect.trace = "none";
  const nlohmann::json analysis =
      nlohmann::json::parse(RunOk(RunAnalyze, AnalyzeArgs{inspect, true}));
  EXPECT_EQ(analysis["tags_from"], "model");
  EXPECT_EQ(analysis["statistics"]["nodes"], 2);
  EXPECT_THAT(RunOk(RunValidate, ValidateArgs{inspect, ""}),
              HasSubstr(": valid: 2 nodes"));
  EXPECT_THAT(RunOk(RunDot, DotArgs{inspect, folder + "/huge.dot"}),
              HasSubstr("wrote "));

  // The renamed copy finds its tags by data flow alone.
  TransferArgs transfer;
  transfer.from = tag.output.output;
  transfer.model = WriteHugeModel(folder + "/huge.renamed.onnx", true);
  transfer.output.output = folder + "/huge.renamed.tagged.onnx";
  transfer.durability = Durability::kNoFsync;
  EXPECT_THAT(RunOk(RunTransfer, transfer),
              HasSubstr(": 2 nodes (2 kept, 0 replacing, 0 inserted, 0 "
                        "unplaced)"));
  InspectArgs transferred;
  transferred.model = transfer.output.output;
  EXPECT_THAT(RunOk(RunValidate, ValidateArgs{transferred, ""}),
              HasSubstr(": valid: 2 nodes"));
  StripArgs strip_transferred;
  strip_transferred.model = transfer.output.output;
  strip_transferred.output.output = folder + "/huge.renamed.stripped.onnx";
  EXPECT_THAT(RunOk(RunStrip, strip_transferred), HasSubstr("stripped "));
  EXPECT_EQ(Sha256FileHex(strip_transferred.output.output).value(),
            Sha256FileHex(transfer.model).value());
  std::filesystem::remove(transfer.output.output);
  std::filesystem::remove(strip_transferred.output.output);

  StripArgs strip;
  strip.model = tag.output.output;
  strip.output.output = folder + "/huge.stripped.onnx";
  EXPECT_THAT(RunOk(RunStrip, strip), HasSubstr("stripped "));
  EXPECT_EQ(Sha256FileHex(strip.output.output).value(),
            Sha256FileHex(model).value());
  std::filesystem::remove(strip.output.output);

  // The layer holds the Neg and its weight: a model past 2 GB again (its
  // one output typed from the weight: Neg keeps its input's type).
  ExtractArgs extract;
  extract.model = tag.output.output;
  extract.module_path = "layers.0";
  extract.output = folder + "/layer.onnx";
  extract.durability = Durability::kNoFsync;
  EXPECT_THAT(RunOk(RunExtract, extract),
              HasSubstr(": 1 of 2 nodes, 1 initializers, 0 inputs, 1 outputs"));
  EXPECT_GT(std::filesystem::file_size(extract.output), uint64_t{1} << 31);
  EXPECT_THAT(RunOk(RunSummary, SummaryArgs{extract.output}),
              HasSubstr("1 nodes, 1 initializers, tagged by hp"));
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace hp
