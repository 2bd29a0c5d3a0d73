// Tagging one model file end to end: open it through the splice path (weights
// are copied, never parsed), read its trace and check that the trace belongs
// to it, tag, and write the result atomically. The unit of work of
// `converter tag`, for a single model and for every model of a batch.
#ifndef HP_PIPELINE_TAG_FILE_H_
#define HP_PIPELINE_TAG_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"
#include "hp/tag/appended_tags.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/scope_trace.h"
#include "hp/trace/trace_binding.h"
#include "proto/onnx.pb.h"

namespace hp {

class ModelSplice;  // hp/io/model_splice.h: the wire-level reader

// The trace a model is tagged with when none is named: <model stem>.trace.json
// beside the model (the name hp_record writes), or "" when there is no such
// file.
std::string DefaultTracePath(const std::string& model_path);

struct TagFileRequest {
  std::string model_path;
  std::string trace_path;  // "": tag without a trace
  std::string output_path;
  // Writing onto model_path itself is refused unless this is set.
  bool overwrite_input = false;
  // The model file's SHA-256 when the caller has it already; else it is
  // computed when the trace check needs it (a trace without a structure
  // digest).
  std::string model_sha256;
  // Return the tagged model (TagFileResult::model) and every node's tag
  // (TagFileResult::tags.nodes).
  bool keep_model = false;
};

struct TagFileOptions {
  TagOptions tag;
  // A trace recorded for another model: an error, or a warning.
  DigestPolicy digest_policy;
  // kNoFsync: the output is still renamed into place whole, but not flushed
  // to disk first (see Durability).
  Durability durability = Durability::kFsync;
  // An output in another folder than the model's gets the side files of
  // the model's external data beside it (hard links by default), placed
  // before the output is committed (hp/io/external_data.h).
  ExternalDataPolicy external_data;
};

struct TagFileResult {
  // Statistics and warnings; the module and node lists only with
  // keep_model (without it, tags are appended to node records as read:
  // TagModel's AppendedNodeTags form, which lists neither).
  TagResult tags;
  // Whole lines, in the order found: a model tagged from a trace before and
  // now without one, a trace recorded for another model (DigestCheck::kWarn),
  // then the tagger's warnings prefixed with the model path.
  std::vector<std::string> warnings;
  // With keep_model: the model as written, except that initializers carry
  // no data (names, types and dims only).
  onnx::ModelProto model;
  // With keep_model: the trace it was tagged with, if any. Without, the
  // trace is freed before the save.
  std::optional<ScopeTrace> trace;
  // The opened input and its tagged skeleton, and the tags appended to its
  // node records (with what they were made from: the module table, each
  // module's tag): handed over so that a caller about to exit may skip
  // freeing millions of small allocations (freeing the tags alone takes
  // 4 ms for a million nodes).
  std::unique_ptr<ModelSplice> splice;
  AppendedNodeTags node_tags;

  TagFileResult();
  TagFileResult(TagFileResult&&);
  TagFileResult& operator=(TagFileResult&&);
  ~TagFileResult();
  // The options as applied (model digests filled in from the digest check).
  TagOptions options;
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
  // The side files placed beside the output.
  ExternalDataCounts external_data;
};

// The steps and checks of `converter tag`, in its order; nothing is left at
// output_path on any error. A trace is checked against the digests the
// model records from an earlier hp run, else against the model's structure
// digest (the file's SHA-256 for a trace without one), which is computed on
// a second thread while the model is tagged and written, and checked before
// the output is renamed into place. Then the side files of external data
// are placed beside an output in another folder, and the output committed.
absl::StatusOr<TagFileResult> TagFile(const TagFileRequest& request,
                                      const TagFileOptions& options);

}  // namespace hp

#endif  // HP_PIPELINE_TAG_FILE_H_
