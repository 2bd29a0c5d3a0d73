// Synthetic models for hp's benchmarks, built with hp's own ONNX schema:
// torch-style node names (/layers.N/mlp/fc1/MatMul) and a matching scope
// trace (docs/scope-trace.md), so that `converter tag` finds every node's
// module as it would on a real export.
#ifndef HP_BENCH_SYNTHETIC_MODELS_H_
#define HP_BENCH_SYNTHETIC_MODELS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace hp {
namespace bench {

// An MLP stack with inline float weights: per layer fc1 [hidden, 4*hidden]
// and fc2 [4*hidden, hidden] (raw_data) with biases; nodes MatMul, Add, Relu,
// MatMul, Add and a residual Add. Layers are added until the file holds at
// least `target_bytes`. Writes `path` and <stem>.trace.json beside it.
absl::Status WriteInlineWeightsModel(const std::string& path,
                                     uint64_t target_bytes, int hidden = 1024);

// The same MLP stack with its weights stored as ONNX external data, as every
// model over 2 GB keeps them: the first layers' weights, at least
// `external_bytes`, are written a tensor at a time to the side file
// <file name>.data beside `path` (location, offset and length entries);
// the next layers' weights, at least `inline_bytes` (0: none), stay inline
// (raw_data). The .onnx is written record by record, so it may be past
// protobuf's 2 GB limit for one message. Writes <stem>.trace.json beside it.
absl::Status WriteExternalDataModel(const std::string& path,
                                    uint64_t external_bytes,
                                    uint64_t inline_bytes = 0,
                                    int hidden = 1024);

// A transformer-like stack without weights: `nodes` nodes, 100 per layer,
// spread over 12 modules per layer (attention q/k/v/o, MLP fc1/act/fc2,
// two LayerNorms). Writes `path` and <stem>.trace.json beside it, a record
// and a module at a time, so neither is ever held whole.
absl::Status WriteManyNodesModel(const std::string& path, int64_t nodes);

}  // namespace bench
}  // namespace hp

#endif  // HP_BENCH_SYNTHETIC_MODELS_H_
