// Writes the benchmark models (and their traces) into a folder:
//   make_models OUT_DIR [inline_1g] [nodes_1m] [inline_400m] [external_4g]
//                       [external_2g5] [inline_2g5_external] [nodes_15m]
// (the first three when none is named).
//   nodes_15m: nodes_1m's graph with 15,000,000 nodes, a 1.9 GB .onnx near
//     protobuf's 2 GB limit for one message, and a 420 MB trace.
//   external_4g: 4 GB of weights in external_4g.onnx.data, a 139 KB graph;
//   external_2g5: the same with 2.5 GB;
//   inline_2g5_external: 2.5 GB inline (a .onnx past 2 GB) and 100 MB in
//     inline_2g5_external.onnx.data.
#include <cstdio>
#include <string>
#include <vector>

#include "bench/synthetic_models.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: make_models OUT_DIR [inline_1g] [nodes_1m] "
                 "[inline_400m] [external_4g] [external_2g5] "
                 "[inline_2g5_external] [nodes_15m]\n");
    return 2;
  }
  const std::string folder = argv[1];
  std::vector<std::string> names(argv + 2, argv + argc);
  if (names.empty()) names = {"inline_1g", "nodes_1m", "inline_400m"};
  for (const std::string& name : names) {
    const std::string path = folder + "/" + name + ".onnx";
    absl::Status status;
    if (name == "inline_1g") {
      status = hp::bench::WriteInlineWeightsModel(path, 1000000000);
    } else if (name == "inline_400m") {
      status = hp::bench::WriteInlineWeightsModel(path, 400000000);
    } else if (name == "external_4g") {
      status = hp::bench::WriteExternalDataModel(path, 4000000000);
    } else if (name == "external_2g5") {
      status = hp::bench::WriteExternalDataModel(path, 2500000000);
    } else if (name == "inline_2g5_external") {
      status = hp::bench::WriteExternalDataModel(path, 100000000, 2500000000);
    } else if (name == "nodes_1m") {
      status = hp::bench::WriteManyNodesModel(path, 1000000);
    } else if (name == "nodes_15m") {
      status = hp::bench::WriteManyNodesModel(path, 15000000);
    } else {
      std::fprintf(stderr, "make_models: unknown model '%s'\n", name.c_str());
      return 2;
    }
    if (!status.ok()) {
      std::fprintf(stderr, "make_models: %s\n",
                   std::string(status.message()).c_str());
      return 1;
    }
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}
