"""One fuzz target's two builds: a replay test and a libFuzzer binary."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def hp_fuzz_target(name, deps):
    """Declares `<name>_replay` (cc_test) and `<name>` (libFuzzer, manual).

    The target's source is `<name>.cc`, its seed corpus `corpus/<name>/`,
    its reproducers of fixed findings `regressions/<name>/`.

    <name>_replay: the target linked into replay_main.cc, run by
    `bazel test //...` (and under --config=asan) over every file of the
    corpus and of the regressions.
    <name>: the same source linked with libFuzzer; only fuzz/build.sh builds
    it (clang, --config=fuzz), so it is tagged manual and `//...` skips it.
    """
    cc_test(
        name = name + "_replay",
        size = "small",
        srcs = [name + ".cc", "replay_main.cc"],
        args = [
            "fuzz/corpus/" + name,
            "fuzz/regressions/" + name,
        ],
        data = native.glob([
            "corpus/" + name + "/**",
            "regressions/" + name + "/**",
        ]),
        deps = deps,
    )
    cc_binary(
        name = name,
        srcs = [name + ".cc"],
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = deps,
    )
