// External data: every side file a model references is listed, whichever
// tensor references it; placing them beside an output in another folder
// links or copies them whole, keeps a file that is already the same, never
// replaces a different one, and leaves nothing when refused or dropped.
#include "hp/io/external_data.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/io/model_io.h"
#include "hp/io/model_splice.h"
#include "tests/support/external_data_models.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::hp::test_files::Inode;
using ::hp::test_files::ListTree;
using ::hp::test_files::ReadBytes;
using ::hp::test_files::TestFolder;
using ::hp::test_files::WriteBytes;
using ::hp::testing_external_data::EverywhereFiles;
using ::hp::testing_external_data::ModelWithExternalDataEverywhere;
using ::hp::testing_external_data::WriteEverywhereFiles;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

ExternalDataPolicy Mode(ExternalDataMode mode) {
  ExternalDataPolicy policy;
  policy.mode = mode;
  return policy;
}

// in/model.onnx (never written: only its folder matters here) beside
// `files`, each holding its own name; out/ empty.
struct Folders {
  std::string in;
  std::string out;
  std::string model;
  std::string output;
};

Folders MakeFolders(const std::vector<std::string>& files) {
  Folders folders;
  const std::string root = TestFolder();
  folders.in = root + "/in";
  folders.out = root + "/out";
  folders.model = folders.in + "/model.onnx";
  folders.output = folders.out + "/model.onnx";
  fs::create_directories(folders.in);
  fs::create_directories(folders.out);
  for (const std::string& file : files) {
    fs::create_directories(fs::path(folders.in + "/" + file).parent_path());
    WriteBytes(folders.in + "/" + file, "bytes of " + file);
  }
  return folders;
}

absl::StatusOr<PlacedExternalData> Place(const std::vector<std::string>& files,
                                         const Folders& folders,
                                         ExternalDataMode mode) {
  return PlaceExternalData(files, folders.model, folders.output, Mode(mode),
                           Durability::kNoFsync);
}

TEST(ExternalDataFilesTest, ListsTheSideFilesOfEveryKindOfTensorOnce) {
  EXPECT_THAT(ExternalDataFiles(ModelWithExternalDataEverywhere()),
              ElementsAreArray(EverywhereFiles()));
  EXPECT_THAT(ExternalDataFiles(onnx::ModelProto()), IsEmpty());
}

// The splice path keeps the main graph's initializers out of its skeleton;
// it still lists their side files with all the others.
TEST(ExternalDataFilesTest, TheSplicePathListsTheSameFiles) {
  const std::string folder = TestFolder();
  const std::string path = folder + "/model.onnx";
  ASSERT_TRUE(SaveModel(ModelWithExternalDataEverywhere(), path).ok());
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  ASSERT_TRUE(splice.ok()) << splice.status();
  EXPECT_THAT(splice->external_data_files(),
              UnorderedElementsAreArray(EverywhereFiles()));
}

TEST(PlaceExternalDataTest, LinksEachFileIntoTheOutputsFolder) {
  const std::vector<std::string> files = {"w.bin", "sub/deeper/v.bin"};
  const Folders folders = MakeFolders(files);
  absl::StatusOr<PlacedExternalData> placed =
      Place(files, folders, ExternalDataMode::kLink);
  ASSERT_TRUE(placed.ok()) << placed.status();
  placed->Keep();
  EXPECT_EQ(placed->counts().linked, 2);
  EXPECT_EQ(placed->counts().copied, 0);
  for (const std::string& file : files) {
    EXPECT_EQ(Inode(folders.out + "/" + file), Inode(folders.in + "/" + file))
        << file;
  }
  EXPECT_THAT(ListTree(folders.in), ElementsAre("sub/deeper/v.bin", "w.bin"));
  EXPECT_EQ(
      ExternalDataSummary(placed->counts(), folders.output),
      "external data for " + folders.output + ": 2 side files hard-linked");
}

TEST(PlaceExternalDataTest, CopyModeGivesFilesOfTheirOwn) {
  const std::vector<std::string> files = {"w.bin", "sub/v.bin"};
  const Folders folders = MakeFolders(files);
  absl::StatusOr<PlacedExternalData> placed =
      Place(files, folders, ExternalDataMode::kCopy);
  ASSERT_TRUE(placed.ok()) << placed.status();
  placed->Keep();
  EXPECT_EQ(placed->counts().copied, 2);
  for (const std::string& file : files) {
    const std::string copy = folders.out + "/" + file;
    EXPECT_NE(Inode(copy), Inode(folders.in + "/" + file)) << file;
    EXPECT_EQ(ReadBytes(copy), "bytes of " + file);
  }
  // No temporary file is left beside the copies.
  EXPECT_THAT(ListTree(folders.out), ElementsAre("sub/v.bin", "w.bin"));
}

TEST(PlaceExternalDataTest, DroppedWithoutKeepRemovesWhatItMade) {
  const std::vector<std::string> files = {"w.bin", "sub/deeper/v.bin"};
  for (ExternalDataMode mode :
       {ExternalDataMode::kLink, ExternalDataMode::kCopy}) {
    const Folders folders = MakeFolders(files);
    WriteBytes(folders.out + "/kept.txt", "not hp's");
    {
      absl::StatusOr<PlacedExternalData> placed = Place(files, folders, mode);
      ASSERT_TRUE(placed.ok()) << placed.status();
      EXPECT_EQ(ListTree(folders.out).size(), 3u);
    }
    // Files and the folders made for them are gone; the rest is as it was.
    EXPECT_THAT(ListTree(folders.out), ElementsAre("kept.txt"));
    EXPECT_FALSE(fs::exists(folders.out + "/sub"));
    EXPECT_THAT(ListTree(folders.in), ElementsAre("sub/deeper/v.bin", "w.bin"));
  }
}

TEST(PlaceExternalDataTest, AFileAlreadyThereWithTheSameBytesIsUsed) {
  const Folders folders = MakeFolders({"w.bin", "v.bin"});
  WriteBytes(folders.out + "/w.bin", "bytes of w.bin");  // another inode
  fs::create_hard_link(folders.in + "/v.bin", folders.out + "/v.bin");
  const uint64_t existing = Inode(folders.out + "/w.bin");
  for (ExternalDataMode mode :
       {ExternalDataMode::kLink, ExternalDataMode::kCopy,
        ExternalDataMode::kError}) {
    absl::StatusOr<PlacedExternalData> placed =
        Place({"w.bin", "v.bin"}, folders, mode);
    ASSERT_TRUE(placed.ok()) << placed.status();
    EXPECT_EQ(placed->counts().already_there, 2);
    EXPECT_EQ(placed->counts().total(), 2);
  }
  // Dropping them removed nothing that was there before.
  EXPECT_EQ(Inode(folders.out + "/w.bin"), existing);
  EXPECT_EQ(Inode(folders.out + "/v.bin"), Inode(folders.in + "/v.bin"));
}

TEST(PlaceExternalDataTest, ADifferentFileIsNeverReplacedAndNothingIsPlaced) {
  for (const std::string& existing : {std::string("other bytes, other size"),
                                      std::string("bytes of Y.bin")}) {
    const Folders folders = MakeFolders({"a.bin", "X.bin"});
    WriteBytes(folders.out + "/X.bin", existing);
    for (ExternalDataMode mode :
         {ExternalDataMode::kLink, ExternalDataMode::kCopy}) {
      absl::StatusOr<PlacedExternalData> placed =
          Place({"a.bin", "X.bin"}, folders, mode);
      ASSERT_FALSE(placed.ok());
      EXPECT_EQ(placed.status().code(), absl::StatusCode::kAlreadyExists);
      EXPECT_THAT(placed.status().message(), HasSubstr(folders.out + "/X.bin"));
      EXPECT_THAT(placed.status().message(), HasSubstr(folders.in + "/X.bin"));
      EXPECT_THAT(placed.status().message(), HasSubstr("refusing to replace"));
      // a.bin was not placed either: every file is checked first.
      EXPECT_THAT(ListTree(folders.out), ElementsAre("X.bin"));
      EXPECT_EQ(ReadBytes(folders.out + "/X.bin"), existing);
    }
  }
}

TEST(PlaceExternalDataTest, ErrorModeRefusesAMissingFileAndPlacesNothing) {
  const Folders folders = MakeFolders({"w.bin", "v.bin"});
  ExternalDataPolicy policy = Mode(ExternalDataMode::kError);
  policy.allow_hint = "say so";
  absl::StatusOr<PlacedExternalData> placed =
      PlaceExternalData({"w.bin", "v.bin"}, folders.model, folders.output,
                        policy, Durability::kFsync);
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(placed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(placed.status().message(),
            folders.output + ": " + folders.model +
                " keeps tensors in side "
                "files (" +
                folders.in + "/w.bin, " + folders.in +
                "/v.bin) that "
                "this output, in another folder, would lack; write it into the "
                "model's folder, or say so");
  EXPECT_THAT(ListTree(folders.out), IsEmpty());
}

TEST(PlaceExternalDataTest, AnOutputInTheModelsFolderNeedsNothing) {
  const Folders folders = MakeFolders({"w.bin"});
  for (const std::string& output :
       {folders.in + "/tagged.onnx", folders.in + "/./tagged.onnx",
        folders.out + "/../in/tagged.onnx"}) {
    for (ExternalDataMode mode :
         {ExternalDataMode::kLink, ExternalDataMode::kError}) {
      absl::StatusOr<PlacedExternalData> placed =
          PlaceExternalData({"w.bin", "missing.bin"}, folders.model, output,
                            Mode(mode), Durability::kNoFsync);
      ASSERT_TRUE(placed.ok()) << output << ": " << placed.status();
      EXPECT_EQ(placed->counts().total(), 0);
      EXPECT_EQ(ExternalDataSummary(placed->counts(), output), "");
    }
  }
  EXPECT_THAT(ListTree(folders.in), ElementsAre("w.bin"));
}

TEST(PlaceExternalDataTest, AMissingSideFileIsAnErrorNamingIt) {
  const Folders folders = MakeFolders({"w.bin"});
  absl::StatusOr<PlacedExternalData> placed =
      Place({"w.bin", "gone.bin"}, folders, ExternalDataMode::kLink);
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(placed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(placed.status().message(), HasSubstr(folders.in + "/gone.bin"));
  EXPECT_THAT(placed.status().message(),
              HasSubstr("external data of " + folders.model));
  EXPECT_THAT(ListTree(folders.out), IsEmpty());
}

// A location through a symbolic link inside the model's folder gets the
// file it leads to, not the link.
TEST(PlaceExternalDataTest, LinksTheFileASymbolicLinkLeadsTo) {
  const Folders folders = MakeFolders({"real/w.bin"});
  fs::create_directory_symlink("real", folders.in + "/alias");
  absl::StatusOr<PlacedExternalData> placed =
      Place({"alias/w.bin"}, folders, ExternalDataMode::kLink);
  ASSERT_TRUE(placed.ok()) << placed.status();
  placed->Keep();
  EXPECT_FALSE(fs::is_symlink(folders.out + "/alias"));
  EXPECT_EQ(Inode(folders.out + "/alias/w.bin"),
            Inode(folders.in + "/real/w.bin"));
}

// A build rule declares every output: the model's files must be exactly
// those declared ("./w.bin" and "w.bin" are one file), and are then copied,
// never linked.
TEST(PlaceExternalDataTest, DeclaredModeChecksTheDeclaredFilesThenCopies) {
  const Folders folders = MakeFolders({"w.bin", "sub/v.bin"});
  ExternalDataPolicy policy = Mode(ExternalDataMode::kDeclared);
  policy.declared = {"./w.bin", "sub/v.bin"};
  policy.declare_hint = "declare it";
  {
    absl::StatusOr<PlacedExternalData> placed =
        PlaceExternalData({"w.bin", "sub/v.bin"}, folders.model, folders.output,
                          policy, Durability::kNoFsync);
    ASSERT_TRUE(placed.ok()) << placed.status();
    EXPECT_EQ(placed->counts().copied, 2);
    EXPECT_THAT(ListTree(folders.out), ElementsAre("sub/v.bin", "w.bin"));
    EXPECT_NE(Inode(folders.out + "/w.bin"), Inode(folders.in + "/w.bin"));
    EXPECT_EQ(ReadBytes(folders.out + "/sub/v.bin"), "bytes of sub/v.bin");
  }  // not kept: removed again
  EXPECT_THAT(ListTree(folders.out), IsEmpty());

  policy.declared = {"w.bin"};
  absl::StatusOr<PlacedExternalData> undeclared =
      PlaceExternalData({"w.bin", "sub/v.bin"}, folders.model, folders.output,
                        policy, Durability::kNoFsync);
  EXPECT_EQ(undeclared.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(undeclared.status().message(),
            folders.model +
                ": keeps tensors in the side file 'sub/v.bin' (external "
                "data), which is not declared: the output would be written "
                "without it; declare it");

  policy.declared = {"w.bin", "unused.bin"};
  absl::StatusOr<PlacedExternalData> unused = PlaceExternalData(
      {"w.bin"}, folders.model, folders.output, policy, Durability::kNoFsync);
  EXPECT_EQ(unused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(unused.status().message(),
            folders.model +
                ": the side file 'unused.bin' is declared but no tensor of "
                "the model is stored in it (it uses w.bin)");
  EXPECT_THAT(ListTree(folders.out), IsEmpty());
}

TEST(ExternalDataSummaryTest, NamesEachWayFilesWerePlaced) {
  ExternalDataCounts counts;
  counts.copied = 1;
  EXPECT_EQ(ExternalDataSummary(counts, "o/m.onnx"),
            "external data for o/m.onnx: 1 side file copied");
  counts.linked = 2;
  counts.already_there = 1;
  EXPECT_EQ(ExternalDataSummary(counts, "o/m.onnx"),
            "external data for o/m.onnx: 4 side files: 2 hard-linked, 1 "
            "copied, 1 already there");
}

}  // namespace
}  // namespace hp
