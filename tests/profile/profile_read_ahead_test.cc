// Profiles read ahead on a thread of their own: the same events, files and
// errors as reading them in place, with the memory waiting bounded.
#include "hp/profile/profile_read_ahead.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/profile/profile_reader.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

// The fields an event keeps, as one line.
std::string Line(const ProfileEvent& event) {
  return absl::StrCat(event.index, " ", event.byte_offset, " ", event.category,
                      "|", event.name, " ", event.dur,
                      event.dur_invalid ? " invalid" : "");
}

// `count` events, each with every field, most of them node events, and a
// model_run.
std::string Profile(int count, absl::string_view prefix) {
  std::string text = "[";
  for (int i = 0; i < count; ++i) {
    const char* category = i % 11 == 3   ? "Api"
                           : i % 13 == 5 ? "Kernel"
                                         : "Node";
    absl::StrAppend(&text, R"({"cat":")", category, R"(","ph":"X","ts":)", i,
                    R"(,"name":")", prefix, i, R"(_kernel_time","dur":)",
                    i % 7 == 0 ? "2.5" : absl::StrCat(i),
                    R"(,"args":{"op_name":"Add","provider":"CPU"}},)");
  }
  return absl::StrCat(text, R"({"cat":"Session","name":"model_run","dur":9}])");
}

std::string WriteProfile(const std::string& folder, const std::string& name,
                         const std::string& text) {
  const std::string path = absl::StrCat(folder, "/", name);
  test_files::WriteBytes(path, text);
  return path;
}

std::vector<std::string> ReadInPlace(const std::string& path) {
  std::vector<std::string> lines;
  EXPECT_TRUE(ReadProfileFile(path, [&](const ProfileEvent& event) {
                lines.push_back(Line(event));
                return absl::OkStatus();
              }).ok());
  return lines;
}

TEST(ProfileReadAheadTest, VisitsEachFileAsReadingItInPlaceWould) {
  const std::string folder = test_files::TestFolder();
  const std::string first =
      WriteProfile(folder, "first.json", Profile(30000, "/a/n"));
  const std::string second =
      WriteProfile(folder, "second.json", Profile(5, "/b/n"));
  // A bound far under the files' events: the reading waits for the
  // visits again and again.
  ProfileReadAhead reading({first, second}, /*max_bytes=*/64 << 10);
  for (const std::string& path : {first, second}) {
    std::vector<std::string> lines;
    ASSERT_TRUE(reading
                    .VisitNext([&](const ProfileEvent& event) {
                      lines.push_back(Line(event));
                      return absl::OkStatus();
                    })
                    .ok());
    EXPECT_EQ(lines, ReadInPlace(path)) << path;
  }
  const absl::Status past =
      reading.VisitNext([](const ProfileEvent&) { return absl::OkStatus(); });
  EXPECT_EQ(past.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ProfileReadAheadTest, KeepsNeitherPhaseNorTimestampNorArgs) {
  const std::string path =
      WriteProfile(test_files::TestFolder(), "p.json", Profile(3, "/a/n"));
  ProfileReadAhead reading({path});
  // An event's views last as long as its visit: the fields as text.
  std::vector<std::string> names, dropped;
  std::vector<int64_t> durs;
  ASSERT_TRUE(reading
                  .VisitNext([&](const ProfileEvent& event) {
                    names.emplace_back(event.name);
                    durs.push_back(event.dur);
                    dropped.push_back(
                        absl::StrCat(event.phase, "|", event.op_name, "|",
                                     event.provider, "|", event.ts));
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[1], "/a/n1_kernel_time");
  EXPECT_EQ(durs[1], 1);
  for (const std::string& fields : dropped) EXPECT_EQ(fields, "|||-1");
}

TEST(ProfileReadAheadTest, AFileErrorComesAfterTheEventsBeforeIt) {
  const std::string folder = test_files::TestFolder();
  std::string text = Profile(3, "/a/n");
  text.resize(text.size() - 20);  // cut inside the last event
  const std::string cut = WriteProfile(folder, "cut.json", text);
  const std::string after =
      WriteProfile(folder, "after.json", Profile(3, "/b/n"));
  ProfileReadAhead reading({cut, after});
  int visited = 0;
  const absl::Status status = reading.VisitNext([&](const ProfileEvent&) {
    ++visited;
    return absl::OkStatus();
  });
  EXPECT_EQ(visited, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(cut));
  // Nothing after a failed file.
  EXPECT_EQ(
      reading.VisitNext([](const ProfileEvent&) { return absl::OkStatus(); })
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST(ProfileReadAheadTest, AMissingFileIsNotFound) {
  ProfileReadAhead reading(
      {absl::StrCat(test_files::TestFolder(), "/missing.json")});
  const absl::Status status =
      reading.VisitNext([](const ProfileEvent&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("missing.json"));
}

TEST(ProfileReadAheadTest, TheVisitorsErrorStopsTheVisit) {
  const std::string folder = test_files::TestFolder();
  const std::string path =
      WriteProfile(folder, "p.json", Profile(20000, "/a/n"));
  ProfileReadAhead reading({path, path}, /*max_bytes=*/64 << 10);
  int visited = 0;
  const absl::Status status = reading.VisitNext([&](const ProfileEvent&) {
    return ++visited == 100 ? absl::AbortedError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(status, absl::AbortedError("enough"));
  EXPECT_EQ(visited, 100);
  EXPECT_EQ(
      reading.VisitNext([](const ProfileEvent&) { return absl::OkStatus(); })
          .code(),
      absl::StatusCode::kFailedPrecondition);
  // Going out of scope stops the reading, which waits on a full buffer.
}

TEST(ProfileReadAheadTest, StopsReadingWhenDroppedUnvisited) {
  const std::string folder = test_files::TestFolder();
  const std::string path =
      WriteProfile(folder, "p.json", Profile(20000, "/a/n"));
  for (int i = 0; i < 20; ++i) {
    ProfileReadAhead reading({path, path, path}, /*max_bytes=*/4 << 10);
  }
}

}  // namespace
}  // namespace hp
