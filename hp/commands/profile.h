// `converter profile`: where the time of an onnxruntime session goes, per
// module of a tagged model (the optimized graph's nodes placed by transfer).
#ifndef HP_COMMANDS_PROFILE_H_
#define HP_COMMANDS_PROFILE_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace hp {

struct ProfileArgs {
  std::string model;                  // the tagged model
  std::vector<std::string> profiles;  // onnxruntime profile JSON files
  // The graph the session ran, saved with optimizedModelFilePath; "" when
  // it ran `model` itself (optimization disabled).
  std::string optimized;
  bool json = false;
  std::string svg;        // write the flame graph here ("" for none)
  std::string folded;     // write the folded stacks here ("" for none)
  int64_t top = 0;        // > 0: the N modules of most self time, flat
  int64_t runs_skip = 0;  // warm-up runs left out of each profile
  std::vector<std::string> baseline;  // profiles to compare with
  // The graph the baseline's session ran, as `optimized` ("": `model`).
  std::string baseline_optimized;
};

absl::Status RunProfile(const ProfileArgs& args, std::ostream& out,
                        std::ostream& err);

}  // namespace hp

#endif  // HP_COMMANDS_PROFILE_H_
