// Writes the benchmark models (and their traces) into a folder:
//   make_models OUT_DIR [inline_1g] [nodes_1m] [inline_400m]
// (all three when none is named).
#include <cstdio>
#include <string>
#include <vector>

#include "bench/synthetic_models.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: make_models OUT_DIR [inline_1g] [nodes_1m] "
                 "[inline_400m]\n");
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
    } else if (name == "nodes_1m") {
      status = hp::bench::WriteManyNodesModel(path, 1000000);
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
