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
peak RSS comes from the same rusage. Prints one line per figure.
"""

import os
import statistics
import subprocess
import sys
import time


def run(command):
    """(seconds, bytes read from storage, peak RSS in bytes) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit("failed: %s" % " ".join(command))
    return seconds, usage.ru_inblock * 512, usage.ru_maxrss * 1024


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
        cold[name] = run(command)
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
    os.remove(copy)


if __name__ == "__main__":
    main()
