#include "hp/trace/plain_trace.h"

#include "hp/util/plain_json.h"

namespace hp {
namespace {

// Which of an object's known fields were read: each once, all of them.
class FieldSet {
 public:
  explicit FieldSet(int count) : all_((1u << count) - 1) {}
  // False for a field read before: a duplicate key is not plain.
  bool First(int field) {
    const uint32_t bit = 1u << field;
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
  }
  // Fields numbered `count` and up are optional.
  bool Complete() const { return (seen_ & all_) == all_; }

 private:
  uint32_t all_;
  uint32_t seen_ = 0;
};

// Reads a string into `strings`: each class once, as classes repeat.
bool StoredString(PlainJsonReader* json, absl::string_view* value,
                  StringArena* strings, bool repeats) {
  absl::string_view text;
  if (!json->String(&text)) return false;
  *value = repeats ? strings->StoreOnce(text) : strings->Store(text);
  return true;
}

bool ReadPlainModule(PlainJsonReader* json, StringArena* strings,
                     TracedModule* module) {
  enum { kPath, kClass, kQualified, kTorchNn, kExecuted, kCalls, kOrder, kTag };
  FieldSet fields(8);
  const bool read = json->Object([&](absl::string_view key) {
    if (key == "path") {
      return fields.First(kPath) &&
             StoredString(json, &module->path, strings, false);
    }
    if (key == "class") {
      return fields.First(kClass) &&
             StoredString(json, &module->class_name, strings, true);
    }
    if (key == "qualified_class") {
      return fields.First(kQualified) &&
             StoredString(json, &module->qualified_class, strings, true);
    }
    if (key == "is_torch_nn") {
      return fields.First(kTorchNn) && json->Bool(&module->is_torch_nn);
    }
    if (key == "executed") {
      return fields.First(kExecuted) && json->Bool(&module->executed);
    }
    if (key == "call_count") {
      return fields.First(kCalls) && json->Integer(&module->call_count);
    }
    if (key == "first_call_order") {
      if (!fields.First(kOrder)) return false;
      if (json->Null()) return true;
      int64_t order;
      if (!json->Integer(&order)) return false;
      module->first_call_order = order;
      return true;
    }
    if (key == "tag") {
      if (!fields.First(kTag)) return false;
      if (json->Null()) return true;
      return StoredString(json, &module->recorded_tag.emplace(), strings,
                          false);
    }
    return json->Skip();
  });
  return read && fields.Complete();
}

bool ReadPlainCall(PlainJsonReader* json, PlainCall* call) {
  FieldSet fields(2);
  const bool read = json->Object([&](absl::string_view key) {
    if (key == "path") return fields.First(0) && json->String(&call->path);
    if (key == "parent") {
      if (!fields.First(1)) return false;
      if (json->Null()) return true;
      return json->Integer(&call->parent.emplace());
    }
    return json->Skip();
  });
  return read && fields.Complete();
}

}  // namespace

bool ReadPlainFields(absl::string_view text, PlainTrace* trace) {
  PlainJsonReader json(text);
  enum { kFormat, kVersion, kProducer, kModel, kRoot, kModules };
  FieldSet fields(6);
  const bool read = json.Object([&](absl::string_view key) {
    if (key == "format") {
      return fields.First(kFormat) && json.String(&trace->format);
    }
    if (key == "format_version") {
      return fields.First(kVersion) && json.Integer(&trace->format_version);
    }
    if (key == "producer") {
      FieldSet producer(2);
      return fields.First(kProducer) && json.Object([&](absl::string_view key) {
        if (key == "name") {
          return producer.First(0) && json.String(&trace->producer.name);
        }
        if (key == "torch_version") {
          return producer.First(1) &&
                 json.String(&trace->producer.torch_version);
        }
        return json.Skip();
      }) && producer.Complete();
    }
    if (key == "model") {
      FieldSet model(3);
      return fields.First(kModel) && json.Object([&](absl::string_view key) {
        if (key == "onnx_file") {
          return model.First(0) && json.String(&trace->onnx_file);
        }
        if (key == "onnx_sha256") {
          return model.First(1) && json.String(&trace->onnx_sha256);
        }
        if (key == "opset") {
          return model.First(2) && json.Integer(&trace->opset);
        }
        if (key == "onnx_structure_sha256") {
          return model.First(3) &&
                 json.String(&trace->onnx_structure_sha256.emplace());
        }
        return json.Skip();
      }) && model.Complete();
    }
    if (key == "root") {
      FieldSet root(2);
      return fields.First(kRoot) && json.Object([&](absl::string_view key) {
        if (key == "class") {
          return root.First(0) && json.String(&trace->root_class);
        }
        if (key == "qualified_class") {
          return root.First(1) && json.String(&trace->root_qualified_class);
        }
        return json.Skip();
      }) && root.Complete();
    }
    if (key == "modules") {
      // Room for as many modules as the text could hold at 128 bytes each
      // (a recorder writes 180-230): growing by doubling would copy and
      // fault in twice the memory, and the room never used is never
      // touched.
      constexpr size_t kMinModuleBytes = 128;
      trace->modules.reserve(text.size() / kMinModuleBytes);
      return fields.First(kModules) && json.Array([&] {
        return ReadPlainModule(&json, &trace->strings,
                               &trace->modules.emplace_back());
      });
    }
    if (key == "calls") {
      if (trace->calls.has_value()) return false;
      std::vector<PlainCall>& calls = trace->calls.emplace();
      return json.Array(
          [&] { return ReadPlainCall(&json, &calls.emplace_back()); });
    }
    return json.Skip();
  });
  return read && fields.Complete() && json.AtEnd();
}

}  // namespace hp
