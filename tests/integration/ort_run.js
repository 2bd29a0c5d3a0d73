#!/usr/bin/env node
// Runs an ONNX model with onnxruntime-node (CPU) and prints its outputs as JSON.
//
//   node tests/integration/ort_run.js MODEL.onnx INPUTS.json [LEVEL]
//
// LEVEL: onnxruntime's graphOptimizationLevel for the session (disabled,
// basic, extended, all); its default (all) when left out.
// INPUTS.json: {"inputs": [{"name": "x", "dtype": "float32", "dims": [2, 16],
//                            "data": "<base64 of the raw little-endian bytes>"}]}
// stdout:      {"outputs": [{"name", "dtype", "dims", "data"}]} in the model's
//              output order, same encoding. dtype is onnxruntime's tensor type
//              name (float32, int64, bool, ...). Errors go to stderr, exit 1.
// onnxruntime-node is looked up in scripts/npm/node_modules (scripts/npm/install.sh).
'use strict';
const fs = require('fs');
const path = require('path');

const ort = require(require.resolve('onnxruntime-node', {
  paths: [path.join(__dirname, '..', '..', 'scripts', 'npm')],
}));

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
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
  const [modelPath, specPath, level] = process.argv.slice(2);
  if (!modelPath || !specPath) throw new Error('usage: ort_run.js MODEL.onnx INPUTS.json [LEVEL]');
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const options = {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  if (level) options.graphOptimizationLevel = level;
  const session = await ort.InferenceSession.create(modelPath, options);
  const feeds = {};
  for (const input of spec.inputs) feeds[input.name] = toTensor(input);
  const results = await session.run(feeds);
  const outputs = session.outputNames.map((name) => {
    const t = results[name];
    const d = t.data;
    return { name, dtype: t.type, dims: Array.from(t.dims),
             data: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64') };
  });
  process.stdout.write(JSON.stringify({ outputs }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`ort_run.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
