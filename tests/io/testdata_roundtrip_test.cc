// Every model of Debian's libonnx-testdata (1072 models, ONNX 1.12) survives
// LoadModel + SerializeModel byte for byte.
//
// Byte identity is the expectation for all of them, not merely equality as
// messages: with proto/onnx.proto every model comes back identical. That also
// checks the schema against ONNX's own writer: a wrong field number would
// leave the field unknown and move it to the end of its message, and a wrong
// packed option would change how repeated numbers are encoded (the testdata
// has packed TensorProto.float_data / int64_data / int32_data and unpacked
// AttributeProto.ints). A model that is equal only as a message is therefore
// a failure to investigate, not something to explain away; the test prints
// the first differing offset to start from.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "hp/io/atomic_file.h"
#include "hp/io/model_io.h"
#include "proto/onnx.pb.h"
#include "tests/support/test_files.h"

namespace hp {
namespace {

namespace fs = std::filesystem;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::google::protobuf::util::MessageDifferencer;
using ::hp::test_files::FindModels;
using ::hp::test_files::kLibonnxTestdata;

// The path of the first field proto/onnx.proto does not know, e.g.
// "ModelProto.graph.node.42"; empty when there is none. The testdata was
// written with the ONNX schema, so any hit is a gap in ours.
std::string FirstUnknownField(const Message& message,
                              const std::string& where) {
  const Reflection* reflection = message.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown =
      reflection->GetUnknownFields(message);
  if (unknown.field_count() > 0) {
    return absl::StrCat(where, ".", unknown.field(0).number());
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string here = absl::StrCat(where, ".", field->name());
    const int count =
        field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const Message& child =
          field->is_repeated()
              ? reflection->GetRepeatedMessage(message, field, i)
              : reflection->GetMessage(message, field);
      std::string found = FirstUnknownField(child, here);
      if (!found.empty()) return found;
    }
  }
  return "";
}

size_t FirstDifference(const std::string& a, const std::string& b) {
  return static_cast<size_t>(
      std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()),
                    b.begin())
          .first -
      a.begin());
}

TEST(TestdataRoundtripTest, EveryModelRoundTripsByteForByte) {
  ASSERT_TRUE(fs::is_directory(kLibonnxTestdata))
      << kLibonnxTestdata
      << " is missing: install Debian's libonnx-testdata "
         "(apt-get install libonnx-testdata); this test needs its models";
  const std::vector<std::string> paths = FindModels(kLibonnxTestdata);
  // The package holds 1072 models; far fewer means a broken walk.
  ASSERT_GE(paths.size(), 1000u) << "models found under " << kLibonnxTestdata;

  int models = 0;
  int byte_identical = 0;
  int equal_as_message_only = 0;
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    absl::StatusOr<std::string> original = ReadFile(path);
    ASSERT_TRUE(original.ok()) << original.status();
    absl::StatusOr<onnx::ModelProto> model = LoadModel(path);
    if (!model.ok()) {
      ADD_FAILURE() << model.status();
      continue;
    }
    absl::StatusOr<std::string> saved = SerializeModel(*model, path);
    if (!saved.ok()) {
      ADD_FAILURE() << saved.status();
      continue;
    }
    ++models;
    EXPECT_EQ(FirstUnknownField(*model, "ModelProto"), "")
        << "a field proto/onnx.proto does not know";

    // Equal as messages, both sides parsed from bytes.
    onnx::ModelProto before;
    onnx::ModelProto after;
    ASSERT_TRUE(before.ParseFromString(*original));
    ASSERT_TRUE(after.ParseFromString(*saved));
    std::string difference;
    MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&difference);
    if (!differencer.Compare(before, after)) {
      ADD_FAILURE() << "saved model differs from the original:\n" << difference;
      continue;
    }
    if (*saved == *original) {
      ++byte_identical;
      continue;
    }
    ++equal_as_message_only;
    ADD_FAILURE() << "equal as a message but not byte-identical: "
                  << original->size() << " bytes in, " << saved->size()
                  << " out, first difference at offset "
                  << FirstDifference(*original, *saved)
                  << " (check proto/onnx.proto's field numbers and packed "
                     "options against the ONNX spec, then the original's "
                     "field order)";
  }

  std::printf(
      "roundtrip: %d models, %d byte-identical, %d equal-as-message only\n",
      models, byte_identical, equal_as_message_only);
  EXPECT_EQ(models, static_cast<int>(paths.size())) << "some models failed";
  EXPECT_EQ(byte_identical, models);
}

}  // namespace
}  // namespace hp
