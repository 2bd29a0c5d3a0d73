#include "hp/batch/batch_inputs.h"

#include <sys/stat.h>

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

// `path` made absolute against the working folder and normalized, without
// asking the file system (symbolic links are kept as written).
fs::path AbsolutePath(const fs::path& path) {
  std::error_code error;
  fs::path absolute = fs::absolute(path.empty() ? fs::path(".") : path, error);
  if (error) absolute = path;
  absolute = absolute.lexically_normal();
  // "/a/b/" (from "/a/b/.") and "/a/b" are one folder.
  if (!absolute.has_filename() && absolute.has_relative_path()) {
    absolute = absolute.parent_path();
  }
  return absolute;
}

// Whether `path` lies below `folder` (is not the folder itself); both
// absolute and normalized.
bool LiesBelow(const fs::path& path, const fs::path& folder) {
  const fs::path relative = path.lexically_relative(folder);
  return !relative.empty() && relative != "." && *relative.begin() != "..";
}

// The folder outputs are named relative to: `own_folder` (the list's or
// manifest's) when every model lies below it, else the deepest folder that
// holds them all. Decided on absolute paths, lexically.
fs::path OutputBase(const fs::path& own_folder,
                    const std::vector<fs::path>& models) {
  const bool below_own = std::all_of(
      models.begin(), models.end(),
      [&](const fs::path& model) { return LiesBelow(model, own_folder); });
  if (below_own || models.empty()) return own_folder;
  fs::path common = models.front().parent_path();
  for (const fs::path& model : models) {
    while (!LiesBelow(model, common) && common != common.parent_path()) {
      common = common.parent_path();
    }
  }
  return common;
}

// Each model's name under the output folder: its path relative to the
// OutputBase of `own_folder` and all the models.
std::vector<std::string> OutputNames(const std::string& own_folder,
                                     const std::vector<std::string>& models) {
  std::vector<fs::path> absolute;
  for (const std::string& model : models) {
    absolute.push_back(AbsolutePath(model));
  }
  const fs::path base = OutputBase(AbsolutePath(own_folder), absolute);
  std::vector<std::string> names;
  for (const fs::path& model : absolute) {
    names.push_back(model.lexically_relative(base).string());
  }
  return names;
}

// What identifies a model file: its device and inode when it exists (hard
// and symbolic links to one file agree), else its absolute path.
std::string FileIdentity(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) == 0) {
    return absl::StrCat("inode ", info.st_dev, ":", info.st_ino);
  }
  return AbsolutePath(path).string();
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

// No two items may write the same file. `entries[i]` says where item i came
// from ("line 3 (a.onnx)"), for the message.
absl::StatusOr<std::vector<BatchItem>> CheckOutputs(
    std::vector<BatchItem> items, const std::vector<std::string>& entries,
    absl::string_view source) {
  if (items.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no models to tag"));
  }
  absl::flat_hash_map<std::string, size_t> writers;
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, inserted] = writers.emplace(items[i].output, i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", entries[it->second], " and ", entries[i],
                       " would both be written to ", items[i].output));
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
  std::vector<std::string> entries;
  for (const std::string& name : relative) {
    items.push_back(MakeItem((fs::path(folder) / name).string(), name, layout));
    entries.push_back(items.back().model);
  }
  if (items.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder, ": no *.onnx files",
                     recursive ? " (searched recursively)" : "", " to tag"));
  }
  return CheckOutputs(std::move(items), entries, folder);
}

absl::StatusOr<std::vector<BatchItem>> ItemsFromList(
    const std::string& list_path, const BatchLayout& layout) {
  HP_RETURN_IF_ERROR(CheckLayout(layout));
  HP_ASSIGN_OR_RETURN(std::string text, ReadFile(list_path));
  const std::string base = fs::path(list_path).parent_path().string();
  std::vector<std::string> models;
  std::vector<std::string> entries;
  // A model listed twice (also through a link) is a mistake in the list,
  // whatever its outputs would be.
  absl::flat_hash_map<std::string, size_t> listed;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    entries.push_back(absl::StrCat("line ", line_number, " (", line, ")"));
    models.push_back(Resolve(base, std::string(line)));
    auto [it, inserted] =
        listed.emplace(FileIdentity(models.back()), models.size() - 1);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          list_path, ": ", entries[it->second], " and ", entries.back(),
          " are the same file, ", models.back(), "; list each model once"));
    }
  }
  const std::vector<std::string> names = OutputNames(base, models);
  std::vector<BatchItem> items;
  for (size_t i = 0; i < models.size(); ++i) {
    items.push_back(MakeItem(models[i], names[i], layout));
  }
  return CheckOutputs(std::move(items), entries, list_path);
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
  std::vector<std::string> entries;
  // The items without an "output", named under the output folder as a
  // list's models are once all are read.
  std::vector<size_t> unnamed;
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
    entries.push_back(absl::StrCat(where, " (", model, ")"));
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
      unnamed.push_back(items.size());
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
  std::vector<std::string> unnamed_models;
  for (size_t i : unnamed) unnamed_models.push_back(items[i].model);
  const std::vector<std::string> names =
      OutputNames(base.string(), unnamed_models);
  for (size_t k = 0; k < unnamed.size(); ++k) {
    items[unnamed[k]].output =
        (fs::path(layout.output_dir) / names[k]).lexically_normal().string();
  }
  return CheckOutputs(std::move(items), entries, manifest_path);
}

}  // namespace hp
