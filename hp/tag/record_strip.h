// Stripping hp's tags from a model whose main-graph nodes a splice reads
// as records (ModelSplice with read_node_records), mostly without parsing
// them: hp appends its entries to the end of a node record, so cutting the
// record there takes them off again.
#ifndef HP_TAG_RECORD_STRIP_H_
#define HP_TAG_RECORD_STRIP_H_

#include "absl/status/status.h"
#include "hp/io/model_splice.h"

namespace hp {

// StripTags for a splice: a record whose stripped entries all sit at its
// end is cut short; any other node is parsed and stripped as a message
// (an overwritten namespace, the attribute and doc_string formats).
absl::Status StripTags(ModelSplice* splice);

}  // namespace hp

#endif  // HP_TAG_RECORD_STRIP_H_
