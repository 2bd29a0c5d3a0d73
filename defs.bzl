"""Bazel rules for using hp from a build: `hp_tagged_model` re-tags an ONNX
model as a build action. Load it as `@hp//:defs.bzl` from another workspace
(docs/bazel-dependency.md) or `//:defs.bzl` inside hp.

The action runs hp's converter as a tool on declared inputs only (the model,
its trace and side files when given), in Bazel's sandbox, and writes the same bytes
for the same inputs: its outputs can be cached and executed remotely.

A model that keeps its weights in side files (ONNX external data) names
them in `external_data`; each becomes an output of the action beside
`<name>.onnx` at the location the model gives it, a copy made by the
converter (`--external_data=declared`), which fails the action, naming the
file, when the model uses one that is not declared.
"""

def _location_in_model_folder(model, side_file):
    """The side file's path relative to the model's folder, as the model's
    tensors name it (their `location`); fails analysis when it is outside."""
    folder = model.path[len(model.root.path):].lstrip("/").rpartition("/")[0]
    path = side_file.path[len(side_file.root.path):].lstrip("/")
    prefix = folder + "/" if folder else ""
    if not path.startswith(prefix) or path == prefix:
        fail(("external_data: %s is not in the folder of the model %s (or " +
              "below it); ONNX external data is always relative to the " +
              "model's folder") % (side_file.short_path, model.short_path))
    return path[len(prefix):]

def _hp_tagged_model_impl(ctx):
    model = ctx.file.model
    output = ctx.actions.declare_file(ctx.label.name + ".onnx")
    inputs = [model]

    args = ctx.actions.args()
    args.add("tag")
    args.add(model, format = "--model=%s")
    args.add(output, format = "--output=%s")
    if ctx.file.trace:
        inputs.append(ctx.file.trace)
        args.add(ctx.file.trace, format = "--trace=%s")
    else:
        # Never the converter's default (a trace beside the model): whether
        # that file exists would depend on the execution strategy.
        args.add("--trace=none")
    args.add(ctx.attr.trace_digest, format = "--trace_digest=%s")
    args.add(ctx.attr.keep_torch_nn, format = "--keep_torch_nn=%s")
    args.add("--propagate=" + ("true" if ctx.attr.propagate else "false"))
    args.add("--first_candidate=" +
             ("true" if ctx.attr.first_candidate else "false"))
    args.add(ctx.attr.tag_format, format = "--tag_format=%s")
    args.add("--namespace=" + ("true" if ctx.attr.namespace else "false"))
    args.add("--overwrite_namespace=" +
             ("true" if ctx.attr.overwrite_namespace else "false"))
    args.add(ctx.attr.root_name, format = "--root_name=%s")

    # Copies, never hard links: a link would share the input's inode with
    # Bazel's read-only output tree. (A symbolic link made by Bazel would
    # lead out of the output's folder to the input, which hp's readers
    # refuse for external data.)
    side_outputs = []
    locations = []
    for side_file in ctx.files.external_data:
        location = _location_in_model_folder(model, side_file)
        if location in locations:
            fail("external_data: %s is listed twice" % side_file.short_path)
        locations.append(location)
        inputs.append(side_file)
        side_outputs.append(ctx.actions.declare_file(location, sibling = output))
    args.add("--external_data=declared")
    args.add_joined(
        locations,
        join_with = ",",
        format_joined = "--declared_external_data=%s",
    )

    outputs = [output] + side_outputs
    if ctx.attr.metadata:
        sidecar = ctx.actions.declare_file(ctx.label.name + ".hp.json")
        args.add(sidecar, format = "--metadata=%s")
        outputs.append(sidecar)

    ctx.actions.run(
        executable = ctx.executable._converter,
        arguments = [args],
        inputs = inputs,
        outputs = outputs,
        mnemonic = "HpTag",
        progress_message = "Tagging %s with hp" % model.short_path,
    )
    return [DefaultInfo(
        files = depset(outputs),
        runfiles = ctx.runfiles(files = outputs),
    )]

hp_tagged_model = rule(
    implementation = _hp_tagged_model_impl,
    doc = """Tags an ONNX model with its PyTorch module hierarchy.

Outputs `<name>.onnx` (and `<name>.hp.json` with `metadata = True`), and
the side files of `external_data` beside it.
Runs `converter tag` of hp (`@hp//hp:converter`); attributes mirror its
flags (`converter --help`).""",
    attrs = {
        "model": attr.label(
            doc = "The ONNX model to tag (.onnx).",
            allow_single_file = [".onnx"],
            mandatory = True,
        ),
        "external_data": attr.label_list(
            doc = "The side files the model keeps tensors in (ONNX " +
                  "external data), in the model's folder or below it. " +
                  "Each is output beside <name>.onnx under the name the " +
                  "model gives it (a copy). A model that uses a side file " +
                  "not listed here fails the action, naming the file; so " +
                  "does a listed file the model does not use.",
            allow_files = True,
        ),
        "trace": attr.label(
            doc = "Scope trace written by hp_record at export time " +
                  "(.trace.json). Without it the hierarchy comes from " +
                  "dynamo metadata or node names (--trace=none); the " +
                  "converter's default of a trace beside the model is " +
                  "not used, since only declared inputs exist in the " +
                  "sandbox.",
            allow_single_file = [".json"],
        ),
        "trace_digest": attr.string(
            doc = "A trace recorded for another model: 'error' or 'warn'.",
            default = "error",
            values = ["error", "warn"],
        ),
        "keep_torch_nn": attr.string(
            doc = "torch.nn modules to keep in tags: 'all', or a " +
                  "comma-separated list of class names (LayerNorm,Embedding).",
            default = "",
        ),
        "propagate": attr.bool(
            doc = "Give nodes without a module scope the tag their " +
                  "consumers (else producers) share instead of the root tag.",
            default = False,
        ),
        "first_candidate": attr.bool(
            doc = "Where a scope segment could name several modules the " +
                  "trace cannot tell apart, take the first with a warning " +
                  "instead of failing.",
            default = False,
        ),
        "tag_format": attr.string(
            doc = "Where tags go: 'metadata' (NodeProto.metadata_props), " +
                  "'attribute' (rejected by onnx.checker and onnxruntime) " +
                  "or 'doc_string'.",
            default = "metadata",
            values = ["metadata", "attribute", "doc_string"],
        ),
        "namespace": attr.bool(
            doc = "metadata format: also write Model Explorer's 'namespace'.",
            default = True,
        ),
        "overwrite_namespace": attr.bool(
            doc = "Replace a 'namespace' a node already has.",
            default = False,
        ),
        "root_name": attr.string(
            doc = "Root class for models tagged without a trace or dynamo " +
                  "metadata.",
            default = "Model",
        ),
        "metadata": attr.bool(
            doc = "Also output `<name>.hp.json`, the converter's sidecar " +
                  "JSON (--metadata).",
            default = False,
        ),
        "_converter": attr.label(
            # Label() resolves in hp's repository even when a rule of another
            # workspace loads this file as @hp//:defs.bzl.
            default = Label("//hp:converter"),
            executable = True,
            cfg = "exec",
        ),
    },
)
