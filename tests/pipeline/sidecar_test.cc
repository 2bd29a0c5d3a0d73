// The sidecar file: what it records, and reading it back.
#include "hp/pipeline/sidecar.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hp/hp.h"
#include "nlohmann/json.hpp"
#include "tests/support/twelve_layers.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

class SidecarTest : public testing::TaggedTwelveLayers {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TaggedTwelveLayers::SetUp());
    context_.input_model = {"in.onnx", std::string(64, 'a')};
    context_.trace = FileDigest{"in.trace.json", trace_->text_sha256()};
    context_.output_model = {"out.onnx", std::string(64, 'b')};
    text_ = SidecarJson(model_, result_, &*trace_, context_);
    json_ = nlohmann::json::parse(text_, nullptr, false);
    ASSERT_TRUE(json_.is_object()) << text_;
  }

  SidecarContext context_;
  std::string text_;
  nlohmann::json json_;
};

TEST_F(SidecarTest, RecordsTheRunsFilesAndModel) {
  EXPECT_EQ(json_["format"], "hp-sidecar");
  EXPECT_EQ(json_["export"]["hp_version"], kVersion);
  EXPECT_EQ(json_["export"]["input_model"]["sha256"], std::string(64, 'a'));
  EXPECT_EQ(json_["export"]["trace"]["sha256"], trace_->text_sha256());
  EXPECT_EQ(json_["export"]["output_model"]["path"], "out.onnx");
  EXPECT_EQ(json_["export"]["tag_format"], "metadata");
  EXPECT_EQ(json_["model"]["node_count"], testing::kTwelveLayerNodes);
  EXPECT_EQ(json_["model"]["inputs"][0]["shape"], "[2,hidden]");
  EXPECT_EQ(json_["model"]["opsets"][0]["version"], 17);
  EXPECT_EQ(json_["statistics"]["nodes"], testing::kTwelveLayerNodes);
  EXPECT_EQ(json_["statistics"]["direct"], result_.statistics.direct);
}

TEST_F(SidecarTest, NestsEveryModuleInstanceByPath) {
  const nlohmann::json& root = json_["hierarchy"]["modules"];
  EXPECT_EQ(root["path"], "");
  EXPECT_EQ(root["tag"], "/TinyBert");
  EXPECT_EQ(root["first_call_order"], 0);
  const nlohmann::json& encoder = root["children"][0];
  EXPECT_EQ(encoder["class"], "BertEncoder");
  const nlohmann::json& list = encoder["children"][0];
  EXPECT_EQ(list["path"], "encoder.layer");
  EXPECT_EQ(list["kept"], false);
  EXPECT_EQ(list["call_count"], 0);
  ASSERT_EQ(list["children"].size(), static_cast<size_t>(testing::kLayers));
  const nlohmann::json& layer10 = list["children"][10];
  EXPECT_EQ(layer10["path"], "encoder.layer.10");
  EXPECT_EQ(layer10["tag"], testing::LayerTag(10));
  EXPECT_EQ(layer10["own_nodes"], 1);  // the Add; the MatMul is dense's
  EXPECT_EQ(layer10["children"][0]["class"], "Linear");
  EXPECT_EQ(layer10["children"][0]["tag"], testing::LayerTag(10));
}

TEST_F(SidecarTest, ReadsBackTheNodeMap) {
  absl::StatusOr<Sidecar> sidecar = ParseSidecar(text_, "s.json");
  ASSERT_TRUE(sidecar.ok()) << sidecar.status();
  EXPECT_EQ(sidecar->output_model_sha256, std::string(64, 'b'));
  ASSERT_EQ(sidecar->nodes.size(), result_.nodes.size());
  for (size_t i = 0; i < result_.nodes.size(); ++i) {
    EXPECT_EQ(sidecar->nodes[i].node_name, result_.nodes[i].node_name);
    EXPECT_EQ(sidecar->nodes[i].tag, result_.nodes[i].tag);
    EXPECT_EQ(sidecar->nodes[i].module_path, result_.nodes[i].module_path);
    EXPECT_EQ(sidecar->nodes[i].match, result_.nodes[i].match);
  }
}

TEST_F(SidecarTest, WithoutATraceCallsAreUnknown) {
  const std::string text =
      SidecarJson(model_, result_, nullptr, SidecarContext());
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  EXPECT_TRUE(json["export"]["trace"].is_null());
  EXPECT_TRUE(json["hierarchy"]["modules"]["call_count"].is_null());
}

TEST(ParseSidecarTest, ErrorsNameTheFileAndWhere) {
  EXPECT_THAT(ParseSidecar("{\"format\": ", "s.json").status().message(),
              HasSubstr("s.json: JSON syntax error at line 1, column 12 "
                        "(byte offset 11): "));
  EXPECT_THAT(ParseSidecar("{\"format\": \"hp-scope-trace\"}", "s.json")
                  .status()
                  .message(),
              HasSubstr("s.json: format: expected \"hp-sidecar\""));
  EXPECT_THAT(
      ParseSidecar("{\"format\":\"hp-sidecar\",\"format_version\":1,"
                   "\"export\":{\"output_model\":{\"sha256\":\"x\"}},"
                   "\"nodes\":[{\"graph\":\"main\",\"name\":\"a\","
                   "\"op_type\":\"Add\",\"module_path\":\"\",\"tag\":3}]}",
                   "s.json")
          .status()
          .message(),
      HasSubstr("s.json: nodes[0].tag: expected a string"));
  EXPECT_THAT(ParseSidecar("[1]", "s.json").status().message(),
              HasSubstr("s.json: expected a JSON object"));
  EXPECT_EQ(LoadSidecar("/nonexistent/s.json").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace hp
