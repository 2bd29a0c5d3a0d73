// The two ways a walk reads node records whose pages were given back:
// NodeReadAhead maps the pages a walk reads next, on a thread of its own;
// RecordCopy reads a run of records with pread and gives views into the
// copy. Either way the walk reads the same nodes as through the mapping.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/model_io.h"
#include "hp/io/model_splice.h"
#include "hp/io/node_list.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::hp::test_files::ResidentFilePages;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;

// A chain of Identity nodes with long names: about 600 bytes per record,
// so that kNodesPerRelease nodes span over a thousand pages.
std::string WriteChainModel(const std::string& path, int nodes) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  onnx::GraphProto* graph = model.mutable_graph();
  const std::string padding(180, 'p');
  auto value = [&](int i) { return absl::StrCat("value_", i, "_", padding); };
  graph->add_input()->set_name(value(0));
  for (int i = 0; i < nodes; ++i) {
    onnx::NodeProto* node = graph->add_node();
    node->set_name(absl::StrCat("/chain/node_", i, "_", padding));
    node->set_op_type("Identity");
    node->add_input(value(i));
    node->add_output(value(i + 1));
  }
  graph->add_output()->set_name(value(nodes));
  absl::StatusOr<std::string> bytes = SerializeModel(model, path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  WriteBytes(path, bytes.value_or(""));
  return path;
}

// Waits (a loaded machine may run the thread late) until at least `more`
// file pages are resident beyond `before`.
bool WaitForResidentPages(long before, long more) {
  for (int i = 0; i < 1000; ++i) {
    if (ResidentFilePages() >= before + more) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits until the resident file pages stay the same for 50 ms (at most
// 10 s): a read-ahead thread is then done with what it was told.
void WaitUntilResidentPagesSettle() {
  long last = -1;
  for (int i = 0; i < 200; ++i) {
    const long now = ResidentFilePages();
    if (now == last) return;
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class NodeReadAheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path =
        WriteChainModel(TestFolder() + "/chain.onnx", kNodes);
    SpliceOptions options;
    options.read_node_records = true;
    absl::StatusOr<ModelSplice> opened = ModelSplice::Open(path, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    splice_ = std::make_unique<ModelSplice>(std::move(*opened));
    ASSERT_TRUE(splice_->reads_node_records());
    ASSERT_EQ(nodes().size(), static_cast<size_t>(kNodes));
    ASSERT_TRUE(nodes().views_mapped_file());
  }
  const NodeList& nodes() const { return splice_->nodes(); }
  std::string NameAt(size_t i) const { return std::string(nodes()[i].name); }
  static std::string ExpectedName(size_t i) {
    return absl::StrCat("/chain/node_", i, "_", std::string(180, 'p'));
  }
  static std::string ExpectedValue(size_t i) {
    return absl::StrCat("value_", i, "_", std::string(180, 'p'));
  }
  // Node `node`, as read, is node i of the chain.
  static void ExpectChainNode(const NodeRef& node, size_t i) {
    EXPECT_EQ(node.name, ExpectedName(i));
    EXPECT_EQ(node.op_type, "Identity");
    ASSERT_EQ(node.inputs.size(), 1u);
    EXPECT_EQ(node.inputs[0], ExpectedValue(i));
    ASSERT_EQ(node.outputs.size(), 1u);
    EXPECT_EQ(node.outputs[0], ExpectedValue(i + 1));
  }

  static constexpr int kNodes = 30000;
  std::unique_ptr<ModelSplice> splice_;
};

TEST_F(NodeReadAheadTest, AForwardWalkFindsThePagesAheadMapped) {
  nodes().Release(0, nodes().size());
  const long before = ResidentFilePages();
  ASSERT_GE(before, 0);
  NodeReadAhead ahead(nodes());
  ahead.Reached(0);
  // kNodesPerRelease nodes ahead of node 0: over a thousand pages.
  EXPECT_TRUE(WaitForResidentPages(before, 1000));
  // The walk reads every node as it is, the thread mapping ahead of it.
  for (size_t i = 0; i < nodes().size(); ++i) {
    ahead.Reached(i);
    ASSERT_EQ(NameAt(i),
              absl::StrCat("/chain/node_", i, "_", std::string(180, 'p')));
  }
}

TEST_F(NodeReadAheadTest, ABackwardWalkFindsThePagesBelowMapped) {
  nodes().Release(0, nodes().size());
  const long before = ResidentFilePages();
  ASSERT_GE(before, 0);
  NodeReadAhead ahead(nodes(), NodeReadAhead::Direction::kBackward);
  ahead.Reached(nodes().size() - 1);
  EXPECT_TRUE(WaitForResidentPages(before, 1000));
  for (size_t i = nodes().size(); i > 0; --i) {
    ahead.Reached(i - 1);
    ASSERT_EQ(NameAt(i - 1),
              absl::StrCat("/chain/node_", i - 1, "_", std::string(180, 'p')));
  }
}

TEST_F(NodeReadAheadTest, AWalkStartingAgainIsMappedFromItsStart) {
  NodeReadAhead ahead(nodes());
  for (size_t i = 0; i < nodes().size(); ++i) ahead.Reached(i);
  // The thread may still be mapping the first pass (a loaded machine runs
  // it late): once it is done, the first nodes' pages are given back, so
  // that only the second pass can map them again.
  WaitUntilResidentPagesSettle();
  nodes().Release(0, nodes().size());
  const long before = ResidentFilePages();
  ASSERT_GE(before, 0);
  ahead.Reached(0);  // a second pass
  EXPECT_TRUE(WaitForResidentPages(before, 1000));
}

using RecordCopyTest = NodeReadAheadTest;

TEST_F(RecordCopyTest, ARunIsReadFromTheCopyWithoutMappingItsPages) {
  nodes().Release(0, nodes().size());
  const long before = ResidentFilePages();
  ASSERT_GE(before, 0);
  RecordCopy copy(nodes());
  const size_t begin = 100;
  const size_t end = begin + kNodesPerRelease;  // over a thousand pages
  ASSERT_TRUE(copy.Read(begin, end));
  for (size_t i = begin; i < end; ++i) {
    ExpectChainNode(copy[i], i);
    if (HasFailure()) return;
  }
  // Read through the mapping, the run would have mapped its pages.
  EXPECT_LT(ResidentFilePages() - before, 100);
  // Nodes outside the run are read through the file.
  ExpectChainNode(copy[begin - 1], begin - 1);
  ExpectChainNode(copy[end], end);
  // A second run reuses the copy.
  ASSERT_TRUE(copy.Read(end, end + 10));
  ExpectChainNode(copy[end + 9], end + 9);
  ExpectChainNode(copy[begin], begin);
}

TEST_F(RecordCopyTest, TheLastRunIsReadThroughTheFile) {
  RecordCopy copy(nodes());
  // No record follows the last node's: where its record ends is not known.
  EXPECT_FALSE(copy.Read(nodes().size() - 10, nodes().size()));
  ExpectChainNode(copy[nodes().size() - 1], nodes().size() - 1);
  EXPECT_FALSE(copy.Read(5, 5));
  EXPECT_FALSE(copy.Read(5, nodes().size() + 1));
}

TEST_F(RecordCopyTest, AFileCutUnderTheListIsNotCopied) {
  RecordCopy copy(nodes());
  ASSERT_TRUE(copy.Read(0, 10));
  ASSERT_EQ(::truncate(splice_->path().c_str(), 4096), 0);
  // A short read: nothing held, and the views (the mapping's guard) are
  // what is left to read.
  EXPECT_FALSE(copy.Read(kNodes / 2, kNodes / 2 + 10));
  EXPECT_FALSE(copy.Read(0, 10));
}

TEST_F(RecordCopyTest, AForwardWalkReadsARunWhereEachBegins) {
  nodes().Release(0, nodes().size());
  const long before = ResidentFilePages();
  ASSERT_GE(before, 0);
  RecordCopy copy(nodes());
  const size_t begin = 50;
  const size_t end = begin + 2 * kNodesPerRelease + 5;
  std::vector<size_t> read_at;
  for (size_t i = begin; i < end; ++i) {
    if (copy.Reached(i, end)) read_at.push_back(i);
    ExpectChainNode(copy[i], i);
    if (HasFailure()) return;
  }
  EXPECT_THAT(read_at, ::testing::ElementsAre(begin, begin + kNodesPerRelease,
                                              begin + 2 * kNodesPerRelease));
  // Every run was read from a copy: over two thousand pages not mapped.
  EXPECT_LT(ResidentFilePages() - before, 100);
}

TEST_F(RecordCopyTest, ABackwardWalkReadsTheRunEndingWhereItIs) {
  nodes().Release(0, nodes().size());
  const long before = ResidentFilePages();
  ASSERT_GE(before, 0);
  RecordCopy copy(nodes());
  const size_t top = 20000;
  const size_t bottom = top - 2 * kNodesPerRelease - 5;
  std::vector<size_t> read_at;
  for (size_t i = top; i >= bottom; --i) {
    if (copy.ReachedGoingBack(i)) read_at.push_back(i);
    ExpectChainNode(copy[i], i);
    if (HasFailure()) return;
  }
  EXPECT_THAT(read_at, ::testing::ElementsAre(top, top - kNodesPerRelease,
                                              top - 2 * kNodesPerRelease));
  EXPECT_LT(ResidentFilePages() - before, 100);
}

TEST_F(RecordCopyTest, ARunThatCannotBeCopiedIsNotTriedNodeByNode) {
  RecordCopy copy(nodes());
  const size_t size = nodes().size();
  // The list's last run cannot be copied (TheLastRunIsReadThroughTheFile);
  // its nodes are read through the file, and Reached reads nothing more.
  EXPECT_TRUE(copy.Reached(size - 10, size));
  for (size_t i = size - 9; i < size; ++i) {
    EXPECT_FALSE(copy.Reached(i, size));
    ExpectChainNode(copy[i], i);
  }
}

TEST_F(RecordCopyTest, ReadsThatSkipReadRunsOnlyAheadOfTheLast) {
  RecordCopy copy(nodes());
  const size_t size = nodes().size();
  EXPECT_TRUE(copy.ReachedSkipping(1000, size));  // [1000, 1000 + run)
  EXPECT_FALSE(copy.ReachedSkipping(1001, size));
  // Behind the run: read through the file, nothing read again.
  EXPECT_FALSE(copy.ReachedSkipping(10, size));
  ExpectChainNode(copy[10], 10);
  // Far ahead: a new run from there.
  EXPECT_TRUE(copy.ReachedSkipping(20000, size));
  ExpectChainNode(copy[20000], 20000);
  EXPECT_FALSE(copy.ReachedSkipping(1500, size));
  ExpectChainNode(copy[1500], 1500);
}

// A list of `count` Relu node messages, no file behind them; the list
// views the graph it keeps.
struct ReluMessages {
  explicit ReluMessages(int count) {
    for (int i = 0; i < count; ++i) graph.add_node()->set_op_type("Relu");
    NodeListBuilder builder;
    builder.AddGraph(graph, "main", -1);
    list = builder.Finish();
  }
  onnx::GraphProto graph;
  NodeList list;
};

TEST(RecordCopyWithoutFileTest, ListsOfMessagesAreReadAsTheyAre) {
  const ReluMessages messages(100);
  const NodeList& list = messages.list;
  RecordCopy copy(list);
  EXPECT_FALSE(copy.Read(0, 50));
  EXPECT_EQ(copy[49].op_type, "Relu");
}

TEST(NodeReadAheadWithoutFileTest, ListsOfMessagesStartNoThread) {
  const ReluMessages messages(20000);
  const NodeList& list = messages.list;
  ASSERT_FALSE(list.views_mapped_file());
  // Nothing to map: Reached only returns.
  NodeReadAhead ahead(list);
  for (size_t i = 0; i < list.size(); ++i) ahead.Reached(i);
  EXPECT_EQ(list[19999].op_type, "Relu");
}

}  // namespace
}  // namespace hp
