#include "hp/batch/batch_inputs.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "hp/io/atomic_file.h"
#include "hp/util/json_parse.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// `relative` resolved against `base` ("" or "." for the working folder).
std::string Resolve(const fs::path& base, const std::string& relative) {
  fs::path path(relative);
  if (path.is_absolute() || base.empty())
    return path.lexically_normal().string();
  return (base / path).lexically_normal().string();
}

// The name an output keeps under the output folder: the path as written
// when it stays below its base, else the file name.
std::string OutputName(const std::string& written) {
  fs::path path = fs::path(written).lexically_normal();
  if (path.is_absolute() || path.empty() || *path.begin() == "..") {
    return path.filename().string();
  }
  return path.string();
}

absl::Status CheckLayout(const BatchLayout& layout) {
  if (layout.in_place != layout.output_dir.empty()) {
    return absl::InvalidArgumentError(
        "a batch writes either into an output folder or in place: give "
        "exactly one of the two");
  }
  return absl::OkStatus();
}

BatchItem MakeItem(std::string model, const std::string& output_name,
                   const BatchLayout& layout) {
  BatchItem item;
  item.output = layout.in_place ? model
                                : (fs::path(layout.output_dir) / output_name)
                                      .lexically_normal()
                                      .string();
  if (!layout.no_traces) item.trace = DefaultTracePath(model);
  item.model = std::move(model);
  return item;
}

// No two items may write the same file.
absl::StatusOr<std::vector<BatchItem>> CheckOutputs(
    std::vector<BatchItem> items, absl::string_view source) {
  if (items.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no models to tag"));
  }
  absl::flat_hash_map<std::string, const BatchItem*> writers;
  for (const BatchItem& item : items) {
    auto [it, inserted] = writers.emplace(item.output, &item);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", it->second->model, " and ", item.model,
                       " would both be written to ", item.output));
    }
  }
  return items;
}

absl::Status ReadError(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::StatusOr<std::string> StringField(const Json& entry, const char* key,
                                        const std::string& where,
                                        const std::string& path) {
  const auto found = entry.find(key);
  const Json value = found == entry.end() ? Json() : *found;
  if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
    return ReadError(
        path,
        absl::StrCat(where, ".", key,
                     ": expected a non-empty path string, got ", value.dump()));
  }
  return value.get<std::string>();
}

}  // namespace

absl::StatusOr<std::vector<BatchItem>> ItemsFromFolder(
    const std::string& folder, bool recursive, const BatchLayout& layout) {
  HP_RETURN_IF_ERROR(CheckLayout(layout));
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    if (!fs::exists(folder, error)) {
      return absl::NotFoundError(absl::StrCat(folder, ": no such folder"));
    }
    return absl::InvalidArgumentError(absl::StrCat(folder, ": not a folder"));
  }
  // Outputs written below the models must not be read as models next time.
  const fs::path skipped = layout.output_dir.empty()
                               ? fs::path()
                               : fs::weakly_canonical(layout.output_dir, error);
  std::vector<std::string> relative;
  auto consider = [&](const fs::directory_entry& entry) {
    std::error_code ignored;
    if (entry.path().extension() != ".onnx" ||
        !entry.is_regular_file(ignored)) {
      return;
    }
    relative.push_back(entry.path().lexically_relative(folder).string());
  };
  if (recursive) {
    fs::recursive_directory_iterator it(folder, error), end;
    for (; !error && it != end; it.increment(error)) {
      std::error_code ignored;
      if (it->is_directory(ignored) && !skipped.empty() &&
          fs::weakly_canonical(it->path(), ignored) == skipped) {
        it.disable_recursion_pending();
        continue;
      }
      consider(*it);
    }
  } else {
    fs::directory_iterator it(folder, error), end;
    for (; !error && it != end; it.increment(error)) consider(*it);
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat(folder, ": cannot list: ", error.message()));
  }
  std::sort(relative.begin(), relative.end());
  std::vector<BatchItem> items;
  for (const std::string& name : relative) {
    items.push_back(MakeItem((fs::path(folder) / name).string(), name, layout));
  }
  if (items.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder, ": no *.onnx files",
                     recursive ? " (searched recursively)" : "", " to tag"));
  }
  return CheckOutputs(std::move(items), folder);
}

absl::StatusOr<std::vector<BatchItem>> ItemsFromList(
    const std::string& list_path, const BatchLayout& layout) {
  HP_RETURN_IF_ERROR(CheckLayout(layout));
  HP_ASSIGN_OR_RETURN(std::string text, ReadFile(list_path));
  const fs::path base = fs::path(list_path).parent_path();
  std::vector<BatchItem> items;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    const std::string written(line);
    items.push_back(
        MakeItem(Resolve(base, written), OutputName(written), layout));
  }
  return CheckOutputs(std::move(items), list_path);
}

absl::StatusOr<std::vector<BatchItem>> ItemsFromManifest(
    const std::string& manifest_path, const BatchLayout& layout) {
  if (layout.in_place && !layout.output_dir.empty()) return CheckLayout(layout);
  HP_ASSIGN_OR_RETURN(std::string text, ReadFile(manifest_path));
  HP_ASSIGN_OR_RETURN(Json manifest, ParseJson(text, manifest_path));
  if (!manifest.is_object() || !manifest.contains("models") ||
      !manifest["models"].is_array()) {
    return ReadError(manifest_path,
                     "expected an object with a \"models\" array");
  }
  const fs::path base = fs::path(manifest_path).parent_path();
  std::vector<BatchItem> items;
  const Json& models = manifest["models"];
  for (size_t i = 0; i < models.size(); ++i) {
    const Json& entry = models[i];
    const std::string where = absl::StrCat("models[", i, "]");
    if (!entry.is_object()) {
      return ReadError(
          manifest_path,
          absl::StrCat(where, ": expected an object, got ", entry.dump()));
    }
    HP_ASSIGN_OR_RETURN(std::string model,
                        StringField(entry, "model", where, manifest_path));
    BatchItem item;
    item.model = Resolve(base, model);
    if (entry.contains("output")) {
      HP_ASSIGN_OR_RETURN(std::string output,
                          StringField(entry, "output", where, manifest_path));
      item.output = layout.output_dir.empty()
                        ? Resolve(base, output)
                        : Resolve(layout.output_dir, output);
    } else if (layout.in_place) {
      item.output = item.model;
    } else if (!layout.output_dir.empty()) {
      item.output = (fs::path(layout.output_dir) / OutputName(model))
                        .lexically_normal()
                        .string();
    } else {
      return ReadError(manifest_path,
                       absl::StrCat(where,
                                    ": no \"output\", and no output "
                                    "folder to put one in"));
    }
    if (!entry.contains("trace")) {
      if (!layout.no_traces) item.trace = DefaultTracePath(item.model);
    } else if (entry.at("trace").is_null() || entry.at("trace") == "none") {
      item.trace.clear();
    } else {
      HP_ASSIGN_OR_RETURN(std::string trace,
                          StringField(entry, "trace", where, manifest_path));
      item.trace = Resolve(base, trace);
    }
    items.push_back(std::move(item));
  }
  return CheckOutputs(std::move(items), manifest_path);
}

}  // namespace hp
