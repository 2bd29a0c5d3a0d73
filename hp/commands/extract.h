// `converter extract`: one module instance of a tagged model (its subtree)
// as a standalone model, or every module instance at one depth.
#ifndef HP_COMMANDS_EXTRACT_H_
#define HP_COMMANDS_EXTRACT_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hp/io/atomic_writer.h"
#include "hp/io/external_data.h"

namespace hp {

struct ExtractArgs {
  std::string model;
  std::string module;       // --module: a tag
  std::string module_path;  // --module_path: a dotted module path
  std::string output;
  // --all --depth N --output_dir D [--remainder]
  bool all = false;
  int depth = 1;
  std::string output_dir;
  bool remainder = false;
  Durability durability = Durability::kFsync;
  absl::StatusOr<ExternalDataPolicy> external_data = ExternalDataPolicy();
  bool json = false;
};

absl::Status RunExtract(const ExtractArgs& args, std::ostream& out,
                        std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_EXTRACT_H_
