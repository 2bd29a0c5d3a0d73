#include "hp/io/external_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

using TensorVisitor = std::function<void(const onnx::TensorProto&)>;

// Calls `visit` on every tensor of a graph, its nodes' attributes and their
// subgraphs.
void ForEachTensorInGraph(const onnx::GraphProto& graph,
                          const TensorVisitor& visit);

void ForEachTensorInAttribute(const onnx::AttributeProto& attribute,
                              const TensorVisitor& visit) {
  if (attribute.has_t()) visit(attribute.t());
  for (const onnx::TensorProto& tensor : attribute.tensors()) visit(tensor);
  if (attribute.has_sparse_tensor()) {
    visit(attribute.sparse_tensor().values());
    visit(attribute.sparse_tensor().indices());
  }
  for (const onnx::SparseTensorProto& sparse : attribute.sparse_tensors()) {
    visit(sparse.values());
    visit(sparse.indices());
  }
  if (attribute.has_g()) ForEachTensorInGraph(attribute.g(), visit);
  for (const onnx::GraphProto& graph : attribute.graphs()) {
    ForEachTensorInGraph(graph, visit);
  }
}

void ForEachTensorInNode(const onnx::NodeProto& node,
                         const TensorVisitor& visit) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    ForEachTensorInAttribute(attribute, visit);
  }
}

void ForEachTensorInGraph(const onnx::GraphProto& graph,
                          const TensorVisitor& visit) {
  for (const onnx::TensorProto& tensor : graph.initializer()) visit(tensor);
  for (const onnx::SparseTensorProto& sparse : graph.sparse_initializer()) {
    visit(sparse.values());
    visit(sparse.indices());
  }
  for (const onnx::NodeProto& node : graph.node())
    ForEachTensorInNode(node, visit);
}

void ForEachTensorInModel(const onnx::ModelProto& model,
                          const TensorVisitor& visit) {
  ForEachTensorInGraph(model.graph(), visit);
  for (const onnx::TrainingInfoProto& info : model.training_info()) {
    ForEachTensorInGraph(info.initialization(), visit);
    ForEachTensorInGraph(info.algorithm(), visit);
  }
  for (const onnx::FunctionProto& function : model.functions()) {
    for (const onnx::NodeProto& node : function.node()) {
      ForEachTensorInNode(node, visit);
    }
  }
}

// The tensor's `location` entry (the last one, as onnx reads it); false when
// it has none.
bool ExternalLocation(const onnx::TensorProto& tensor, std::string* location) {
  bool found = false;
  for (const onnx::StringStringEntryProto& entry : tensor.external_data()) {
    if (entry.key() == "location") {
      *location = entry.value();
      found = true;
    }
  }
  return found;
}

absl::Status CheckOneLocation(const onnx::TensorProto& tensor,
                              const std::string& model_path) {
  std::string location;
  const bool found = ExternalLocation(tensor, &location);
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": tensor '", tensor.name(),
                     "': external data location '", location, "' ", why));
  };
  if (!found || location.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": tensor '", tensor.name(),
                     "': external data has no 'location' entry"));
  }
  std::filesystem::path relative(location);
  if (relative.is_absolute()) return error("is an absolute path");
  for (const std::filesystem::path& part : relative) {
    if (part == "..") return error("contains '..'");
  }
  // A symbolic link inside the folder may still lead out of it: it must
  // lead into the folder, or into that of the model's own file.
  std::filesystem::path folder =
      std::filesystem::path(model_path).parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ignored;
  const std::filesystem::path real_target =
      std::filesystem::weakly_canonical(folder / relative, ignored);
  auto inside = [&real_target](const std::filesystem::path& real_folder) {
    return std::mismatch(real_folder.begin(), real_folder.end(),
                         real_target.begin(), real_target.end())
               .first == real_folder.end();
  };
  if (!inside(std::filesystem::weakly_canonical(folder, ignored)) &&
      !inside(std::filesystem::weakly_canonical(model_path, ignored)
                  .parent_path())) {
    return error("leads outside the model's folder");
  }
  return absl::OkStatus();
}

// The folder a file is in, as a path to join names to ("" for the current
// folder, so that relative names stay as they were given).
std::filesystem::path FolderOf(const std::string& path) {
  return std::filesystem::path(path).parent_path();
}

bool SameFolder(const std::filesystem::path& a,
                const std::filesystem::path& b) {
  struct stat info_a;
  struct stat info_b;
  const std::string path_a = a.empty() ? "." : a.string();
  const std::string path_b = b.empty() ? "." : b.string();
  return ::stat(path_a.c_str(), &info_a) == 0 &&
         ::stat(path_b.c_str(), &info_b) == 0 &&
         info_a.st_dev == info_b.st_dev && info_a.st_ino == info_b.st_ino;
}

// Whether two open files of `size` bytes hold the same bytes, compared a
// chunk at a time.
absl::StatusOr<bool> SameBytes(int fd_a, const std::string& path_a, int fd_b,
                               const std::string& path_b, uint64_t size) {
  constexpr size_t kChunk = size_t{1} << 20;
  std::string a(static_cast<size_t>(std::min<uint64_t>(size, kChunk)), '\0');
  std::string b(a.size(), '\0');
  auto read = [](int fd, const std::string& path, std::string* buffer,
                 uint64_t offset, size_t length) -> absl::Status {
    const int64_t got = ReadAt(fd, buffer->data(), length, offset);
    if (got < 0) return ErrnoError("cannot read", path);
    if (static_cast<uint64_t>(got) < length) {
      return absl::DataLossError(
          absl::StrCat(path, ": the file shrank while it was compared"));
    }
    return absl::OkStatus();
  };
  for (uint64_t offset = 0; offset < size; offset += a.size()) {
    const size_t length =
        static_cast<size_t>(std::min<uint64_t>(size - offset, a.size()));
    HP_RETURN_IF_ERROR(read(fd_a, path_a, &a, offset, length));
    HP_RETURN_IF_ERROR(read(fd_b, path_b, &b, offset, length));
    if (std::memcmp(a.data(), b.data(), length) != 0) return false;
  }
  return true;
}

// One side file: where it is, where the output needs it.
struct SideFile {
  std::string location;  // relative to either folder
  std::string source;
  std::string target;
  OpenedFile input;
};

// Whether `file.target` is already the side file: the same inode, or a
// regular file with the same bytes. False when there is nothing at the
// target; an error for anything else there.
absl::StatusOr<bool> AlreadyThere(const SideFile& file,
                                  const std::string& output_path) {
  struct stat link_info;
  if (::lstat(file.target.c_str(), &link_info) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoError("cannot stat", file.target);
  }
  auto differs = [&](absl::string_view what) {
    return absl::AlreadyExistsError(absl::StrCat(
        file.target, " already exists and ", what, " ", file.source,
        ", the external data ", output_path,
        " needs beside it; refusing to replace it: remove it or write the "
        "output to another folder"));
  };
  struct stat target_info;
  if (::stat(file.target.c_str(), &target_info) != 0) {
    return ErrnoError("cannot stat", file.target);
  }
  if (!S_ISREG(target_info.st_mode)) return differs("is not a file like");
  struct stat source_info;
  if (::fstat(file.input.fd.get(), &source_info) != 0) {
    return ErrnoError("cannot stat", file.source);
  }
  if (target_info.st_dev == source_info.st_dev &&
      target_info.st_ino == source_info.st_ino) {
    return true;
  }
  if (static_cast<uint64_t>(target_info.st_size) != file.input.size) {
    return differs("differs in size from");
  }
  HP_ASSIGN_OR_RETURN(OpenedFile existing, OpenRegularFile(file.target));
  HP_ASSIGN_OR_RETURN(const bool same, SameBytes(file.input.fd.get(),
                                                 file.source, existing.fd.get(),
                                                 file.target, file.input.size));
  if (!same) return differs("differs in content from");
  return true;
}

// Link errors after which a copy can still place the file: another file
// system, one without hard links, too many links, or a file the kernel does
// not let this user link (fs.protected_hardlinks).
bool LinkCannotWorkHere(int error) {
  return error == EXDEV || error == EPERM || error == EMLINK ||
         error == EOPNOTSUPP || error == ENOSYS || error == EACCES;
}

std::string Normalized(const std::string& location) {
  return std::filesystem::path(location).lexically_normal().string();
}

// kDeclared: `files` (normalized, as ExternalDataFiles lists them) must be
// the declared ones.
absl::Status CheckDeclared(const std::vector<std::string>& files,
                           const std::string& model_path,
                           const ExternalDataPolicy& policy) {
  std::vector<std::string> declared;
  for (const std::string& location : policy.declared) {
    declared.push_back(Normalized(location));
  }
  for (const std::string& file : files) {
    if (std::find(declared.begin(), declared.end(), file) == declared.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          model_path, ": keeps tensors in the side file '", file,
          "' (external data), which is not declared: the output would be "
          "written without it; ",
          policy.declare_hint));
    }
  }
  for (const std::string& location : declared) {
    if (std::find(files.begin(), files.end(), location) == files.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          model_path, ": the side file '", location,
          "' is declared but no tensor of the model is stored in it",
          files.empty() ? "" : " (it uses ", absl::StrJoin(files, ", "),
          files.empty() ? "" : ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool HoldsExternalData(const onnx::AttributeProto& attribute) {
  bool found = false;
  ForEachTensorInAttribute(
      attribute, [&found](const onnx::TensorProto& tensor) {
        found = found || tensor.data_location() == onnx::TensorProto::EXTERNAL;
      });
  return found;
}

absl::Status CheckExternalDataLocations(const onnx::ModelProto& model,
                                        const std::string& model_path) {
  absl::Status first_problem;
  ForEachTensorInModel(model, [&](const onnx::TensorProto& tensor) {
    if (!first_problem.ok() ||
        tensor.data_location() != onnx::TensorProto::EXTERNAL) {
      return;
    }
    first_problem = CheckOneLocation(tensor, model_path);
  });
  return first_problem;
}

void AddExternalDataFiles(const onnx::ModelProto& model,
                          std::vector<std::string>* files) {
  ForEachTensorInModel(model, [files](const onnx::TensorProto& tensor) {
    std::string location;
    if (tensor.data_location() != onnx::TensorProto::EXTERNAL ||
        !ExternalLocation(tensor, &location) || location.empty()) {
      return;
    }
    // Normalized, so that "./w.bin" and "w.bin" are one file.
    location = Normalized(location);
    if (std::find(files->begin(), files->end(), location) == files->end()) {
      files->push_back(std::move(location));
    }
  });
}

std::vector<std::string> ExternalDataFiles(const onnx::ModelProto& model) {
  std::vector<std::string> files;
  AddExternalDataFiles(model, &files);
  return files;
}

PlacedExternalData::PlacedExternalData(PlacedExternalData&& other) noexcept
    : counts_(other.counts_),
      created_files_(std::move(other.created_files_)),
      created_folders_(std::move(other.created_folders_)),
      removed_if_stopped_(std::move(other.removed_if_stopped_)) {
  other.created_files_.clear();
  other.created_folders_.clear();
  other.removed_if_stopped_.clear();
}

PlacedExternalData& PlacedExternalData::operator=(
    PlacedExternalData&& other) noexcept {
  if (this != &other) {
    RemoveCreated();
    counts_ = other.counts_;
    created_files_ = std::move(other.created_files_);
    created_folders_ = std::move(other.created_folders_);
    removed_if_stopped_ = std::move(other.removed_if_stopped_);
    other.created_files_.clear();
    other.created_folders_.clear();
    other.removed_if_stopped_.clear();
  }
  return *this;
}

PlacedExternalData::~PlacedExternalData() { RemoveCreated(); }

void PlacedExternalData::Keep() {
  created_files_.clear();
  created_folders_.clear();
  removed_if_stopped_.clear();
}

void PlacedExternalData::Created(const std::string& path,
                                 RemovedIfStopped::Kind kind) {
  (kind == RemovedIfStopped::Kind::kFolder ? created_folders_ : created_files_)
      .push_back(path);
  removed_if_stopped_.emplace_back(path, kind);
}

void PlacedExternalData::RemoveCreated() {
  for (const std::string& file : created_files_) ::unlink(file.c_str());
  for (auto folder = created_folders_.rbegin();
       folder != created_folders_.rend(); ++folder) {
    ::rmdir(folder->c_str());
  }
  created_files_.clear();
  created_folders_.clear();
  removed_if_stopped_.clear();
}

absl::StatusOr<PlacedExternalData> PlaceExternalData(
    const std::vector<std::string>& files, const std::string& model_path,
    const std::string& output_path, const ExternalDataPolicy& policy,
    Durability durability) {
  PlacedExternalData placed;
  if (policy.mode == ExternalDataMode::kDeclared) {
    HP_RETURN_IF_ERROR(CheckDeclared(files, model_path, policy));
  }
  const std::filesystem::path model_folder = FolderOf(model_path);
  const std::filesystem::path output_folder = FolderOf(output_path);
  if (files.empty() || SameFolder(model_folder, output_folder)) return placed;

  // Every side file is opened, and what the output's folder holds checked,
  // before anything is placed.
  std::vector<SideFile> missing;
  for (const std::string& file : files) {
    SideFile side;
    side.location = file;
    side.source = (model_folder / file).string();
    side.target = (output_folder / file).string();
    absl::StatusOr<OpenedFile> input = OpenRegularFile(side.source);
    if (!input.ok()) {
      return absl::Status(
          input.status().code(),
          absl::StrCat(input.status().message(), " (external data of ",
                       model_path, ", needed beside ", output_path, ")"));
    }
    side.input = std::move(*input);
    HP_ASSIGN_OR_RETURN(const bool there, AlreadyThere(side, output_path));
    if (there) {
      ++placed.counts_.already_there;
    } else {
      missing.push_back(std::move(side));
    }
  }
  if (missing.empty()) return placed;
  if (policy.mode == ExternalDataMode::kError) {
    std::vector<std::string> names;
    for (const SideFile& side : missing) names.push_back(side.source);
    return absl::FailedPreconditionError(absl::StrCat(
        output_path, ": ", model_path, " keeps tensors in side files (",
        absl::StrJoin(names, ", "),
        ") that this output, in another folder, would lack; write it into "
        "the model's folder, or ",
        policy.allow_hint));
  }

  const bool sync = durability == Durability::kFsync;
  for (SideFile& side : missing) {
    // Folders the location names, made as needed.
    std::filesystem::path folder = output_folder;
    for (const std::filesystem::path& part :
         std::filesystem::path(side.location).parent_path()) {
      folder /= part;
      if (::mkdir(folder.c_str(), 0755) == 0) {
        placed.Created(folder.string(), RemovedIfStopped::Kind::kFolder);
      } else if (errno != EEXIST) {
        return ErrnoError("cannot create folder", folder.string());
      }
    }

    if (policy.mode == ExternalDataMode::kLink) {
      // The file the location names, also through a symbolic link.
      if (::linkat(AT_FDCWD, side.source.c_str(), AT_FDCWD, side.target.c_str(),
                   AT_SYMLINK_FOLLOW) == 0) {
        placed.Created(side.target, RemovedIfStopped::Kind::kFile);
        ++placed.counts_.linked;
        if (sync) SyncFolderOf(side.target);
        continue;
      }
      if (errno == EEXIST) {
        // Placed meanwhile (another model of a batch sharing the file).
        HP_ASSIGN_OR_RETURN(const bool there, AlreadyThere(side, output_path));
        if (there) {
          ++placed.counts_.already_there;
          continue;
        }
        return absl::AlreadyExistsError(
            absl::StrCat(side.target, ": appeared while being placed"));
      }
      if (!LinkCannotWorkHere(errno)) {
        return ErrnoError(absl::StrCat("cannot link ", side.source, " to"),
                          side.target);
      }
    }

    HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                        AtomicFileWriter::Create(side.target));
    if (sync) writer.WriteBackEarly();
    HP_RETURN_IF_ERROR(writer.AppendWholeFile(side.input.fd.get(),
                                              side.input.size, side.source));
    absl::Status committed = writer.CommitWithoutReplacing(durability);
    if (committed.code() == absl::StatusCode::kAlreadyExists) {
      HP_ASSIGN_OR_RETURN(const bool there, AlreadyThere(side, output_path));
      if (there) {
        ++placed.counts_.already_there;
        continue;
      }
    }
    HP_RETURN_IF_ERROR(committed);
    placed.Created(side.target, RemovedIfStopped::Kind::kFile);
    ++placed.counts_.copied;
  }
  return placed;
}

std::string ExternalDataSummary(const ExternalDataCounts& counts,
                                const std::string& output_path) {
  const int total = counts.total();
  if (total == 0) return "";
  std::vector<std::pair<int, const char*>> parts;
  for (const auto& part :
       {std::make_pair(counts.linked, "hard-linked"),
        std::make_pair(counts.copied, "copied"),
        std::make_pair(counts.already_there, "already there")}) {
    if (part.first > 0) parts.push_back(part);
  }
  std::string line =
      absl::StrCat("external data for ", output_path, ": ", total,
                   total == 1 ? " side file" : " side files");
  if (parts.size() == 1) return absl::StrCat(line, " ", parts[0].second);
  return absl::StrCat(
      line, ": ",
      absl::StrJoin(parts, ", ", [](std::string* out, const auto& part) {
        absl::StrAppend(out, part.first, " ", part.second);
      }));
}

}  // namespace hp
