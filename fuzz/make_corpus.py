#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from hp's
fixtures (testdata/models, the smaller ones), a handful of Debian's
libonnx-testdata models, and models and sidecars written by the converter.

    fuzz/make_corpus.py CONVERTER

CONVERTER is a built converter binary (bazel build //:converter, then
bazel-bin/hp/converter). Deterministic: the same inputs give the same files.
Needs only Python's standard library; models are split at the protobuf wire
level, as hp reads them.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "testdata", "models")
# The fixtures of a few KB to 50 KB; tiny_bert, tiny_gpt and tiny_t5
# (100 to 220 KB) would slow every mutation down.
SMALL_FIXTURES = ["recalls", "containers", "control_flow", "dynamo_style",
                  "unscoped", "tiny_resnet"]
ONNX_TESTDATA = "/usr/share/libonnx-testdata/data"
# Subgraphs (If, Loop, Scan, sequences), training info, converted PyTorch.
TESTDATA_MODELS = [
    "node/test_abs", "node/test_if", "node/test_if_seq", "node/test_loop11",
    "node/test_loop16_seq_none", "node/test_scan9_sum",
    "node/test_sequence_map_add_2_sequences", "node/test_constant",
    "node/test_training_dropout", "simple/test_gradient_of_add",
    "pytorch-operator/test_operator_add_broadcast",
    "pytorch-converted/test_ConvTranspose2d",
]


def varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def records(data):
    """(field, wire type, start, payload start, end) of each record."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, pos = varint(data, pos)
            payload = pos
        elif wire_type == 2:
            length, payload = varint(data, pos)
            pos = payload + length
        elif wire_type == 1:
            payload, pos = pos, pos + 8
        elif wire_type == 5:
            payload, pos = pos, pos + 4
        else:
            raise ValueError("unexpected wire type %d" % wire_type)
        yield field, wire_type, start, payload, pos


def graph_payload(model):
    """The main graph's payload without its initializers (fields 5, 15)."""
    for field, wire_type, _, payload, end in records(model):
        if field == 7 and wire_type == 2:
            graph = model[payload:end]
            return b"".join(graph[s:e] for f, _, s, _, e in records(graph)
                            if f not in (5, 15))
    return b""


def node_names(model):
    names = []
    graph = graph_payload(model)
    for field, _, _, payload, end in records(graph):
        if field == 1:
            node = graph[payload:end]
            for f, _, _, p, e in records(node):
                if f == 3:
                    names.append(node[p:e])
    return names


def tag_input(model, trace, flags=0):
    """Options byte, 4-byte length of the first file, both files."""
    return bytes([flags]) + struct.pack("<I", len(model)) + model + trace


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    converter = os.path.abspath(sys.argv[1])
    for target in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        shutil.rmtree(os.path.join(CORPUS, target))

    models = {}  # corpus name -> model bytes
    traces = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in SMALL_FIXTURES:
            model_path = os.path.join(FIXTURES, fixture + ".onnx")
            trace_path = os.path.join(FIXTURES, fixture + ".trace.json")
            models["fixture_" + fixture] = read(model_path)
            traces[fixture] = read(trace_path)
            # Relative names in a scratch folder: the sidecar records the
            # paths it was given, and those should not depend on the machine.
            shutil.copy(model_path, tmp)
            shutil.copy(trace_path, tmp)
            tagged = os.path.join(tmp, fixture + ".tagged.onnx")
            sidecar = os.path.join(tmp, fixture + ".sidecar.json")
            subprocess.run([converter, "tag", "--model", fixture + ".onnx",
                            "--trace", fixture + ".trace.json",
                            "--output", fixture + ".tagged.onnx",
                            "--metadata", fixture + ".sidecar.json",
                            "--nofsync"],
                           check=True, cwd=tmp, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            models["tagged_" + fixture] = read(tagged)
            write("sidecar_fuzzer", fixture + ".sidecar.json", read(sidecar))
        for path in TESTDATA_MODELS:
            name = "onnx_" + path.split("/")[1]
            models[name] = read(os.path.join(ONNX_TESTDATA, path,
                                             "model.onnx"))
        models["external_data"] = read(os.path.join(
            ROOT, "testdata", "external_data", "mlp.onnx"))

    for name, model in sorted(models.items()):
        write("model_splice_fuzzer", name + ".onnx", model)
        write("node_records_fuzzer", name + ".graph", graph_payload(model))

    for fixture, trace in sorted(traces.items()):
        write("scope_trace_fuzzer", fixture + ".trace.json", trace)
    bad = os.path.join(ROOT, "testdata", "bad_traces")
    for name in sorted(os.listdir(bad)):
        if name.endswith(".json"):
            write("scope_trace_fuzzer", "bad_" + name,
                  read(os.path.join(bad, name)))

    # Pairs: each fixture with its trace (untagged and tagged), in each tag
    # format and option; models without a trace.
    for fixture in SMALL_FIXTURES[:5]:
        trace = traces[fixture]
        write("tag_fuzzer", fixture + ".pair",
              tag_input(models["fixture_" + fixture], trace))
        write("tag_fuzzer", fixture + ".tagged.pair",
              tag_input(models["tagged_" + fixture], trace))
    write("tag_fuzzer", "containers.attribute_kept.pair",
          tag_input(models["fixture_containers"], traces["containers"],
                    flags=0x1 | 0x8 | 0x10))
    write("tag_fuzzer", "recalls.doc_string_propagate.pair",
          tag_input(models["fixture_recalls"], traces["recalls"],
                    flags=0x2 | 0x4 | 0x20))
    for name in ["fixture_dynamo_style", "fixture_unscoped", "onnx_test_if",
                 "onnx_test_loop11", "onnx_test_scan9_sum"]:
        write("tag_fuzzer", name + ".no_trace.pair",
              tag_input(models[name], b""))

    # Transfer pairs: each small fixture tagged, with the model onnxruntime
    # optimized from it (testdata/transformed), with itself untagged, and
    # with itself tagged.
    transformed = os.path.join(ROOT, "testdata", "transformed")
    # tiny_resnet (its NCHWc layout nodes) only optimized: 100 KB a pair.
    for fixture in ["containers", "control_flow", "tiny_resnet"]:
        tagged = models["tagged_" + fixture]
        write("transfer_fuzzer", fixture + ".all.pair",
              tag_input(tagged, read(os.path.join(
                  transformed, fixture + ".all.onnx"))))
        if fixture == "tiny_resnet":
            continue
        write("transfer_fuzzer", fixture + ".original.pair",
              tag_input(tagged, models["fixture_" + fixture], flags=0x1))
        write("transfer_fuzzer", fixture + ".tagged.pair",
              tag_input(tagged, tagged, flags=0x2 | 0x4))

    # Tagged models, each at depths 1 and 2 (with the remainder at 1).
    for name in sorted(models):
        if name.startswith("tagged_"):
            write("extract_fuzzer", name + ".depth1", bytes([1 | 8]) + models[name])
            write("extract_fuzzer", name + ".depth2", bytes([2]) + models[name])

    names = set()
    for name in sorted(models):
        if name.startswith("fixture_"):
            names.update(node_names(models[name]))
    names.update([b"", b"/", b"//", b"/Cast", b"Constant_50",
                  b"/layer1/layer1.0/conv1/Conv", b"/relu_1/Relu",
                  b"/heads/left/proj/Gemm", b"/a.0/b_12/Op"])
    # Every name would be hundreds of files: keep one in three, sorted.
    for i, name in enumerate(sorted(names)):
        if i % 3 == 0 or len(name) < 8:
            write("node_names_fuzzer", "name_%03d" % i, name)


if __name__ == "__main__":
    main()
