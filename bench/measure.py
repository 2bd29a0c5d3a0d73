#!/usr/bin/python3
"""Runs one command and writes "WALL_S PEAK_RSS_KB PEAK_ANON_KB" to a file.

    bench/measure.py [--time_only] OUT_FILE COMMAND [ARG...]

Peak RSS is /usr/bin/time's (%M: every resident page, the mapped input's
file-backed pages included). Peak anonymous memory (the process's own heap
and stacks, without file pages) is the largest RssAnon of
/proc/<pid>/status, read every millisecond while the command runs: a
sample, so a spike shorter than that can be missed. The sampling takes
part of a core, which a command using every core pays for in wall time
(hp's `tag` on two cores: about 7%) and a single-threaded one does not:
with --time_only nothing is sampled and PEAK_ANON_KB is written as 0.
The command's stdout is dropped, its stderr passed through; the exit
status is the command's.
"""

import os
import subprocess
import sys
import tempfile
import time


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def anon_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    args = sys.argv[1:]
    time_only = args[:1] == ["--time_only"]
    if time_only:
        args = args[1:]
    out_file, command = args[0], args[1:]
    with tempfile.NamedTemporaryFile("r", suffix=".time") as rss_file:
        start = time.perf_counter()
        timer = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + command,
            stdout=subprocess.DEVNULL)
        child, peak_anon = None, 0
        if time_only:
            timer.wait()
        while timer.poll() is None:
            if child is None:
                found = children(timer.pid)
                child = found[0] if found else None
            if child is not None:
                peak_anon = max(peak_anon, anon_kb(child))
            time.sleep(0.001)
        wall = time.perf_counter() - start
        text = rss_file.read().split()
    if timer.returncode != 0:
        return timer.returncode
    with open(out_file, "w") as f:
        f.write("%.3f %s %d\n" % (wall, text[-1], peak_anon))
    return 0


if __name__ == "__main__":
    sys.exit(main())
