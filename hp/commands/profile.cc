#include "hp/commands/profile.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "hp/commands/command_args.h"
#include "hp/io/atomic_writer.h"
#include "hp/profile/flame_graph.h"
#include "hp/profile/module_profile.h"
#include "hp/profile/profile_read_ahead.h"
#include "hp/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace hp {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kTopOps = 3;
constexpr size_t kUnknownShown = 10;

// Node times of the profile files `reading` reads, checked.
absl::StatusOr<std::unique_ptr<NodeTimes>> ReadTimes(const ProfiledGraph& graph,
                                                     ProfileReadAhead* reading,
                                                     int64_t runs_skip) {
  auto times = std::make_unique<NodeTimes>(graph, runs_skip);
  HP_RETURN_IF_ERROR(times->AddFiles(reading));
  HP_RETURN_IF_ERROR(times->Check());
  return times;
}

std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "-";
  return absl::StrFormat(
      "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::optional<double> PerRun(int64_t micros, int64_t runs) {
  if (runs <= 0) return std::nullopt;
  return static_cast<double>(micros) / static_cast<double>(runs);
}

std::string PerRunText(int64_t micros, int64_t runs) {
  const std::optional<double> value = PerRun(micros, runs);
  return value.has_value() ? absl::StrFormat("%.1f", *value) : "-";
}

std::string OpsText(const ModuleTime& time) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < time.ops.size() && i < kTopOps; ++i) {
    parts.push_back(
        absl::StrCat(time.ops[i].op_type, " ",
                     Percent(time.ops[i].micros, time.total_micros)));
  }
  return absl::StrJoin(parts, ", ");
}

// The graph's problems with names, as warnings.
std::vector<std::string> NameWarnings(const ProfiledGraph& graph,
                                      const std::string& graph_path) {
  std::vector<std::string> warnings;
  if (graph.unnamed_nodes() > 0) {
    warnings.push_back(
        absl::StrCat(graph_path, ": ", graph.unnamed_nodes(),
                     " nodes have no name, so no event can name them"));
  }
  const std::vector<std::string>& duplicates = graph.duplicate_names();
  if (!duplicates.empty()) {
    std::vector<std::string> shown(
        duplicates.begin(),
        duplicates.begin() + std::min<size_t>(duplicates.size(), 5));
    warnings.push_back(absl::StrCat(
        graph_path, ": ", duplicates.size(),
        " node names are held by several nodes; their events go to the "
        "first: '",
        absl::StrJoin(shown, "', '"), "'",
        duplicates.size() > shown.size() ? ", ..." : ""));
  }
  return warnings;
}

// Per module (by tag: the baseline may have run another graph of the
// model) its time in the profile and in the baseline, compared per run
// when both have model_run events, else in total.
struct Comparison {
  std::string tag;
  int64_t micros = 0;
  int64_t baseline_micros = 0;
  double now = 0;
  double before = 0;
};

std::vector<Comparison> Compare(const ProfiledGraph& graph,
                                const ModuleProfile& profile,
                                const NodeTimes& times,
                                const ProfiledGraph& baseline_graph,
                                const ModuleProfile& baseline,
                                const NodeTimes& baseline_times,
                                bool* per_run) {
  *per_run = times.runs() > 0 && baseline_times.runs() > 0;
  std::vector<Comparison> rows;
  absl::flat_hash_map<std::string, size_t> row_of;
  auto row = [&](const std::string& tag) -> Comparison& {
    auto [at, added] = row_of.emplace(tag, rows.size());
    if (added) rows.push_back({tag});
    return rows[at->second];
  };
  for (int m : profile.tree_order) {
    row(graph.tree().modules()[m].tag).micros = profile.modules[m].total_micros;
  }
  for (int m : baseline.tree_order) {
    row(baseline_graph.tree().modules()[m].tag).baseline_micros =
        baseline.modules[m].total_micros;
  }
  std::vector<Comparison> kept;
  for (Comparison& compared : rows) {
    if (compared.micros == 0 && compared.baseline_micros == 0) continue;
    compared.now = static_cast<double>(compared.micros);
    compared.before = static_cast<double>(compared.baseline_micros);
    if (*per_run) {
      compared.now /= static_cast<double>(times.runs());
      compared.before /= static_cast<double>(baseline_times.runs());
    }
    kept.push_back(std::move(compared));
  }
  std::stable_sort(
      kept.begin(), kept.end(), [](const Comparison& a, const Comparison& b) {
        return std::fabs(a.now - a.before) > std::fabs(b.now - b.before);
      });
  return kept;
}

std::string RatioText(const Comparison& row) {
  if (row.before <= 0) return "new";
  return absl::StrFormat("x%.2f", row.now / row.before);
}

Json TimesJson(const NodeTimes& times) {
  Json json = Json::object();
  json["files"] = times.files();
  json["node_events"] = times.kernel().calls;
  json["node_micros"] = times.kernel().micros;
  json["runs"] = times.runs();
  json["runs_skipped"] = times.runs_skipped();
  json["run_wall_micros"] = times.run_wall_micros();
  json["skipped_node_events"] = times.skipped().calls;
  json["skipped_node_micros"] = times.skipped().micros;
  json["session_events"] = times.session_events();
  json["other_events"] = times.other_events();
  json["unknown_node_events"] = times.unknown().calls;
  json["unknown_node_micros"] = times.unknown().micros;
  return json;
}

Json ProfileJson(const ProfileArgs& args, const ProfiledGraph& graph,
                 const NodeTimes& times, const ModuleProfile& profile,
                 const std::vector<std::string>& warnings) {
  const std::vector<TreeModule>& modules = graph.tree().modules();
  Json json = Json::object();
  json["format"] = "hp-profile";
  json["format_version"] = 1;
  json["model"] = args.model;
  json["optimized"] =
      args.optimized.empty() ? Json(nullptr) : Json(args.optimized);
  json["totals"] = TimesJson(times);
  json["totals"]["module_micros"] = profile.module_micros;
  json["totals"]["fused_micros"] = profile.fused_micros;
  json["warnings"] = warnings;
  Json unknown = Json::array();
  for (const auto& [name, time] : times.unknown_nodes()) {
    unknown.push_back(
        {{"name", name}, {"events", time.calls}, {"micros", time.micros}});
  }
  json["unknown_nodes"] = std::move(unknown);
  json["unlisted_unknown_events"] = times.unlisted().calls;
  json["unlisted_unknown_micros"] = times.unlisted().micros;
  Json list = Json::array();
  for (int m : profile.tree_order) {
    const TreeModule& module = modules[m];
    const ModuleTime& time = profile.modules[m];
    Json item = Json::object();
    item["tag"] = module.tag;
    item["parent"] =
        module.parent < 0 ? Json(nullptr) : Json(modules[module.parent].tag);
    item["depth"] = module.depth;
    item["class"] = module.class_name;
    item["module_path"] = graph.module_paths()[m].empty()
                              ? Json(nullptr)
                              : Json(std::string(graph.module_paths()[m]));
    item["total_micros"] = time.total_micros;
    item["self_micros"] = time.self_micros;
    item["share"] = times.kernel().micros > 0
                        ? static_cast<double>(time.total_micros) /
                              static_cast<double>(times.kernel().micros)
                        : 0.0;
    item["total_calls"] = time.total_calls;
    item["self_calls"] = time.self_calls;
    const std::optional<double> per_run =
        PerRun(time.total_micros, times.runs());
    item["per_run_micros"] =
        per_run.has_value() ? Json(*per_run) : Json(nullptr);
    item["fused_micros"] = time.fused_micros;
    Json ops = Json::array();
    for (const OpTime& op : time.ops) {
      ops.push_back({{"op_type", op.op_type},
                     {"micros", op.micros},
                     {"calls", op.calls}});
    }
    item["ops"] = std::move(ops);
    list.push_back(std::move(item));
  }
  json["modules"] = std::move(list);
  return json;
}

Json BaselineJson(const NodeTimes& times, const ModuleProfile& profile,
                  const std::vector<Comparison>& rows, bool per_run) {
  Json compared = Json::object();
  compared["totals"] = TimesJson(times);
  compared["totals"]["module_micros"] = profile.module_micros;
  compared["compared"] = per_run ? "per run" : "total";
  Json list = Json::array();
  for (const Comparison& row : rows) {
    list.push_back({{"tag", row.tag},
                    {"micros", row.micros},
                    {"baseline_micros", row.baseline_micros},
                    {"ratio", row.before > 0 ? Json(row.now / row.before)
                                             : Json(nullptr)}});
  }
  compared["modules"] = std::move(list);
  return compared;
}

void PrintBaseline(const NodeTimes& times, const std::vector<Comparison>& rows,
                   bool per_run, std::ostream& out) {
  out << "baseline: " << absl::StrJoin(times.files(), ", ") << ": "
      << times.kernel().micros << " us of node kernel time";
  if (per_run) {
    out << " (" << PerRunText(times.kernel().micros, times.runs())
        << " us per run)";
  }
  out << "\n\nmodules by the biggest change ("
      << (per_run ? "us per run" : "us in total") << "):\n"
      << absl::StrFormat("%12s %12s %8s  %s\n", "now", "baseline", "ratio",
                         "module");
  for (const Comparison& row : rows) {
    out << absl::StrFormat("%12.1f %12.1f %8s  %s\n", row.now, row.before,
                           RatioText(row), row.tag);
  }
}

void PrintHeader(const ProfileArgs& args, const NodeTimes& times,
                 const ModuleProfile& profile, std::ostream& out) {
  const KernelTime kernel = times.kernel();
  out << "profile of " << args.model;
  if (!args.optimized.empty()) out << " (as run: " << args.optimized << ")";
  out << " from " << absl::StrJoin(times.files(), ", ") << "\n";
  out << "node kernel time: " << kernel.micros << " us in " << kernel.calls
      << " kernel calls";
  if (times.runs() > 0) {
    out << " over " << times.runs() << " runs ("
        << PerRunText(kernel.micros, times.runs())
        << " us per run); the runs' wall time (model_run): "
        << times.run_wall_micros() << " us ("
        << PerRunText(times.run_wall_micros(), times.runs()) << " us per run)";
  }
  out << "\n";
  if (times.runs_skipped() > 0) {
    out << "left out (--runs_skip): " << times.runs_skipped() << " of "
        << times.runs() + times.runs_skipped() << " runs, "
        << times.skipped().calls << " kernel calls, " << times.skipped().micros
        << " us\n";
  }
  if (!args.optimized.empty()) {
    out << "on fused nodes (transfer: replacing, placed in the deepest "
           "module common to what they replaced): "
        << profile.fused_micros << " us ("
        << Percent(profile.fused_micros, kernel.micros) << ")\n";
  }
  const KernelTime unknown = times.unknown();
  if (unknown.calls == 0) {
    out << "every node event names a node of the model\n";
  } else {
    out << "nodes not in the model: " << unknown.calls << " events, "
        << unknown.micros << " us (" << Percent(unknown.micros, kernel.micros)
        << ") of " << times.unknown_nodes().size()
        << (times.unlisted().calls > 0 ? " names and more" : " names") << ":";
    size_t shown = 0;
    for (const auto& [name, time] : times.unknown_nodes()) {
      if (shown++ == kUnknownShown) {
        out << " ...";
        break;
      }
      out << " '" << name << "' (" << time.calls << ", " << time.micros
          << " us)";
    }
    out << "\n";
  }
}

void PrintModules(const ProfileArgs& args, const ProfiledGraph& graph,
                  const NodeTimes& times, const ModuleProfile& profile,
                  std::ostream& out) {
  const std::vector<TreeModule>& modules = graph.tree().modules();
  std::vector<int> order = profile.tree_order;
  const bool flat = args.top > 0;
  if (flat) {
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return profile.modules[a].self_micros > profile.modules[b].self_micros;
    });
    if (order.size() > static_cast<size_t>(args.top)) order.resize(args.top);
  }
  std::vector<std::string> labels;
  size_t width = 6;
  for (int m : order) {
    labels.push_back(flat ? modules[m].tag
                          : absl::StrCat(std::string(2 * modules[m].depth, ' '),
                                         modules[m].component));
    width = std::max(width, labels.back().size());
  }
  out << "\n";
  if (flat) out << "the " << order.size() << " modules of most self time:\n";
  out << absl::StrFormat("%10s %7s %10s %7s %10s  %-*s  %s\n", "total us",
                         "share", "self us", "calls", "per run",
                         static_cast<int>(width), "module", "top ops");
  for (size_t i = 0; i < order.size(); ++i) {
    const ModuleTime& time = profile.modules[order[i]];
    out << absl::StrFormat(
        "%10d %7s %10d %7d %10s  %-*s  %s\n", time.total_micros,
        Percent(time.total_micros, times.kernel().micros), time.self_micros,
        time.total_calls, PerRunText(time.total_micros, times.runs()),
        static_cast<int>(width), labels[i], OpsText(time));
  }
}

}  // namespace

absl::Status RunProfile(const ProfileArgs& args, std::ostream& out,
                        std::ostream& err) {
  HP_ASSIGN_OR_RETURN(const std::string model,
                      RequiredFlag(args.model, "model"));
  if (args.profiles.empty()) {
    return absl::InvalidArgumentError(
        "--profile is required: the JSON file(s) onnxruntime wrote with "
        "enableProfiling, comma-separated");
  }
  if (args.top < 0 || args.runs_skip < 0) {
    return absl::InvalidArgumentError(
        "--top and --runs_skip must not be negative");
  }
  HP_RETURN_IF_ERROR(CheckOptionalOutput(args.svg, "svg"));
  HP_RETURN_IF_ERROR(CheckOptionalOutput(args.folded, "folded"));
  // The profiles are parsed on a second thread while the model opens:
  // alone, each takes about as long as the other on a large graph.
  ProfileReadAhead reading(args.profiles);
  HP_ASSIGN_OR_RETURN(std::unique_ptr<ProfiledGraph> graph,
                      ProfiledGraph::Open(model, args.optimized));
  HP_ASSIGN_OR_RETURN(std::unique_ptr<NodeTimes> times,
                      ReadTimes(*graph, &reading, args.runs_skip));
  // The baseline's profiles, once the first ones are read: parsed while
  // the modules are summed and the baseline's graph, if another, opens.
  std::optional<ProfileReadAhead> baseline_reading;
  if (!args.baseline.empty()) baseline_reading.emplace(args.baseline);
  const ModuleProfile profile = ProfileModules(*graph, *times);
  bool per_run = false;
  std::vector<Comparison> rows;
  std::unique_ptr<ProfiledGraph> baseline_graph;
  std::unique_ptr<NodeTimes> baseline_times;
  ModuleProfile baseline;
  if (!args.baseline.empty()) {
    const ProfiledGraph* baseline_on = graph.get();
    if (args.baseline_optimized != args.optimized) {
      HP_ASSIGN_OR_RETURN(baseline_graph,
                          ProfiledGraph::Open(model, args.baseline_optimized));
      baseline_on = baseline_graph.get();
    }
    HP_ASSIGN_OR_RETURN(
        baseline_times,
        ReadTimes(*baseline_on, &*baseline_reading, args.runs_skip));
    baseline = ProfileModules(*baseline_on, *baseline_times);
    rows = Compare(*graph, profile, *times, *baseline_on, baseline,
                   *baseline_times, &per_run);
  }
  const std::vector<std::string> warnings = NameWarnings(
      *graph, args.optimized.empty() ? args.model : args.optimized);

  // Both files are written whole or not at all, and only once everything
  // was read.
  std::vector<std::pair<std::string, std::string>> files;
  if (!args.svg.empty()) {
    files.emplace_back(
        args.svg, FlameGraphSvg(*graph, profile,
                                absl::StrCat("Module time: ", args.model)));
  }
  if (!args.folded.empty()) {
    files.emplace_back(args.folded, FoldedStacks(*graph, profile));
  }
  std::vector<AtomicFileWriter> writers;
  for (const auto& [path, text] : files) {
    HP_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                        AtomicFileWriter::Create(path));
    HP_RETURN_IF_ERROR(writer.Append(text));
    writers.push_back(std::move(writer));
  }
  for (AtomicFileWriter& writer : writers) HP_RETURN_IF_ERROR(writer.Commit());

  if (args.json) {
    Json json = ProfileJson(args, *graph, *times, profile, warnings);
    if (baseline_times != nullptr) {
      json["baseline"] = BaselineJson(*baseline_times, baseline, rows, per_run);
    }
    out << json.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return absl::OkStatus();
  }
  for (const std::string& warning : warnings) {
    err << "warning: " << warning << "\n";
  }
  PrintHeader(args, *times, profile, out);
  if (baseline_times == nullptr) {
    PrintModules(args, *graph, *times, profile, out);
  } else {
    PrintBaseline(*baseline_times, rows, per_run, out);
  }
  for (const auto& [path, text] : files) out << "wrote " << path << "\n";
  return absl::OkStatus();
}

}  // namespace hp
