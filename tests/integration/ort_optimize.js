#!/usr/bin/env node
// Saves the model onnxruntime-node (CPU) makes of an ONNX model at one
// graph optimization level: a real transformation for hp's transfer tests.
//
//   node tests/integration/ort_optimize.js MODEL.onnx LEVEL OUTPUT.onnx
//
// LEVEL: basic, extended or all (onnxruntime's graphOptimizationLevel).
// onnxruntime-node is looked up in scripts/npm/node_modules (scripts/npm/install.sh).
'use strict';
const path = require('path');

const ort = require(require.resolve('onnxruntime-node', {
  paths: [path.join(__dirname, '..', '..', 'scripts', 'npm')],
}));

async function main() {
  const [modelPath, level, outputPath] = process.argv.slice(2);
  if (!modelPath || !['basic', 'extended', 'all'].includes(level) || !outputPath) {
    throw new Error('usage: ort_optimize.js MODEL.onnx basic|extended|all OUTPUT.onnx');
  }
  await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    logSeverityLevel: 3, graphOptimizationLevel: level,
    optimizedModelFilePath: outputPath,
  });
}

main().catch((err) => {
  process.stderr.write(`ort_optimize.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
