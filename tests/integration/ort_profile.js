#!/usr/bin/env node
// Runs an ONNX model with onnxruntime-node (CPU) and profiling on, for
// hp's profile tests: the Chrome-trace JSON onnxruntime writes per session.
//
//   node tests/integration/ort_profile.js MODEL.onnx INPUTS.json LEVEL RUNS PREFIX [OPTIMIZED.onnx]
//
// LEVEL: onnxruntime's graphOptimizationLevel (disabled, basic, extended,
// all). RUNS: how many times the model runs on INPUTS.json (ort_run.js's
// format). PREFIX: profileFilePrefix; onnxruntime appends a date and
// ".json". OPTIMIZED.onnx: where the session saves the graph it runs
// (optimizedModelFilePath). stdout: the profile file's path.
// onnxruntime-node is looked up in scripts/npm/node_modules (scripts/npm/install.sh).
'use strict';
const fs = require('fs');
const path = require('path');

const ort = require(require.resolve('onnxruntime-node', {
  paths: [path.join(__dirname, '..', '..', 'scripts', 'npm')],
}));

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array,
  int64: BigInt64Array, bool: Uint8Array,
};

function toTensor(spec) {
  const Array_ = ARRAYS[spec.dtype];
  if (!Array_) throw new Error(`input ${spec.name}: unsupported dtype ${spec.dtype}`);
  const bytes = Buffer.from(spec.data, 'base64');
  const copy = new ArrayBuffer(bytes.length);  // aligned for the typed array
  new Uint8Array(copy).set(bytes);
  return new ort.Tensor(spec.dtype, new Array_(copy), spec.dims);
}

async function main() {
  const [modelPath, specPath, level, runs, prefix, optimized] = process.argv.slice(2);
  if (!modelPath || !specPath || !level || !(Number(runs) >= 0) || !prefix) {
    throw new Error('usage: ort_profile.js MODEL.onnx INPUTS.json LEVEL RUNS PREFIX [OPTIMIZED.onnx]');
  }
  const options = {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    logSeverityLevel: 3, graphOptimizationLevel: level,
    enableProfiling: true, profileFilePrefix: prefix,
  };
  if (optimized) options.optimizedModelFilePath = optimized;
  const session = await ort.InferenceSession.create(modelPath, options);
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const feeds = {};
  for (const input of spec.inputs) {
    if (session.inputNames.includes(input.name)) feeds[input.name] = toTensor(input);
  }
  for (let i = 0; i < Number(runs); ++i) await session.run(feeds);
  const written = session.endProfiling ? session.endProfiling() : undefined;
  await session.release();
  // The file onnxruntime wrote: the newest one with the prefix.
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'))
      .map((f) => path.join(dir, f))
      .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no profile written with prefix ${prefix} (${written})`);
  process.stdout.write(files[0] + '\n');
}

main().catch((err) => {
  process.stderr.write(`ort_profile.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
