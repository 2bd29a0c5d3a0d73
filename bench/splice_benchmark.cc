// In-process stages of `converter tag`, each timed alone: scan + skeleton
// parse (ModelSplice::Open), trace parse, ComputeTags, TagModel, the spliced
// write (with fsync) and the digest check's hashing (whole file, and the
// structure digest that traces now carry); and all of them
// in a row as `converter tag` runs them (Stages: one counter per stage, in
// ms, freeing the model and the results included). Models come from
// $HP_BENCH_DIR (default /tmp/hp-bench), made there by make_models' code when
// missing.
//
//   bazel run -c opt //bench:splice_benchmark -- --benchmark_filter=nodes_1m
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/synthetic_models.h"
#include "benchmark/benchmark.h"
#include "hp/hp.h"
#include "hp/io/model_splice.h"
#include "hp/io/structure_digest.h"
#include "hp/tag/appended_tags.h"
#include "hp/trace/scope_trace.h"
#include "hp/util/sha256.h"

namespace hp {
namespace {

std::string BenchDir() {
  const char* dir = std::getenv("HP_BENCH_DIR");
  return dir != nullptr ? dir : "/tmp/hp-bench";
}

// The model's path, made first if missing.
std::string ModelPath(const std::string& name) {
  const std::string path = BenchDir() + "/" + name + ".onnx";
  if (std::filesystem::exists(path)) return path;
  std::filesystem::create_directories(BenchDir());
  absl::Status made = name == "nodes_1m"
                          ? bench::WriteManyNodesModel(path, 1000000)
                          : bench::WriteInlineWeightsModel(path, 400000000);
  if (!made.ok()) std::abort();
  return path;
}

std::string TracePath(const std::string& model) {
  std::filesystem::path path(model);
  path.replace_extension(".trace.json");
  return path.string();
}

void Check(const absl::Status& status, benchmark::State& state) {
  if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
}

// As `converter tag` opens and tags a model: main-graph nodes read as
// records, node tags appended to them.
absl::StatusOr<ModelSplice> OpenRecords(const std::string& path) {
  SpliceOptions options;
  options.read_node_records = true;
  return ModelSplice::Open(path, options);
}

absl::StatusOr<TagResult> TagRecords(ModelSplice* splice,
                                     const ScopeTrace* trace,
                                     AppendedNodeTags* appended) {
  return TagModel(
      &splice->skeleton(), splice->nodes(),
      [splice](size_t i) { return splice->MutableNode(i); }, trace,
      TagOptions(), appended);
}

void BM_Open(benchmark::State& state, const std::string& name) {
  const std::string path = ModelPath(name);
  for (auto _ : state) {
    absl::StatusOr<ModelSplice> splice = OpenRecords(path);
    Check(splice.status(), state);
    benchmark::DoNotOptimize(splice);
  }
  state.SetBytesProcessed(state.iterations() *
                          std::filesystem::file_size(path));
}

void BM_LoadTrace(benchmark::State& state, const std::string& name) {
  const std::string path = TracePath(ModelPath(name));
  for (auto _ : state) {
    absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(path);
    Check(trace.status(), state);
    benchmark::DoNotOptimize(trace);
  }
}

void BM_ComputeTags(benchmark::State& state, const std::string& name) {
  const std::string path = ModelPath(name);
  // ComputeTags lists every node of a parsed model.
  absl::StatusOr<ModelSplice> splice = ModelSplice::Open(path);
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(TracePath(path));
  Check(splice.status(), state);
  Check(trace.status(), state);
  if (!splice.ok() || !trace.ok()) return;
  for (auto _ : state) {
    absl::StatusOr<TagResult> tags =
        ComputeTags(splice->skeleton(), &*trace, TagOptions());
    Check(tags.status(), state);
    benchmark::DoNotOptimize(tags);
  }
}

void BM_TagModel(benchmark::State& state, const std::string& name) {
  const std::string path = ModelPath(name);
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(TracePath(path));
  Check(trace.status(), state);
  if (!trace.ok()) return;
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<ModelSplice> splice = OpenRecords(path);
    AppendedNodeTags appended;
    state.ResumeTiming();
    // As `converter tag` tags: node tags appended to the records as read.
    absl::StatusOr<TagResult> tags = TagRecords(&*splice, &*trace, &appended);
    Check(tags.status(), state);
    state.PauseTiming();
    splice = absl::InternalError("freed outside the timing");
    state.ResumeTiming();
  }
}

void BM_Write(benchmark::State& state, const std::string& name) {
  const std::string path = ModelPath(name);
  const std::string output = BenchDir() + "/benchmark_output.onnx";
  absl::StatusOr<ModelSplice> splice = OpenRecords(path);
  absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(TracePath(path));
  Check(splice.status(), state);
  Check(trace.status(), state);
  if (!splice.ok() || !trace.ok()) return;
  AppendedNodeTags appended;
  Check(TagRecords(&*splice, &*trace, &appended).status(), state);
  for (auto _ : state) {
    Check(splice->Save(output, {}, {&appended.sizes, appended.encode}), state);
  }
  state.SetBytesProcessed(state.iterations() *
                          std::filesystem::file_size(output));
  std::filesystem::remove(output);
}

// The stages in `converter tag`'s order (the digest check left out), each
// timed once per run; the counters are the means over the runs.
void BM_Stages(benchmark::State& state, const std::string& name) {
  const std::string path = ModelPath(name);
  const std::string output = BenchDir() + "/benchmark_output.onnx";
  double open = 0, trace_parse = 0, tag = 0, save = 0, free = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    // Seconds since the previous lap.
    auto lap = [&start] {
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - start).count();
      start = now;
      return seconds;
    };
    absl::StatusOr<ModelSplice> splice = OpenRecords(path);
    open += lap();
    absl::StatusOr<ScopeTrace> trace = LoadScopeTrace(TracePath(path));
    trace_parse += lap();
    Check(splice.status(), state);
    Check(trace.status(), state);
    if (!splice.ok() || !trace.ok()) return;
    AppendedNodeTags appended;
    absl::StatusOr<TagResult> tags = TagRecords(&*splice, &*trace, &appended);
    tag += lap();
    Check(tags.status(), state);
    Check(splice->Save(output, {}, {&appended.sizes, appended.encode}), state);
    save += lap();
    splice = absl::CancelledError();
    tags = absl::CancelledError();
    trace = absl::CancelledError();
    appended = AppendedNodeTags();
    free += lap();
  }
  const auto mean_ms = [&state](double seconds) {
    return benchmark::Counter(1e3 * seconds / state.iterations());
  };
  state.counters["open_ms"] = mean_ms(open);
  state.counters["trace_ms"] = mean_ms(trace_parse);
  state.counters["tag_ms"] = mean_ms(tag);
  state.counters["save_ms"] = mean_ms(save);
  state.counters["free_ms"] = mean_ms(free);
  std::filesystem::remove(output);
}

// The digest check's hashing: Sha256FileHex (traces without a structure
// digest) or StructureSha256FileHex (the file without its initializer
// records).
void BM_Digest(benchmark::State& state, const std::string& name,
               absl::StatusOr<std::string> (*digest_of)(const std::string&)) {
  const std::string path = ModelPath(name);
  for (auto _ : state) {
    absl::StatusOr<std::string> digest = digest_of(path);
    Check(digest.status(), state);
  }
  state.SetBytesProcessed(state.iterations() *
                          std::filesystem::file_size(path));
}

void Register() {
  for (const char* name : {"nodes_1m", "inline_400m"}) {
    const std::string model = name;
    benchmark::RegisterBenchmark(("Open/" + model).c_str(), BM_Open, model)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("LoadTrace/" + model).c_str(), BM_LoadTrace,
                                 model)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("ComputeTags/" + model).c_str(),
                                 BM_ComputeTags, model)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("TagModel/" + model).c_str(), BM_TagModel,
                                 model)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Write/" + model).c_str(), BM_Write, model)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Sha256File/" + model).c_str(), BM_Digest,
                                 model, Sha256FileHex)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("StructureSha256File/" + model).c_str(),
                                 BM_Digest, model, StructureSha256FileHex)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Stages/" + model).c_str(), BM_Stages, model)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace hp

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  hp::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
