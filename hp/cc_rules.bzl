"""hp's C++ rules: rules_cc's cc_library and cc_binary with hp's compiler
options added. hp's BUILD files load them from here, so that every target
of the library and the converter is compiled alike.

Bazel's optimized build (-c opt) compiles at -O2; hp's own code is compiled
at -O3 there (a later -O wins). On the 1,000,000-node benchmark graph that
took 3-10% off every command's time (more inlining of the record readers'
and writers' small functions; docs/benchmarks.md). The other modes keep
their flags: fastbuild for the tests' edit-compile cycle, and the sanitizer
and fuzz configurations (.bazelrc) their -O1.
"""

load("@rules_cc//cc:defs.bzl", _cc_binary = "cc_binary", _cc_library = "cc_library")

# The optimized build's options, also in Bazel's exec configuration (the
# hp_tagged_model rule's converter), which is optimized.
HP_COPTS = select({
    # A string: Bazel 4 takes no Label as a key. Made from one, it names hp's
    # setting also where hp is another workspace's dependency.
    str(Label("//hp:optimized")): ["-O3"],
    "//conditions:default": [],
})

def cc_library(name, copts = [], **kwargs):
    _cc_library(name = name, copts = HP_COPTS + copts, **kwargs)

def cc_binary(name, copts = [], **kwargs):
    _cc_binary(name = name, copts = HP_COPTS + copts, **kwargs)
