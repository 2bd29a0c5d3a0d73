"""Stand-in for rules_cc: Debian's rules_cc 0.0.4 needs a newer Bazel than
4.2.3, so this re-exports the native C++ rules under the usual names."""

cc_library = native.cc_library
cc_binary = native.cc_binary
cc_test = native.cc_test
cc_import = native.cc_import
cc_proto_library = native.cc_proto_library
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
objc_library = native.objc_library
objc_import = native.objc_import
