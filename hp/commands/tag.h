// `converter tag`: writes the module hierarchy onto every node of one model
// (hp/pipeline/tag_file.h, plus the sidecar with --metadata), or of every
// model of a folder, list or manifest on parallel workers (hp/batch/).
#ifndef HP_COMMANDS_TAG_H_
#define HP_COMMANDS_TAG_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hp/commands/command_args.h"
#include "hp/io/atomic_writer.h"
#include "hp/tag/tag_types.h"
#include "hp/trace/trace_binding.h"

namespace hp {

// Many models at once: exactly one of models_dir, models_list, manifest.
struct TagBatchArgs {
  std::string models_dir;
  bool recursive = false;
  std::string models_list;
  std::string manifest;
  std::string output_dir;
  int jobs = 0;  // 0: one per core
  std::string summary_json;
  std::string progress = "auto";  // auto, bar, lines, none
  bool err_is_terminal = false;   // what "auto" picks by
};

struct TagArgs {
  std::string model;
  OutputArgs output;
  std::string trace;  // as TracePathFor reads it
  absl::StatusOr<TagOptions> tag_options = TagOptions();
  absl::StatusOr<DigestPolicy> digest_policy = DigestPolicy();
  std::string metadata;  // the sidecar's path; "": none
  Durability durability = Durability::kFsync;
  TagBatchArgs batch;
  // The process ends right after the command: the tagged model is left to
  // the OS instead of freed (about 0.45 s for a 1M-node graph).
  bool exit_after = false;
};

absl::Status RunTag(const TagArgs& args, std::ostream& out, std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_TAG_H_
