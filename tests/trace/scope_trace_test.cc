#include "hp/trace/scope_trace.h"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trace/good_trace.h"

namespace hp {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Tests run in the runfiles root of workspace `hp`.
constexpr char kBadTraces[] = "testdata/bad_traces";

TEST(ScopeTraceTest, ParsesHeaderFields) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "good.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->source(), "good.json");
  EXPECT_EQ(trace->format_version(), 1);
  EXPECT_EQ(trace->producer().name, "hp_record");
  EXPECT_EQ(trace->producer().torch_version, "1.13.0");
  EXPECT_EQ(trace->onnx_file(), "tiny_bert.onnx");
  EXPECT_EQ(trace->onnx_sha256(), kDigest);
  EXPECT_EQ(trace->opset(), 17);
  EXPECT_EQ(trace->root_class(), "TinyBertModel");
  EXPECT_EQ(trace->root_qualified_class(), "fixture_models.TinyBertModel");
}

TEST(ScopeTraceTest, ParsesModulesInTraceOrder) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "good.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->modules().size(), 7u);
  const TracedModule& layer0 = trace->modules()[4];
  EXPECT_EQ(layer0.path, "encoder.layer.0");
  EXPECT_EQ(layer0.class_name, "Layer");
  EXPECT_EQ(layer0.qualified_class, "fixture_models.Layer");
  EXPECT_FALSE(layer0.is_torch_nn);
  EXPECT_TRUE(layer0.executed);
  EXPECT_EQ(layer0.call_count, 2);
  EXPECT_EQ(layer0.first_call_order, 3);
  EXPECT_EQ(layer0.recorded_tag, "/TinyBertModel/Encoder/Layer.0");

  const TracedModule& unused = trace->modules()[6];
  EXPECT_TRUE(unused.is_torch_nn);
  EXPECT_FALSE(unused.executed);
  EXPECT_EQ(unused.call_count, 0);
  EXPECT_EQ(unused.first_call_order, std::nullopt);
  EXPECT_EQ(unused.recorded_tag, std::nullopt);
}

TEST(ScopeTraceTest, LinksParentsAndChildren) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "good.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  const std::vector<TracedModule>& modules = trace->modules();
  EXPECT_EQ(&trace->root(), &modules[0]);
  EXPECT_EQ(modules[0].parent, -1);
  EXPECT_THAT(trace->children(0), ElementsAre(1, 2, 6));
  EXPECT_EQ(modules[2].parent, 0);
  EXPECT_THAT(trace->children(2), ElementsAre(3));
  EXPECT_THAT(trace->children(3), ElementsAre(4, 5));
  EXPECT_EQ(modules[4].parent, 3);
  EXPECT_EQ(modules[5].parent, 3);
  EXPECT_THAT(trace->children(5), IsEmpty());
}

TEST(ScopeTraceTest, FindsModulesByPath) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "good.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->IndexOf(""), 0);
  EXPECT_EQ(trace->IndexOf("encoder.layer.1"), 5);
  EXPECT_EQ(trace->IndexOf("encoder.layer.2"), -1);
  ASSERT_NE(trace->Find("encoder"), nullptr);
  EXPECT_EQ(trace->Find("encoder")->class_name, "Encoder");
  EXPECT_EQ(trace->Find("Encoder"), nullptr);
  EXPECT_EQ(trace->Find("encoder."), nullptr);
}

TEST(ScopeTraceTest, CopiesKeepTheirOwnIndex) {
  absl::StatusOr<ScopeTrace> parsed = ParseScopeTrace(kGoodTrace, "good.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ScopeTrace copy = *parsed;
  parsed = absl::InternalError("gone");
  ASSERT_NE(copy.Find("encoder.layer.0"), nullptr);
  EXPECT_EQ(copy.Find("encoder.layer.0"), &copy.modules()[4]);
}

TEST(ScopeTraceTest, ForgettingModulesKeepsRootOriginAndDigest) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "good.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  const std::string text_sha256 = trace->text_sha256();
  trace->ForgetModulesButRoot();
  ASSERT_EQ(trace->modules().size(), 1u);
  EXPECT_EQ(trace->root().path, "");
  EXPECT_EQ(trace->root().class_name, "TinyBertModel");
  EXPECT_EQ(trace->root().qualified_class, "fixture_models.TinyBertModel");
  EXPECT_THAT(trace->children(0), IsEmpty());
  EXPECT_EQ(trace->Find(""), &trace->root());
  EXPECT_EQ(trace->Find("encoder"), nullptr);
  EXPECT_FALSE(trace->has_calls());
  EXPECT_THAT(trace->calls(), IsEmpty());
  EXPECT_EQ(trace->text_sha256(), text_sha256);
  EXPECT_EQ(trace->onnx_sha256(), kDigest);
  EXPECT_EQ(trace->root_class(), "TinyBertModel");
  // A copy made after still has its root.
  const ScopeTrace copy = *trace;
  EXPECT_EQ(copy.Find("")->class_name, "TinyBertModel");
}

TEST(ScopeTraceTest, ModulesMayListChildrenBeforeParents) {
  // named_modules() is pre-order, but the reader only needs every parent to
  // exist somewhere in the list.
  std::string text = kGoodTrace;
  const std::string layer = R"("path": "encoder.layer", )";
  const std::string layer0 = R"("path": "encoder.layer.0", )";
  const size_t at_layer = text.find(layer);
  const size_t at_layer0 = text.find(layer0);
  text.replace(at_layer0, layer0.size(), layer);
  text.replace(at_layer, layer.size(), layer0);
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text, "good.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->modules()[3].path, "encoder.layer.0");
  EXPECT_EQ(trace->modules()[3].parent, 4);
  EXPECT_THAT(trace->children(4), ElementsAre(3, 5));
}

// Plain traces (what hp_record writes) take a fast path; any other JSON text
// is read as a document. Both must give the same trace.
void ExpectSameTrace(const ScopeTrace& a, const ScopeTrace& b) {
  EXPECT_EQ(a.source(), b.source());
  EXPECT_EQ(a.format_version(), b.format_version());
  EXPECT_EQ(a.producer().name, b.producer().name);
  EXPECT_EQ(a.producer().torch_version, b.producer().torch_version);
  EXPECT_EQ(a.onnx_file(), b.onnx_file());
  EXPECT_EQ(a.onnx_sha256(), b.onnx_sha256());
  EXPECT_EQ(a.onnx_structure_sha256(), b.onnx_structure_sha256());
  EXPECT_EQ(a.opset(), b.opset());
  EXPECT_EQ(a.root_class(), b.root_class());
  EXPECT_EQ(a.root_qualified_class(), b.root_qualified_class());
  ASSERT_EQ(a.modules().size(), b.modules().size());
  for (size_t i = 0; i < a.modules().size(); ++i) {
    const TracedModule& x = a.modules()[i];
    const TracedModule& y = b.modules()[i];
    EXPECT_EQ(x.path, y.path) << i;
    EXPECT_EQ(x.class_name, y.class_name) << i;
    EXPECT_EQ(x.qualified_class, y.qualified_class) << i;
    EXPECT_EQ(x.is_torch_nn, y.is_torch_nn) << i;
    EXPECT_EQ(x.executed, y.executed) << i;
    EXPECT_EQ(x.call_count, y.call_count) << i;
    EXPECT_EQ(x.first_call_order, y.first_call_order) << i;
    EXPECT_EQ(x.recorded_tag, y.recorded_tag) << i;
    EXPECT_EQ(x.parent, y.parent) << i;
    EXPECT_THAT(a.children(static_cast<int>(i)),
                ElementsAreArray(b.children(static_cast<int>(i))))
        << i;
    EXPECT_EQ(a.IndexOf(x.path), b.IndexOf(y.path)) << i;
  }
}

// kGoodTrace with `insert` added as the top level's first member.
std::string GoodTraceWith(absl::string_view insert) {
  std::string text = kGoodTrace;
  text.insert(text.find('{') + 1, absl::StrCat(insert, ","));
  return text;
}

TEST(ScopeTraceTest, NonPlainJsonGivesTheSameTraceAsPlainJson) {
  absl::StatusOr<ScopeTrace> plain = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(plain.ok()) << plain.status();
  // Each is valid JSON outside the fast path's subset.
  for (const char* insert :
       {R"("fraction": 1.5)", R"("escaped": "\u00e9\n")",
        R"("big": 12345678901234567890)", R"("exponent": 1e3)",
        "\"utf8\": \"caf\xc3\xa9\""}) {
    absl::StatusOr<ScopeTrace> other =
        ParseScopeTrace(GoodTraceWith(insert), "t.json");
    ASSERT_TRUE(other.ok()) << insert << ": " << other.status();
    ExpectSameTrace(*plain, *other);
  }
}

TEST(ScopeTraceTest, EscapesInValuesAreDecoded) {
  std::string text = kGoodTrace;
  const std::string from = R"("class": "Embeddings")";
  text.replace(text.find(from), from.size(), R"("class": "Emb\u0065ddings\t")");
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->modules()[1].class_name, "Embeddings\t");
}

TEST(ScopeTraceTest, ADuplicateKeyTakesItsLastValue) {
  // As JSON documents read them: the last of duplicate members wins.
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace(GoodTraceWith(R"("format_version": 7)"), "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->format_version(), 1);
  std::string text = kGoodTrace;
  const std::string from = R"("call_count": 2,)";
  text.replace(text.find(from), from.size(),
               R"("call_count": 5, "call_count": 2,)");
  trace = ParseScopeTrace(text, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->modules()[4].call_count, 2);
}

TEST(ScopeTraceTest, PlainTextWithAFailedCheckGivesTheDocumentReadersError) {
  std::string text = kGoodTrace;
  const std::string from = R"("call_count": 2,)";
  text.replace(text.find(from), from.size(), R"("call_count": -2,)");
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text, "t.json");
  EXPECT_EQ(trace.status().message(),
            "t.json: modules[4].call_count: expected a count >= 0, got -2 "
            "(module \"encoder.layer.0\")");
}

TEST(ScopeTraceTest, MissingFileIsNotFoundAndNamesThePath) {
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace("no/such/trace.json");
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(trace.status().message()),
              StartsWith("no/such/trace.json: "));
}

TEST(ScopeTraceTest, SyntaxErrorAtEndOfInputPointsPastTheLastCharacter) {
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace("{\n  \"format\": ", "cut.json");
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(trace.status().message()),
              StartsWith("cut.json: JSON syntax error at line 2, column 13 "
                         "(byte offset 14): "));
}

// Column of the first occurrence of `token` in a one-line `text`.
size_t ColumnOf(absl::string_view text, absl::string_view token) {
  return text.find(token) + 1;
}

TEST(ScopeTraceTest, SyntaxErrorsPointAtTheStartOfTheOffendingToken) {
  struct Case {
    std::string text;
    std::string token;  // where the error must point
  };
  const Case cases[] = {
      {R"({"a" "b\"c"})", R"("b\"c")"},   // unexpected string
      {R"({"a": "x\\" "y"})", R"("y")"},  // after an escaped backslash
      {"[1, 2 345]", "345"},              // unexpected number
      {R"({"a": trux})", "trux"},         // invalid literal
      {R"({"a": 1,, "b": 2})", ",,"},     // unexpected punctuation
  };
  for (const Case& c : cases) {
    absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(c.text, "s.json");
    const size_t column = ColumnOf(c.text, c.token) + (c.token == ",," ? 1 : 0);
    EXPECT_THAT(std::string(trace.status().message()),
                StartsWith(absl::StrCat("s.json: JSON syntax error at line 1, "
                                        "column ",
                                        column, " ")))
        << c.text;
  }
}

TEST(ScopeTraceTest, LongValuesAreCutShortInMessages) {
  std::string text = kGoodTrace;
  const std::string format = R"("format": "hp-scope-trace")";
  text.replace(text.find(format), format.size(),
               absl::StrCat("\"format\": \"", std::string(200, 'x'), "\""));
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text, "long.json");
  EXPECT_EQ(
      std::string(trace.status().message()),
      absl::StrCat("long.json: format: expected \"hp-scope-trace\", got \"",
                   std::string(56, 'x'),
                   "...; this file is not an hp scope trace"));
}

// Bad traces in testdata/bad_traces: each file, and the message after
// "testdata/bad_traces/<file>: ".
struct BadTrace {
  const char* file;
  const char* message;
};

void PrintTo(const BadTrace& bad, std::ostream* out) { *out << bad.file; }

const BadTrace kBadTraceCases[] = {
    {"syntax_error.json",
     "JSON syntax error at line 4, column 3 (byte offset 56): syntax error "
     "while parsing object - unexpected string literal; expected '}'"},
    {"empty.json",
     "JSON syntax error at line 1, column 1 (byte offset 0): syntax error "
     "while parsing value - unexpected end of input; expected '[', '{', or a "
     "literal"},
    {"number_overflow.json", "invalid JSON: number overflow parsing '1e400'"},
    {"not_an_object.json",
     "expected a JSON object at the top level, got an array"},
    {"wrong_format.json",
     "format: expected \"hp-scope-trace\", got \"onnx-scope-trace\"; this file "
     "is not an hp scope trace"},
    {"unknown_version.json",
     "format_version: unsupported version 2; this hp reads version 1 (record "
     "the trace with a matching hp_record, or upgrade hp)"},
    {"missing_section.json", "missing field \"model\""},
    {"missing_field.json", "modules[3]: missing field \"class\""},
    {"wrong_type.json", "modules[2].path: expected a string, got 3"},
    {"fractional_integer.json", "model.opset: expected an integer, got 17.5"},
    {"huge_integer.json",
     "modules[3].call_count: integer 18446744073709551615 is out of range"},
    {"bad_digest.json",
     "model.onnx_sha256: expected 64 lowercase hex digits, got "
     "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\""},
    {"bad_structure_digest.json",
     "model.onnx_structure_sha256: expected 64 lowercase hex digits, got "
     "\"e3b0c442\""},
    {"empty_modules.json",
     "modules: expected at least the root module, got an empty array"},
    {"root_not_first.json",
     "modules[0]: the first module must be the root (path \"\"), got path "
     "\"encoder\""},
    {"root_class_mismatch.json",
     "modules[0].class: \"Tiny\" differs from root.class \"Small\""},
    {"duplicate_path.json",
     "modules[4].path: duplicate path \"encoder\" (also modules[1])"},
    {"missing_parent.json",
     "modules[2].path: parent module \"encoder.layer\" of \"encoder.layer.0\" "
     "is not in the trace (every dotted prefix of a module path must itself "
     "be a module)"},
    {"empty_path_component.json",
     "modules[3].path: \"encoder..0\" has an empty component; module paths "
     "are dotted names such as \"encoder.layer.0\""},
    {"negative_call_count.json",
     "modules[2].call_count: expected a count >= 0, got -1 (module "
     "\"encoder.layer\")"},
    {"executed_without_calls.json",
     "modules[1]: executed is true but call_count is 0 (module \"encoder\")"},
    {"not_executed_with_order.json",
     "modules[2].first_call_order: expected null for a module that was not "
     "executed, got 4 (module \"encoder.layer\")"},
    {"call_of_unknown_module.json",
     "calls[1].path: \"encoder.layer.1\" is not the path of a module in "
     "modules"},
    {"call_inside_later_call.json",
     "calls[1].parent: expected the index of an earlier call (0 to 0) or "
     "null, got 1 (call of \"encoder.layer.0\")"},
    {"call_of_the_root.json",
     "calls[0].path: the root is not a call (its forward is not hooked)"},
};

class BadTraceTest : public ::testing::TestWithParam<BadTrace> {};

TEST_P(BadTraceTest, IsRejectedWithAClearMessage) {
  const std::string path = absl::StrCat(kBadTraces, "/", GetParam().file);
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(path);
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument)
      << trace.status();
  EXPECT_EQ(std::string(trace.status().message()),
            absl::StrCat(path, ": ", GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(BadTraces, BadTraceTest,
                         ::testing::ValuesIn(kBadTraceCases),
                         [](const ::testing::TestParamInfo<BadTrace>& info) {
                           std::string name = info.param.file;
                           return name.substr(0, name.find('.'));
                         });

// A fixture without a case above would be a check that never runs.
TEST(BadTraceFixturesTest, EveryFixtureHasACaseAndEveryCaseAFixture) {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kBadTraces)) {
    if (entry.path().extension() == ".json") {
      on_disk.insert(entry.path().filename().string());
    }
  }
  std::set<std::string> in_table;
  for (const BadTrace& bad : kBadTraceCases) in_table.insert(bad.file);
  EXPECT_EQ(on_disk, in_table);
}

TEST(ScopeTraceTest, CallsAreReadAndOptional) {
  // A trace recorded before calls were added has none.
  absl::StatusOr<ScopeTrace> old = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->has_calls());
  EXPECT_TRUE(old->calls().empty());
  const std::string calls =
      R"("calls": [{"path": "encoder", "parent": null, "later": 1},)"
      R"( {"path": "encoder.layer.0", "parent": 0},)"
      R"( {"path": "encoder.layer.0", "parent": 0}])";
  // The fast path, and the document reader (a fraction is not plain).
  for (const std::string& text :
       {GoodTraceWith(calls),
        GoodTraceWith(absl::StrCat(calls, R"(, "fraction": 1.5)"))}) {
    absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(text, "t.json");
    ASSERT_TRUE(trace.ok()) << trace.status();
    ASSERT_TRUE(trace->has_calls());
    ASSERT_EQ(trace->calls().size(), 3u);
    EXPECT_EQ(trace->calls()[0].module, trace->IndexOf("encoder"));
    EXPECT_EQ(trace->calls()[0].parent, -1);
    EXPECT_EQ(trace->calls()[2].module, trace->IndexOf("encoder.layer.0"));
    EXPECT_EQ(trace->calls()[2].parent, 0);
  }
  absl::StatusOr<ScopeTrace> empty =
      ParseScopeTrace(GoodTraceWith(R"("calls": [])"), "t.json");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->has_calls());
}

TEST(ScopeTraceTest, StructureDigestIsReadAndOptional) {
  absl::StatusOr<ScopeTrace> old = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->onnx_structure_sha256(), "");
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace(TraceWithStructureDigest(), "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->onnx_structure_sha256(), kStructureDigest);
  // The document reader (outside the plain fast path) reads it too.
  std::string non_plain = TraceWithStructureDigest();
  non_plain.insert(non_plain.find('{') + 1, R"("fraction": 1.5,)");
  absl::StatusOr<ScopeTrace> document = ParseScopeTrace(non_plain, "t.json");
  ASSERT_TRUE(document.ok()) << document.status();
  ExpectSameTrace(*trace, *document);
}

}  // namespace
}  // namespace hp
