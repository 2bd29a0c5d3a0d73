// Whether a model carries hp's tags, and taking them off again. Part of
// the public API (hp/hp.h); how the tags are stored is tag_writer's.
#ifndef HP_TAG_TAGGED_MODEL_H_
#define HP_TAG_TAGGED_MODEL_H_

#include "absl/status/status.h"
#include "proto/onnx.pb.h"

namespace hp {

// True when the model carries hp's tags.
bool IsTagged(const onnx::ModelProto& model);

// Removes everything hp wrote, restoring what it replaced, so that
// StripTags(Tag(m)) == m. A model hp never tagged is left unchanged.
absl::Status StripTags(onnx::ModelProto* model);

}  // namespace hp

#endif  // HP_TAG_TAGGED_MODEL_H_
