#!/usr/bin/python3
"""Times `converter extract` of one layer of a large model against `cp` of
the whole file, and counts the bytes each reads from storage.

    bench/extract_layer.py CONVERTER TAGGED_MODEL MODULE_PATH OUT_DIR RUNS

Warm: the input is in the page cache (read once first); each output is
deleted before the next run; extract runs with --nofsync, as cp does not
flush either. Cold: the input's pages are dropped from the page cache
(posix_fadvise DONTNEED, no root needed) before one run of each, and the
bytes the process read from storage are its rusage's input blocks
(512 bytes each, from wait4), what /proc/<pid>/io calls read_bytes; its
peak RSS from /usr/bin/time. Prints one line per figure.

The floor for those bytes: storage is read in pages, and a reader must
read every byte of the model that is not a weight (the graph, and each
initializer's header before its raw_data: the header holds the length
that leads to the next record) plus the weights it copies. The script
counts the 4 KiB pages holding any such byte of the input, from a scan of
its protobuf records (the layer's initializers are those the output has).
"""

import mmap
import os
import statistics
import subprocess
import sys
import time


def run(command, rss_file=None):
    """(seconds, bytes read from storage, peak RSS in bytes) of one run.
    The peak RSS is /usr/bin/time's when `rss_file` is given (wait4's
    ru_maxrss would include this script's own, kept across the exec), else
    0."""
    if rss_file:
        command = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + command
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit("failed: %s" % " ".join(command))
    rss = 0
    if rss_file:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) * 1024
    return seconds, usage.ru_inblock * 512, rss


PAGE = 4096
GRAPH = 7  # ModelProto.graph
INITIALIZER = 5  # GraphProto.initializer
TENSOR_NAME = 8  # TensorProto.name
RAW_DATA = 9  # TensorProto.raw_data


def varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def records(data, begin, end):
    """(field, payload begin, payload end) of each length-delimited record
    in data[begin:end]; other wire types are skipped."""
    at = begin
    while at < end:
        key, at = varint(data, at)
        wire = key & 7
        if wire == 0:
            _, at = varint(data, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            length, at = varint(data, at)
            yield key >> 3, at, at + length
            at += length
        else:
            sys.exit("unexpected wire type %d at byte %d" % (wire, at))


def weights(path):
    """{initializer name: (raw_data begin, raw_data end)} of a model."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    found = {}
    for field, begin, end in records(data, 0, len(data)):
        if field != GRAPH:
            continue
        for graph_field, tensor_begin, tensor_end in records(data, begin, end):
            if graph_field != INITIALIZER:
                continue
            name, raw = None, (tensor_end, tensor_end)
            for tensor_field, b, e in records(data, tensor_begin, tensor_end):
                if tensor_field == TENSOR_NAME:
                    name = data[b:e].decode()
                elif tensor_field == RAW_DATA:
                    raw = (b, e)
            found[name] = raw
    return found, len(data)


def floor_bytes(model, layer):
    """Bytes of the 4 KiB pages of `model` that hold a byte outside every
    raw_data payload, or a byte of the raw_data of an initializer `layer`
    has."""
    all_weights, size = weights(model)
    needed = set(weights(layer)[0])
    pages = set()
    last = 0
    for name, (begin, end) in sorted(all_weights.items(), key=lambda i: i[1]):
        pages.update(range(last // PAGE, (begin - 1) // PAGE + 1))
        if name in needed:
            pages.update(range(begin // PAGE, (end - 1) // PAGE + 1))
        last = end
    pages.update(range(last // PAGE, (size - 1) // PAGE + 1))
    graph = size - sum(e - b for b, e in all_weights.values())
    layer_weights = sum(all_weights[n][1] - all_weights[n][0] for n in needed)
    return len(pages) * PAGE, graph, layer_weights


def drop_from_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def main():
    converter, model, module_path, out_dir, runs = sys.argv[1:6]
    runs = int(runs)
    os.makedirs(out_dir, exist_ok=True)
    copy = os.path.join(out_dir, "copy.onnx")
    layer = os.path.join(out_dir, "layer.onnx")
    commands = {
        "cp": ["cp", model, copy],
        "extract": [converter, "extract", "--model", model, "--module_path",
                    module_path, "--output", layer, "--nofsync"],
    }
    outputs = {"cp": copy, "extract": layer}
    warm(model)
    seconds = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            seconds[name].append(run(command)[0])
            if name == "cp":
                os.remove(outputs[name])
    cold = {}
    for name, command in commands.items():
        drop_from_cache(model)
        cold[name] = run(command, os.path.join(out_dir, "rss.txt"))
    layer_bytes = os.path.getsize(layer)
    print("input: %s, %d bytes" % (model, os.path.getsize(model)))
    print("layer %s: %d bytes written" % (module_path, layer_bytes))
    for name in commands:
        print("%s warm: median %.3f s of %d runs (min %.3f)" %
              (name, statistics.median(seconds[name]), runs, min(seconds[name])))
    print("extract / cp (warm medians): %.3f" %
          (statistics.median(seconds["extract"]) / statistics.median(seconds["cp"])))
    for name in commands:
        print("%s cold: %.3f s, %d bytes read from storage, peak RSS %d bytes" %
              (name, cold[name][0], cold[name][1], cold[name][2]))
    floor, graph, layer_weights = floor_bytes(model, layer)
    print("graph (bytes outside raw_data) %d, layer's weights %d; their pages: "
          "%d bytes; extract read %d bytes (%.3f of that)" %
          (graph, layer_weights, floor, cold["extract"][1],
           cold["extract"][1] / floor))
    os.remove(copy)


if __name__ == "__main__":
    main()
