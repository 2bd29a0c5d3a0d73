"""hp_record: export a PyTorch model to ONNX and record its module scope trace.

The trace (format "hp-scope-trace", described in docs/scope-trace.md and
proto/scope_trace.schema.json) lists every module of the model with its class
and how it ran during the export. hp reads it to put class names on the module
scopes that torch.onnx writes into node names.

Hooks follow ADR-001: the root module is not hooked; the tag stack starts with
"/<RootClass>" and every submodule pushes on its forward pre-hook and pops on
its forward hook.

    import hp_record
    trace = hp_record.export(model, (input_ids,), "out/bert.onnx", opset_version=17)
    # writes out/bert.onnx and out/bert.trace.json
"""

import hashlib
import json
import mmap
import os
import re
import tempfile

import torch

FORMAT = "hp-scope-trace"
FORMAT_VERSION = 1
PRODUCER = "hp_record"

_INDEX = re.compile(r"[0-9]+")


def default_trace_path(onnx_path):
    """`x/bert.onnx` -> `x/bert.trace.json`: the trace sits beside the model."""
    stem, _ = os.path.splitext(os.fspath(onnx_path))
    return stem + ".trace.json"


def qualified_class(module):
    """`module.Class` of a module, as torch.typename writes it."""
    cls = type(module)
    return cls.__module__ + "." + cls.__qualname__


def export(model, args, onnx_path, trace_path=None, **export_kwargs):
    """Runs torch.onnx.export(model, args, onnx_path, **export_kwargs) with
    scope hooks attached, writes the trace JSON (default: default_trace_path)
    and returns the trace as a dict. Nothing is written when the export fails."""
    onnx_path = os.fspath(onnx_path)  # a path, not a file object: we hash the file
    if trace_path is None:
        trace_path = default_trace_path(onnx_path)

    recorder = _ScopeRecorder(model)
    recorder.attach()
    try:
        torch.onnx.export(model, args, onnx_path, **export_kwargs)
    finally:
        recorder.detach()  # leave the user's model as we found it, also on error

    trace = _build_trace(model, recorder, onnx_path, export_kwargs)
    _write_json_atomically(trace_path, trace)
    return trace


class _ScopeRecorder:
    """Tag stack plus per-module call statistics, fed by forward hooks."""

    def __init__(self, model):
        self.model = model
        self.root_tag = "/" + type(model).__name__
        self.stack = [self.root_tag]  # seeded with the root: never empty
        self.calls = 0  # global pre-hook counter, gives first_call_order
        self.call_count = {}  # path -> number of pre-hook calls
        self.first_call = {}  # path -> (first_call_order, tag)
        # Every call in pre-hook order: its module path and the index of the
        # call it ran inside (None: the root's own forward).
        self.call_log = []
        self.open_calls = []  # indices into call_log, parallel to stack[1:]
        self._handles = []

    def attach(self):
        for path, module in self.model.named_modules():
            if not path:
                continue  # ADR-001: the root is not hooked
            self._handles.append(module.register_forward_pre_hook(
                lambda m, inputs, path=path: self._pre_hook(path, m)))
            self._handles.append(module.register_forward_hook(
                lambda m, inputs, output: self._post_hook()))

    def detach(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _pre_hook(self, path, module):
        self.calls += 1
        self.call_count[path] = self.call_count.get(path, 0) + 1
        tag = self.stack[-1] + "/" + type(module).__name__
        last_atom = path.rpartition(".")[2]
        if _INDEX.fullmatch(last_atom):  # list element: BertLayer.0
            tag += "." + last_atom
        self.stack.append(tag)
        self.first_call.setdefault(path, (self.calls, tag))
        caller = self.open_calls[-1] if self.open_calls else None
        self.open_calls.append(len(self.call_log))
        self.call_log.append({"path": path, "parent": caller})

    def _post_hook(self):
        # The root entry is never popped: only the root is unhooked, so a
        # balanced pre/post sequence always leaves it in place.
        assert len(self.stack) > 1, "scope stack underflow: post-hook would pop the root"
        self.stack.pop()
        self.open_calls.pop()


def _build_trace(model, recorder, onnx_path, export_kwargs):
    modules = []
    for path, module in model.named_modules():
        if not path:
            # The root is not hooked (ADR-001); by convention it ran once,
            # before any submodule, with the seed tag.
            count, order, tag = 1, 0, recorder.root_tag
        else:
            count = recorder.call_count.get(path, 0)
            order, tag = recorder.first_call.get(path, (None, None))
        qualified = qualified_class(module)
        modules.append({
            "path": path,
            "class": type(module).__name__,
            "qualified_class": qualified,
            "is_torch_nn": qualified.startswith("torch.nn."),
            "executed": count > 0,
            "call_count": count,
            "first_call_order": order,
            "tag": tag,
        })
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "producer": {"name": PRODUCER, "torch_version": str(torch.__version__)},
        "model": {
            "onnx_file": os.path.basename(onnx_path),
            "onnx_sha256": _sha256_of_file(onnx_path),
            "onnx_structure_sha256": structure_sha256(onnx_path),
            "opset": _opset(export_kwargs),
        },
        "root": {"class": type(model).__name__, "qualified_class": qualified_class(model)},
        "modules": modules,
        "calls": recorder.call_log,
    }


def _opset(export_kwargs):
    opset = export_kwargs.get("opset_version")
    if opset is None:  # what torch.onnx.export falls back to
        from torch.onnx import _constants
        opset = _constants.ONNX_DEFAULT_OPSET
    return int(opset)


def _sha256_of_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Protobuf wire format (https://protobuf.dev/programming-guides/encoding/).
_VARINT, _FIXED64, _LENGTH_DELIMITED, _GROUP_START, _GROUP_END, _FIXED32 = range(6)
_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_WEIGHTS = (5, 15)  # GraphProto.initializer, GraphProto.sparse_initializer


def structure_sha256(path):
    """Lowercase hex SHA-256 of an .onnx file without its weights: the file's
    bytes with every initializer and sparse_initializer record of the main
    graph cut out (the graph's own length prefix stays as in the file).
    Exporting the same graph with other weights gives the same digest.

    The file is mapped, not read: weight payloads are skipped, never hashed.
    Raises ValueError naming the file when its bytes are not a protobuf
    message (a truncated file, random bytes)."""
    path = os.fspath(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return digest.hexdigest()  # no records; mmap cannot map an empty file
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data, memoryview(data) as view:
            for start, end in _coalesced(_structure_spans(data, path)):
                digest.update(view[start:end])
    return digest.hexdigest()


def _structure_spans(data, path):
    """(start, end) of the byte spans that structure_sha256 hashes, in file order."""
    for field, wire_type, start, payload, end in _records(data, 0, len(data), path):
        if (field, wire_type) != (_MODEL_GRAPH, _LENGTH_DELIMITED):
            yield start, end
            continue
        yield start, payload  # the graph's tag and length
        for inner, inner_type, inner_start, _, inner_end in _records(data, payload, end, path):
            if inner_type != _LENGTH_DELIMITED or inner not in _GRAPH_WEIGHTS:
                yield inner_start, inner_end


def _coalesced(spans):
    """Joins spans that touch, so that runs of kept records hash in one update."""
    pending = None
    for start, end in spans:
        if pending and pending[1] == start:
            pending = (pending[0], end)
            continue
        if pending:
            yield pending
        pending = (start, end)
    if pending:
        yield pending


def _records(data, pos, end, path):
    """Yields (field number, wire type, record start, value start, record end)
    for each protobuf record laid end to end in data[pos:end]; the value of a
    length-delimited record starts after its length."""
    while pos < end:
        start = pos
        tag, pos = _varint(data, pos, end, path)
        field, wire_type = tag >> 3, tag & 7
        if field == 0 or tag > 0xFFFFFFFF:  # protobuf tags are 32-bit
            raise _not_onnx(path, start, "field number %d" % field)
        if wire_type == _VARINT:
            value = pos
            _, pos = _varint(data, pos, end, path)
        elif wire_type == _LENGTH_DELIMITED:
            length, value = _varint(data, pos, end, path)
            pos = value + length
        elif wire_type in (_FIXED64, _FIXED32):
            value = pos
            pos += 8 if wire_type == _FIXED64 else 4
        elif wire_type in (_GROUP_START, _GROUP_END):
            raise _not_onnx(path, start, "field %d is a group (wire type %d), which ONNX never writes"
                            % (field, wire_type))
        else:
            raise _not_onnx(path, start, "field %d has wire type %d, which protobuf does not have"
                            % (field, wire_type))
        if pos > end:
            raise _not_onnx(path, start, "field %d needs %d bytes, %d are left"
                            % (field, pos - start, end - start))
        yield field, wire_type, start, value, pos


def _varint(data, pos, end, path):
    """(value, position after it) of the varint at data[pos]."""
    start, value, shift = pos, 0, 0
    while pos < end:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise _not_onnx(path, start, "varint longer than 10 bytes")
    raise _not_onnx(path, start, "varint cut off by the end of its message")


def _not_onnx(path, offset, what):
    return ValueError("%s: not an ONNX model: byte %d: %s" % (path, offset, what))


def dumps(trace):
    """Canonical JSON text, as traces are written: sorted keys, indent 2,
    trailing newline (stable bytes for identical content)."""
    return json.dumps(trace, indent=2, sort_keys=True) + "\n"


def _write_json_atomically(path, obj):
    # Write a temp file in the target folder, then rename over the target:
    # a reader never sees a half-written trace.
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(dumps(obj))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a trace is not secret
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
