// `converter analyze`: the module tree in; per module instance its node
// counts (own and subtree), op-type histogram and how its nodes were matched,
// as an indented text tree or as JSON (proto/analyze.schema.json) out.
#ifndef HP_VIEW_ANALYZE_H_
#define HP_VIEW_ANALYZE_H_

#include <string>

#include "hp/view/module_tree.h"

namespace hp {

// The analysis JSON's `format` value and version.
inline constexpr char kAnalysisFormat[] = "hp-analysis";
inline constexpr int kAnalysisFormatVersion = 1;

struct AnalysisContext {
  std::string model_path;
  std::string trace_path;  // "" when no trace was used
};

std::string AnalysisText(const TagsToShow& shown, const ModuleTree& tree,
                         const AnalysisContext& context);

// Pretty-printed JSON, one object; never throws (invalid UTF-8 in names is
// replaced).
std::string AnalysisJson(const TagsToShow& shown, const ModuleTree& tree,
                         const AnalysisContext& context);

}  // namespace hp

#endif  // HP_VIEW_ANALYZE_H_
