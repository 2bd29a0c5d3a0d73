// Where a model's module hierarchy comes from, in decreasing order of
// detail. Shared by the module table that reads it and the results that
// report it.
#ifndef HP_MODEL_HIERARCHY_SOURCE_H_
#define HP_MODEL_HIERARCHY_SOURCE_H_

namespace hp {

enum class HierarchySource {
  kTrace,           // a scope trace: paths, classes and call counts
  kDynamoMetadata,  // the dynamo exporter's node metadata
  kNodeNames,       // the module paths in node names alone
};

}  // namespace hp

#endif  // HP_MODEL_HIERARCHY_SOURCE_H_
