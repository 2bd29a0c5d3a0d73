// The streaming reader of onnxruntime's profile JSON: which fields of each
// event it reads, and the inputs it refuses, with where.
#include "hp/profile/profile_reader.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

struct Seen {
  std::string category, name, phase, op_name, provider;
  int64_t dur, ts, index;
  uint64_t byte_offset;
  bool dur_invalid;
};

absl::Status Read(absl::string_view bytes, std::vector<Seen>* seen) {
  return ReadProfileBytes(bytes, "p.json", [&](const ProfileEvent& event) {
    seen->push_back({std::string(event.category), std::string(event.name),
                     std::string(event.phase), std::string(event.op_name),
                     std::string(event.provider), event.dur, event.ts,
                     event.index, event.byte_offset, event.dur_invalid});
    return absl::OkStatus();
  });
}

constexpr char kTwoEvents[] =
    R"([{"cat":"Session","pid":1,"tid":1,"dur":2433,"ts":6,"ph":"X",)"
    R"("name":"model_loading_uri","args":{}},)"
    "\n"
    R"({"cat":"Node","dur":66,"ts":62111,"ph":"X","name":"/a/Gather_kernel_time",)"
    R"("args":{"op_name":"Gather","output_type_shape":[{"float":[2,8,32]}],)"
    R"("nested":{"op_name":"not this","provider":"nor this"},)"
    R"("provider":"CPUExecutionProvider"}}])";

TEST(ProfileReaderTest, ReadsTheFieldsOfEachEventInOrder) {
  std::vector<Seen> seen;
  ASSERT_TRUE(Read(kTwoEvents, &seen).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].category, "Session");
  EXPECT_EQ(seen[0].name, "model_loading_uri");
  EXPECT_EQ(seen[0].dur, 2433);
  EXPECT_EQ(seen[0].ts, 6);
  EXPECT_EQ(seen[0].op_name, "");
  EXPECT_EQ(seen[0].byte_offset, 1u);
  EXPECT_EQ(seen[1].index, 1);
  EXPECT_EQ(seen[1].category, "Node");
  EXPECT_EQ(seen[1].phase, "X");
  EXPECT_EQ(seen[1].name, "/a/Gather_kernel_time");
  EXPECT_EQ(seen[1].dur, 66);
  EXPECT_EQ(seen[1].op_name, "Gather");
  EXPECT_EQ(seen[1].provider, "CPUExecutionProvider");
  EXPECT_EQ(kTwoEvents[seen[1].byte_offset], '{');
  EXPECT_FALSE(seen[1].dur_invalid);
}

TEST(ProfileReaderTest, ReadsAFileInChunksAsItReadsBytes) {
  // More than one 1 MiB chunk, so that events straddle chunk borders.
  std::string text = "[";
  for (int i = 0; i < 20000; ++i) {
    absl::StrAppend(
        &text, i > 0 ? "," : "", R"({"cat":"Node","name":"n)", i,
        R"(_kernel_time","dur":)", i,
        R"(,"args":{"op_name":"Add","provider":"CPUExecutionProvider"}})");
  }
  text += "]";
  ASSERT_GT(text.size(), 1u << 20);
  const std::string path = test_files::TestFolder() + "/big.json";
  test_files::WriteBytes(path, text);
  std::vector<Seen> from_file;
  ASSERT_TRUE(ReadProfileFile(path, [&](const ProfileEvent& event) {
                from_file.push_back({std::string(event.category),
                                     std::string(event.name), "", "", "",
                                     event.dur, event.ts, event.index,
                                     event.byte_offset, false});
                return absl::OkStatus();
              }).ok());
  ASSERT_EQ(from_file.size(), 20000u);
  int64_t sum = 0;
  for (const Seen& event : from_file) {
    sum += event.dur;
    ASSERT_EQ(text[event.byte_offset], '{') << event.index;
  }
  EXPECT_EQ(sum, int64_t{20000} * 19999 / 2);
  EXPECT_EQ(from_file.back().name, "n19999_kernel_time");
}

TEST(ProfileReaderTest, AMemberNameIsKeptWhereTheBufferIsReadAgain) {
  // Member names are viewed in the buffer, which is read on (and moved)
  // while the colon after a name is looked for: a name that ends right at
  // the end of the first 1 MiB chunk, or a few bytes before it, is still
  // the name.
  const std::string path = test_files::TestFolder() + "/at_chunk_end.json";
  for (size_t before_end = 0; before_end < 8; ++before_end) {
    SCOPED_TRACE(before_end);
    // The name's closing quote at byte (1 MiB - 1 - before_end).
    const size_t pad = (size_t{1} << 20) - 7 - before_end;
    // Enough events after it to fill the buffer again where it lay.
    std::string text = absl::StrCat("[", std::string(pad, ' '),
                                    R"({"cat"    :    "Node","dur"  :  7})");
    while (text.size() < (size_t{5} << 20) / 2) {
      text += R"(,{"pid":1,"tid":2,"ts":3,"name":"not a member name"})";
    }
    test_files::WriteBytes(path, text + "]");
    std::vector<Seen> seen;
    ASSERT_TRUE(ReadProfileFile(path, [&](const ProfileEvent& event) {
                  seen.push_back({std::string(event.category), "", "", "", "",
                                  event.dur, event.ts, event.index,
                                  event.byte_offset, false});
                  return absl::OkStatus();
                }).ok());
    ASSERT_GT(seen.size(), 1u);
    EXPECT_EQ(seen[0].category, "Node");
    EXPECT_EQ(seen[0].dur, 7);
  }
}

TEST(ProfileReaderTest, AFractionalOrNegativeDurationIsMarked) {
  std::vector<Seen> seen;
  ASSERT_TRUE(Read(R"([{"cat":"Node","dur":1.5},{"cat":"Node","dur":-2},)"
                   R"({"cat":"Node","dur":3.0}])",
                   &seen)
                  .ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].dur_invalid);
  EXPECT_TRUE(seen[1].dur_invalid);
  EXPECT_FALSE(seen[2].dur_invalid);
  EXPECT_EQ(seen[2].dur, 3);
  // Past int64 (read as a double: invalid); exponents; below double's
  // range (0, a whole number); a whole number too large to be exact.
  seen.clear();
  ASSERT_TRUE(Read(R"([{"dur":9223372036854775808},{"dur":25e-1},)"
                   R"({"dur":2.5e1},{"dur":-1e-400},{"dur":1e16},)"
                   R"({"dur":9223372036854775807,"ts":-0.0}])",
                   &seen)
                  .ok());
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_TRUE(seen[0].dur_invalid);
  EXPECT_TRUE(seen[1].dur_invalid);
  EXPECT_FALSE(seen[2].dur_invalid);
  EXPECT_EQ(seen[2].dur, 25);
  EXPECT_FALSE(seen[3].dur_invalid);
  EXPECT_EQ(seen[3].dur, 0);
  EXPECT_TRUE(seen[4].dur_invalid);
  EXPECT_FALSE(seen[5].dur_invalid);
  EXPECT_EQ(seen[5].dur, INT64_MAX);
  EXPECT_EQ(seen[5].ts, 0);
}

TEST(ProfileReaderTest, ATruncatedProfileSaysWhereItEnds) {
  std::vector<Seen> seen;
  const std::string text = std::string(kTwoEvents).substr(0, 120);
  const absl::Status status = Read(text, &seen);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("p.json: the JSON ends early at byte offset"));
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
  EXPECT_EQ(seen.size(), 1u);  // events up to there were visited
}

TEST(ProfileReaderTest, RefusesWhatIsNotAnArrayOfEvents) {
  std::vector<Seen> seen;
  absl::Status status = Read(R"({"traceEvents":[]})", &seen);
  EXPECT_THAT(
      status.message(),
      HasSubstr("p.json: not an onnxruntime profile: the JSON is an object"));
  status = Read(R"([{"cat":"Node"}, 3])", &seen);
  EXPECT_THAT(status.message(),
              HasSubstr("element 1 of the top-level array (byte offset"));
  EXPECT_THAT(status.message(), HasSubstr("is a single value"));
  status = Read(R"([[1]])", &seen);
  EXPECT_THAT(status.message(), HasSubstr("element 0"));
  status = Read("[] x", &seen);
  EXPECT_THAT(status.message(),
              HasSubstr("p.json: JSON syntax error at byte offset 3"));
  status = Read("", &seen);
  EXPECT_THAT(status.message(), HasSubstr("ends early at byte offset 0"));
}

TEST(ProfileReaderTest, AVisitorsErrorStopsTheReading) {
  int visited = 0;
  const absl::Status status =
      ReadProfileBytes(kTwoEvents, "p.json", [&](const ProfileEvent&) {
        ++visited;
        return absl::InternalError("stop");
      });
  EXPECT_EQ(status, absl::InternalError("stop"));
  EXPECT_EQ(visited, 1);
}

TEST(ProfileReaderTest, StringsAreDecoded) {
  std::vector<Seen> seen;
  ASSERT_TRUE(Read("\xEF\xBB\xBF"  // a byte order mark
                   R"([{"c\u0061t":"Node","name":"\/a\\b \"q\" \u00e9)"
                   "\xC3\xA9"
                   R"( \uD83D\uDE00\n_kernel_time"}])",
                   &seen)
                  .ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].category, "Node");
  EXPECT_EQ(seen[0].name,
            "/a\\b \"q\" \xC3\xA9\xC3\xA9 \xF0\x9F\x98\x80\n_kernel_time");
}

TEST(ProfileReaderTest, EveryPlaceInALongStringIsChecked) {
  // Strings are scanned many bytes at a time: an escape, a non-ASCII
  // byte, a control character or the closing quote at each place in the
  // first 40 bytes is found there.
  for (size_t at = 0; at < 40; ++at) {
    SCOPED_TRACE(at);
    const std::string before(at, 'a');
    const std::string after(40 - at, 'b');
    std::vector<Seen> seen;
    ASSERT_TRUE(
        Read(absl::StrCat(R"([{"name":")", before, R"(\\)", after, "\xC3\xA9",
                          R"("},{"name":")", before, R"("}])"),
             &seen)
            .ok());
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].name, absl::StrCat(before, "\\", after, "\xC3\xA9"));
    EXPECT_EQ(seen[1].name, before);
    const absl::Status control = Read(
        absl::StrCat(R"([{"name":")", before, "\n", after, R"("}])"), &seen);
    EXPECT_THAT(control.message(),
                HasSubstr(absl::StrCat("byte offset ", 10 + at,
                                       ": control character 0x0A")));
    const absl::Status not_utf8 = Read(
        absl::StrCat(R"([{"name":")", before, "\xFF", after, R"("}])"), &seen);
    EXPECT_THAT(
        not_utf8.message(),
        HasSubstr(absl::StrCat("byte offset ", 10 + at, ": ill-formed UTF-8")));
  }
}

TEST(ProfileReaderTest, AMemberNamedTwiceCountsOnceTheLast) {
  std::vector<Seen> seen;
  ASSERT_TRUE(Read(R"([{"cat":"Node","cat":5,"dur":3,"dur":"x","ts":1,"ts":2,)"
                   R"("args":{"op_name":"Add"},"args":{"provider":"CPU"}}])",
                   &seen)
                  .ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].category, "");
  EXPECT_EQ(seen[0].dur, -1);
  EXPECT_FALSE(seen[0].dur_invalid);
  EXPECT_EQ(seen[0].ts, 2);
  EXPECT_EQ(seen[0].op_name, "");
  EXPECT_EQ(seen[0].provider, "CPU");
}

TEST(ProfileReaderTest, RefusesWhatIsNotJson) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[{\"name\":\"a\xC0\x80\"}]", "byte offset 11: ill-formed UTF-8"},
      {"[{\"name\":\"a\xED\xA0\x80\"}]", "byte offset 11: ill-formed UTF-8"},
      {R"([{"name":"\uDC00"}])", "byte offset 10: a low surrogate"},
      {R"([{"name":"\uD800x"}])", "byte offset 10: a high surrogate"},
      {"[{\"name\":\"a\tb\"}]", "byte offset 11: control character 0x09"},
      {R"([{"name":"\x"}])", "byte offset 10: invalid escape"},
      {R"([{"dur":01}])", "byte offset 9: expected ',' or '}'"},
      {R"([{"dur":1e400}])", "byte offset 8: number overflow: 1e400"},
      {R"([{"dur":-}])", "byte offset 9: expected a digit, found '}'"},
      {R"([{"args":{"a":[1,]}}])", "byte offset 17: expected a JSON value"},
      {R"([{"cat":"Node"},])", "byte offset 16: expected a JSON value"},
      {R"([{"cat":"Node",}])", "byte offset 15: expected a member name"},
      {R"([{"cat" "Node"}])", "byte offset 8: expected ':'"},
      {R"([{"x":tru}])", "byte offset 6: invalid literal (expected true)"},
      {"[{}]\0x", ""},  // valid: what follows a NUL byte is not read
      {"[{}] \n\0\0", ""},
      {"[{}]x\0", "byte offset 4: more after the top-level array"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::vector<Seen> seen;
    const absl::Status status = Read(c.text, &seen);
    if (c.message.empty()) {
      EXPECT_TRUE(status.ok()) << status;
      continue;
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(),
                HasSubstr("p.json: JSON syntax error at " + c.message));
  }
}

TEST(ProfileReaderTest, DeepNestingIsReadWithoutRecursion) {
  constexpr int kDepth = 1000000;
  std::string text = R"([{"cat":"Node","args":{"deep":)";
  text += std::string(kDepth, '[') + std::string(kDepth, ']');
  text += R"(,"op_name":"Add"}}])";
  std::vector<Seen> seen;
  ASSERT_TRUE(Read(text, &seen).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].op_name, "Add");
  // Unclosed: the input ends early.
  text = "[{\"a\":" + std::string(kDepth, '[');
  const absl::Status status = Read(text, &seen);
  EXPECT_THAT(status.message(),
              HasSubstr("the JSON ends early at byte offset " +
                        std::to_string(text.size())));
}

TEST(ProfileReaderTest, AStringLongerThanAChunkIsReadWhole) {
  // A name of 3 MiB, in a file read 1 MiB at a time, and events after it.
  const std::string name(3 << 20, 'n');
  const std::string text = R"([{"cat":"Node","dur":1},{"name":")" + name +
                           R"(","dur":2},{"dur":3}])";
  const std::string path = test_files::TestFolder() + "/long.json";
  test_files::WriteBytes(path, text);
  std::vector<std::string> names;
  std::vector<int64_t> durs;
  ASSERT_TRUE(ReadProfileFile(path, [&](const ProfileEvent& event) {
                names.emplace_back(event.name);
                durs.push_back(event.dur);
                EXPECT_EQ(text[event.byte_offset], '{');
                return absl::OkStatus();
              }).ok());
  EXPECT_THAT(durs, ::testing::ElementsAre(1, 2, 3));
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[1], name);
}

TEST(ProfileReaderTest, AMissingFileIsNotFound) {
  const absl::Status status =
      ReadProfileFile("/nonexistent/p.json",
                      [](const ProfileEvent&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/p.json"));
}

TEST(ProfileReaderTest, KernelEventsNameTheirNode) {
  absl::string_view node;
  ASSERT_TRUE(KernelEventNode("/encoder/Add_kernel_time", &node));
  EXPECT_EQ(node, "/encoder/Add");
  ASSERT_TRUE(KernelEventNode("_kernel_time", &node));
  EXPECT_EQ(node, "");
  EXPECT_FALSE(KernelEventNode("/encoder/Add_fence_before", &node));
}

}  // namespace
}  // namespace hp
