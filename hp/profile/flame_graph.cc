#include "hp/profile/flame_graph.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hp/view/text_escape.h"

namespace hp {
namespace {

constexpr double kMargin = 10.0;
constexpr double kHeader = 44.0;
constexpr double kRow = 20.0;
constexpr double kCharWidth = 7.0;  // of the 12px monospace labels

// A warm colour from the class name, the same for every instance of it.
std::string ColourOf(absl::string_view class_name) {
  uint32_t hash = 2166136261u;
  for (char c : class_name) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  }
  return absl::StrFormat("rgb(%d,%d,%d)", 205 + hash % 50,
                         90 + (hash >> 8) % 130, 40 + (hash >> 16) % 50);
}

std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "0.0%";
  return absl::StrFormat(
      "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string FoldedComponent(absl::string_view component) {
  std::string out(component);
  for (char& c : out) {
    if (c == ';' || c == ' ' || c == '\n' || c == '\r' || c == '\t') c = '_';
  }
  return out;
}

}  // namespace

std::string FlameGraphSvg(const ProfiledGraph& graph,
                          const ModuleProfile& profile,
                          absl::string_view title) {
  const std::vector<TreeModule>& modules = graph.tree().modules();
  const int64_t whole = profile.module_micros;
  // Left edges: siblings side by side in the text's order (costliest
  // first), from their parent's left edge; the rest of a parent's width
  // is its self time.
  std::vector<double> left(modules.size(), kMargin);
  std::vector<double> next(modules.size(), kMargin);
  double roots_next = kMargin;
  int deepest = 0;
  auto width_of = [&](int m) {
    return whole <= 0
               ? 0.0
               : kFlameGraphWidth *
                     static_cast<double>(profile.modules[m].total_micros) /
                     static_cast<double>(whole);
  };
  for (int m : profile.tree_order) {
    const int parent = modules[m].parent;
    double& from = parent < 0 ? roots_next : next[parent];
    left[m] = from;
    next[m] = from;
    from += width_of(m);
    deepest = std::max(deepest, modules[m].depth);
  }
  const double height = kHeader + (deepest + 1) * kRow + kMargin;
  const double width = kFlameGraphWidth + 2 * kMargin;
  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
      "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" "
      "fill=\"#ffffff\"/>\n",
      width, height, width, height, width, height);
  absl::StrAppend(
      &svg,
      absl::StrFormat("<text x=\"%.0f\" y=\"20\" font-family=\"sans-serif\" "
                      "font-size=\"15\">%s</text>\n",
                      kMargin, XmlEscape(ValidUtf8(title))),
      absl::StrFormat(
          "<text x=\"%.0f\" y=\"36\" font-family=\"sans-serif\" "
          "font-size=\"11\" fill=\"#555555\">%d us of node kernel time in "
          "modules; width = share, hover a box for its times</text>\n",
          kMargin, whole));
  for (int m : profile.tree_order) {
    const ModuleTime& time = profile.modules[m];
    const double box = width_of(m);
    if (time.total_micros <= 0) continue;
    const TreeModule& module = modules[m];
    const double y = kHeader + module.depth * kRow;
    std::string tooltip = absl::StrCat(
        module.tag, "\ntotal ", time.total_micros, " us (",
        Percent(time.total_micros, whole), "), self ", time.self_micros,
        " us, ", time.total_calls, " kernel calls");
    if (!graph.module_paths()[m].empty()) {
      absl::StrAppend(&tooltip, "\nmodule ", graph.module_paths()[m]);
    }
    for (size_t i = 0; i < time.ops.size() && i < 3; ++i) {
      absl::StrAppend(&tooltip, i == 0 ? "\nops: " : ", ", time.ops[i].op_type,
                      " ", Percent(time.ops[i].micros, time.total_micros));
    }
    absl::StrAppend(
        &svg, "<g class=\"module\">", "<title>", XmlEscape(ValidUtf8(tooltip)),
        "</title>",
        absl::StrFormat("<rect x=\"%.4f\" y=\"%.0f\" width=\"%.4f\" "
                        "height=\"%.0f\" fill=\"%s\" stroke=\"#ffffff\" "
                        "stroke-width=\"0.5\"/>",
                        left[m], y, box, kRow - 1,
                        ColourOf(module.class_name)));
    const size_t fits = static_cast<size_t>((box - 6) / kCharWidth);
    if (fits >= 3) {
      std::string label = module.component;
      if (label.size() > fits) label = label.substr(0, fits - 2) + "..";
      absl::StrAppend(
          &svg, absl::StrFormat("<text x=\"%.2f\" y=\"%.0f\" "
                                "font-family=\"monospace\" font-size=\"12\">%s"
                                "</text>",
                                left[m] + 3, y + kRow - 6,
                                XmlEscape(ValidUtf8(label))));
    }
    absl::StrAppend(&svg, "</g>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

std::string FoldedStacks(const ProfiledGraph& graph,
                         const ModuleProfile& profile) {
  const std::vector<TreeModule>& modules = graph.tree().modules();
  std::string text;
  for (int m : profile.tree_order) {
    const int64_t self = profile.modules[m].self_micros;
    if (self <= 0) continue;
    std::vector<int> stack;
    for (int at = m; at >= 0; at = modules[at].parent) stack.push_back(at);
    std::string line;
    for (auto at = stack.rbegin(); at != stack.rend(); ++at) {
      if (!line.empty()) line += ';';
      line += FoldedComponent(modules[*at].component);
    }
    absl::StrAppend(&text, line, " ", self, "\n");
  }
  return text;
}

}  // namespace hp
