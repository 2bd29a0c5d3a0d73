// ONNX external data: tensors whose bytes live in side files
// (TensorProto.data_location = EXTERNAL, a `location` relative to the
// model's folder), as every model over 2 GB keeps its weights. The one place
// that knows which side files a model needs, where they may be, and how
// they get beside an output written to another folder, so that the output
// loads wherever it goes:
//
//   HP_ASSIGN_OR_RETURN(PlacedExternalData placed,
//                       PlaceExternalData(ExternalDataFiles(model), input,
//                                         output, policy, durability));
//   HP_RETURN_IF_ERROR(SaveModel(model, output));  // on error, `placed`
//   placed.Keep();                                 // removes what it made
#ifndef HP_IO_EXTERNAL_DATA_H_
#define HP_IO_EXTERNAL_DATA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/stop_signals.h"
#include "proto/onnx.pb.h"

namespace hp {

// Every tensor stored as external data must name a file inside the model's
// folder: a relative `location` without `..` components. `model_path` is
// used for messages and to resolve symbolic links that would lead outside:
// a file whose links lead into the folder of the model's own file (the
// model's links resolved too) is inside, as in Bazel's sandbox and
// runfiles, where every file is a link to where it was made.
absl::Status CheckExternalDataLocations(const onnx::ModelProto& model,
                                        const std::string& model_path);

// Whether a tensor of the attribute (its subgraphs included) is stored as
// external data.
bool HoldsExternalData(const onnx::AttributeProto& attribute);

// The side files the model's tensors are stored in, as their `location`
// entries name them, each once, in the order first met: initializers and
// sparse initializers of the main graph and of every subgraph, tensors in
// node attributes, training info and functions.
std::vector<std::string> ExternalDataFiles(const onnx::ModelProto& model);
// The same, appended to `files` where not in it yet.
void AddExternalDataFiles(const onnx::ModelProto& model,
                          std::vector<std::string>* files);

// How a side file missing beside an output in another folder gets there.
enum class ExternalDataMode {
  // A hard link to the input's file (no bytes copied); a copy where the
  // file system cannot link (another file system, no hard links).
  kLink,
  // A copy: a reflink (FICLONE, blocks shared until written) where the file
  // system can, else an in-kernel copy (copy_file_range).
  kCopy,
  // None: the output is refused.
  kError,
  // For build rules, which declare each output: the model must keep its
  // tensors in exactly the `declared` files, which are then copied as
  // kCopy does (a file of its own, never a link to an input of the
  // build).
  kDeclared,
};

struct ExternalDataPolicy {
  ExternalDataMode mode = ExternalDataMode::kLink;
  // Ends the refusal of kError: how to allow placing the files (the
  // converter names its flag).
  std::string allow_hint = "use the link or copy mode to place them there";
  // kDeclared: the side files the caller declares, as locations relative
  // to the output's folder.
  std::vector<std::string> declared;
  // Ends kDeclared's refusal: where the caller declares its files.
  std::string declare_hint = "declare it";
};

// What PlaceExternalData did, file by file.
struct ExternalDataCounts {
  int linked = 0;         // hard links made
  int copied = 0;         // copies (reflinks included) made
  int already_there = 0;  // the same file, or the same bytes, was there
  int total() const { return linked + copied + already_there; }
};

// Side files put beside an output. Dropped without Keep(), it removes the
// files and folders it created, so that an output that is not committed
// leaves nothing new behind; until Keep(), a signal that stops the process
// removes them too (RemovedIfStopped).
class PlacedExternalData {
 public:
  PlacedExternalData() = default;
  PlacedExternalData(PlacedExternalData&& other) noexcept;
  PlacedExternalData& operator=(PlacedExternalData&& other) noexcept;
  PlacedExternalData(const PlacedExternalData&) = delete;
  PlacedExternalData& operator=(const PlacedExternalData&) = delete;
  ~PlacedExternalData();

  // The output was committed: keep what was placed.
  void Keep();
  const ExternalDataCounts& counts() const { return counts_; }

 private:
  friend absl::StatusOr<PlacedExternalData> PlaceExternalData(
      const std::vector<std::string>&, const std::string&, const std::string&,
      const ExternalDataPolicy&, Durability);
  void RemoveCreated();
  void Created(const std::string& path, RemovedIfStopped::Kind kind);

  ExternalDataCounts counts_;
  std::vector<std::string> created_files_;
  std::vector<std::string> created_folders_;  // in the order made
  std::vector<RemovedIfStopped> removed_if_stopped_;
};

// Makes each of `files` (locations relative to the folder of `model_path`,
// as ExternalDataFiles lists them) present at the same relative place
// beside `output_path`, whose folder must exist. Nothing is done when the
// output's folder is the model's. A file already there counts when it is
// the same file (same inode) or has the same bytes; a different one is
// refused (AlreadyExists, naming both paths) and never replaced. A link or
// copy appears whole (a copy is written beside it and renamed into place)
// and the weights are never read into memory: only a file already there
// with the size of the input's is compared, a chunk at a time. With
// kFsync, what was placed is on disk when this returns. On error, what this
// call placed is removed again.
//
// kDeclared first refuses (FailedPrecondition) a model that keeps tensors
// in a file not declared, naming the file, or none in a declared one (the
// caller would expect an output that is never written), then copies.
//
// In a batch, two models sharing one side file may both find it placed; if
// the one that placed it then fails to commit, it removes the file the
// other one counted as there (committing is a rename; that failure is
// rare).
absl::StatusOr<PlacedExternalData> PlaceExternalData(
    const std::vector<std::string>& files, const std::string& model_path,
    const std::string& output_path, const ExternalDataPolicy& policy,
    Durability durability);

// One line on what was placed beside `output_path`, e.g. "external data
// beside out/m.onnx: 1 file hard-linked"; "" when nothing was.
std::string ExternalDataSummary(const ExternalDataCounts& counts,
                                const std::string& output_path);

}  // namespace hp

#endif  // HP_IO_EXTERNAL_DATA_H_
