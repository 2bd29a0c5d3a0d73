// Pictures of a module profile: an icicle flame graph as a standalone SVG
// (one box per module, its width its share of the time, a tooltip each),
// and the folded-stack text flame-graph tools and speedscope read.
#ifndef HP_PROFILE_FLAME_GRAPH_H_
#define HP_PROFILE_FLAME_GRAPH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "hp/profile/module_profile.h"

namespace hp {

// Width of the boxes' area in the SVG, in pixels: a module's box is
// total / (summed module time) of it wide.
inline constexpr double kFlameGraphWidth = 1200.0;

// The SVG; `title` heads it. Modules without time get no box.
std::string FlameGraphSvg(const ProfiledGraph& graph,
                          const ModuleProfile& profile,
                          absl::string_view title);

// A line per module with self time: its components from the root, joined
// by ';' ("BertModel;BertEncoder;BertLayer.0"), a space, its self time in
// microseconds. ';', spaces and line breaks inside a component become '_'.
// The numbers sum to the module time.
std::string FoldedStacks(const ProfiledGraph& graph,
                         const ModuleProfile& profile);

}  // namespace hp

#endif  // HP_PROFILE_FLAME_GRAPH_H_
