// A valid scope trace, written by hand, for the tests of hp/trace.
#ifndef HP_TESTS_TRACE_GOOD_TRACE_H_
#define HP_TESTS_TRACE_GOOD_TRACE_H_

#include <string>

#include "absl/strings/str_cat.h"

namespace hp {

constexpr char kDigest[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// A valid trace with an unknown key at every level: readers must ignore them.
constexpr char kGoodTrace[] = R"json({
  "format": "hp-scope-trace",
  "format_version": 1,
  "added_later": {"anything": [1, 2, 3]},
  "producer": {"name": "hp_record", "torch_version": "1.13.0", "host": "x"},
  "model": {"onnx_file": "tiny_bert.onnx",
            "onnx_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "opset": 17, "exporter": null},
  "root": {"class": "TinyBertModel", "qualified_class": "fixture_models.TinyBertModel",
           "extra": true},
  "modules": [
    {"path": "", "class": "TinyBertModel", "qualified_class": "fixture_models.TinyBertModel",
     "is_torch_nn": false, "executed": true, "call_count": 1, "first_call_order": 0,
     "tag": "/TinyBertModel", "future": {"x": 1}},
    {"path": "embeddings", "class": "Embeddings", "qualified_class": "fixture_models.Embeddings",
     "is_torch_nn": false, "executed": true, "call_count": 1, "first_call_order": 1,
     "tag": "/TinyBertModel/Embeddings"},
    {"path": "encoder", "class": "Encoder", "qualified_class": "fixture_models.Encoder",
     "is_torch_nn": false, "executed": true, "call_count": 1, "first_call_order": 2,
     "tag": "/TinyBertModel/Encoder"},
    {"path": "encoder.layer", "class": "ModuleList",
     "qualified_class": "torch.nn.modules.container.ModuleList",
     "is_torch_nn": true, "executed": false, "call_count": 0, "first_call_order": null,
     "tag": null},
    {"path": "encoder.layer.0", "class": "Layer", "qualified_class": "fixture_models.Layer",
     "is_torch_nn": false, "executed": true, "call_count": 2, "first_call_order": 3,
     "tag": "/TinyBertModel/Encoder/Layer.0"},
    {"path": "encoder.layer.1", "class": "Layer", "qualified_class": "fixture_models.Layer",
     "is_torch_nn": false, "executed": true, "call_count": 1, "first_call_order": 4,
     "tag": "/TinyBertModel/Encoder/Layer.1"},
    {"path": "unused", "class": "Dropout", "qualified_class": "torch.nn.modules.dropout.Dropout",
     "is_torch_nn": true, "executed": false, "call_count": 0, "first_call_order": null,
     "tag": null}
  ]
})json";

constexpr char kOtherDigest[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// kGoodTrace with a structure digest, as hp_record writes it now.
constexpr char kStructureDigest[] =
    "5f0c1d2e3a4b59687786950a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e";

inline std::string TraceWithStructureDigest() {
  std::string text = kGoodTrace;
  const std::string opset = R"("opset": 17,)";
  text.insert(text.find(opset), absl::StrCat(R"("onnx_structure_sha256": ")",
                                             kStructureDigest, R"(", )"));
  return text;
}

}  // namespace hp

#endif  // HP_TESTS_TRACE_GOOD_TRACE_H_
