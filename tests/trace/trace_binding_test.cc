#include "hp/trace/trace_binding.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trace/good_trace.h"

namespace hp {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// The converter's wording of how to go on anyway.
constexpr char kHint[] = "--trace_digest=warn";
const DigestPolicy kConverterPolicy{DigestCheck::kError, kHint};

TEST(DigestCheckTest, MatchingDigestGivesNoWarnings) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<std::vector<std::string>> warnings = CheckTraceDigest(
      trace->origin(), "m.onnx", {kDigest, ""}, kConverterPolicy);
  ASSERT_TRUE(warnings.ok()) << warnings.status();
  EXPECT_THAT(*warnings, IsEmpty());
  // sha256sum prints lowercase; other tools may not.
  std::string upper = kDigest;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(
      CheckTraceDigest(trace->origin(), "m.onnx", {upper, ""}, kConverterPolicy)
          .ok());
}

TEST(DigestCheckTest, MismatchIsAnErrorNamingBothFilesAndDigests) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<std::vector<std::string>> warnings = CheckTraceDigest(
      trace->origin(), "other.onnx", {kOtherDigest, ""}, kConverterPolicy);
  EXPECT_EQ(warnings.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(warnings.status().message()),
            absl::StrCat("other.onnx: sha256 ", kOtherDigest,
                         " does not match t.json, which was recorded for "
                         "\"tiny_bert.onnx\" with sha256 ",
                         kDigest,
                         "; the trace belongs to another model (or to an "
                         "earlier export of it); re-record the trace for this "
                         "model, or pass --trace_digest=warn to convert "
                         "anyway"));
}

TEST(DigestCheckTest, MismatchInWarnModeIsOneWarning) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<std::vector<std::string>> warnings =
      CheckTraceDigest(trace->origin(), "other.onnx", {kOtherDigest, ""},
                       {DigestCheck::kWarn, kHint});
  ASSERT_TRUE(warnings.ok()) << warnings.status();
  ASSERT_EQ(warnings->size(), 1u);
  EXPECT_THAT((*warnings)[0], StartsWith("other.onnx: sha256 "));
  EXPECT_THAT((*warnings)[0],
              HasSubstr("; converting anyway (--trace_digest=warn)"));
}

TEST(DigestCheckTest, MalformedModelDigestIsRejected) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(
      CheckTraceDigest(trace->origin(), "m.onnx", {"abc", ""}, kConverterPolicy)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(DigestCheckTest, StructureDigestDecidesWhenBothSidesHaveIt) {
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace(TraceWithStructureDigest(), "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  // The file digest is not consulted when the structure digests are known:
  // other weights, same graph.
  absl::StatusOr<std::vector<std::string>> same =
      CheckTraceDigest(trace->origin(), "m.onnx",
                       {kOtherDigest, kStructureDigest}, kConverterPolicy);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_THAT(*same, IsEmpty());

  absl::StatusOr<std::vector<std::string>> other = CheckTraceDigest(
      trace->origin(), "other.onnx", {kDigest, kOtherDigest}, kConverterPolicy);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      std::string(other.status().message()),
      StartsWith(absl::StrCat("other.onnx: structure sha256 ", kOtherDigest,
                              " does not match t.json, which was recorded for "
                              "\"tiny_bert.onnx\" with structure sha256 ",
                              kStructureDigest, ";")));
}

TEST(DigestCheckTest, FileDigestServesWhenTheModelHasNoStructureDigest) {
  // A model tagged by an earlier hp records only its file digest.
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace(TraceWithStructureDigest(), "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_TRUE(CheckTraceDigest(trace->origin(), "m.onnx", {kDigest, ""},
                               kConverterPolicy)
                  .ok());
  EXPECT_EQ(CheckTraceDigest(trace->origin(), "m.onnx", {kOtherDigest, ""},
                             kConverterPolicy)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // With neither digest there is nothing to compare.
  absl::StatusOr<std::vector<std::string>> none =
      CheckTraceDigest(trace->origin(), "m.onnx", {"", ""}, kConverterPolicy);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(none.status().message()),
              StartsWith("m.onnx: no digest to check t.json against"));
}

TEST(DigestCheckTest, KindFollowsTheTrace) {
  absl::StatusOr<ScopeTrace> old = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(DigestToCheck(old->origin()), DigestKind::kFile);
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace(TraceWithStructureDigest(), "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(DigestToCheck(trace->origin()), DigestKind::kStructure);
}

TEST(DigestCheckTest, WithoutAHintTheMessageNamesNoFlag) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<std::vector<std::string>> error =
      CheckTraceDigest(trace->origin(), "other.onnx", {kOtherDigest, ""});
  EXPECT_EQ(error.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(error.status().message()),
              testing::EndsWith("; re-record the trace for this model"));
  absl::StatusOr<std::vector<std::string>> warning =
      CheckTraceDigest(trace->origin(), "other.onnx", {kOtherDigest, ""},
                       {DigestCheck::kWarn, ""});
  ASSERT_TRUE(warning.ok()) << warning.status();
  EXPECT_THAT(*warning,
              testing::ElementsAre(testing::EndsWith("; converting anyway")));
}

TEST(DigestPlanTest, ATaggedModelIsCheckedByTheDigestsItRecords) {
  absl::StatusOr<ScopeTrace> trace =
      ParseScopeTrace(TraceWithStructureDigest(), "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  const DigestPlan plan = PlanDigestCheck(
      trace->origin(), {std::nullopt, std::string(kStructureDigest)});
  EXPECT_FALSE(plan.to_hash.has_value());
  EXPECT_EQ(plan.known.structure_sha256, kStructureDigest);
  EXPECT_THAT(*CheckTraceDigest(trace->origin(), "m.onnx", plan.known),
              IsEmpty());
}

TEST(DigestPlanTest, AnUntaggedModelIsHashedByTheTracesKind) {
  absl::StatusOr<ScopeTrace> structure =
      ParseScopeTrace(TraceWithStructureDigest(), "t.json");
  ASSERT_TRUE(structure.ok()) << structure.status();
  EXPECT_EQ(PlanDigestCheck(structure->origin(), {}).to_hash,
            DigestKind::kStructure);
  // A known file digest does not serve a trace that has a structure digest.
  EXPECT_EQ(PlanDigestCheck(structure->origin(), {}, kDigest).to_hash,
            DigestKind::kStructure);

  absl::StatusOr<ScopeTrace> old = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(PlanDigestCheck(old->origin(), {}).to_hash, DigestKind::kFile);
  const DigestPlan known = PlanDigestCheck(old->origin(), {}, kDigest);
  EXPECT_FALSE(known.to_hash.has_value());
  EXPECT_EQ(known.known.sha256, kDigest);
}

TEST(DigestPlanTest, ModelFilesAreHashedWhenNothingIsRecorded) {
  absl::StatusOr<ScopeTrace> trace = ParseScopeTrace(kGoodTrace, "t.json");
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::StatusOr<std::vector<std::string>> missing = CheckTraceBelongsToModel(
      trace->origin(), "no/such/model.onnx", {}, kConverterPolicy);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("no/such/model.onnx"));
}

}  // namespace
}  // namespace hp
