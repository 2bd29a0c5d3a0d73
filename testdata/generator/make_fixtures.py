#!/usr/bin/python3
"""Writes hp's fixture models into testdata/models (or --out DIR).

    /usr/bin/python3 testdata/generator/make_fixtures.py [--out DIR]

For each fixture NAME it writes NAME.onnx, NAME.trace.json (hp_record's scope
trace) and NAME.expected.json (the module and tag hp should give every node).
Output is byte-identical from run to run: seeded weights, fixed inputs, fixed
export options (opset 17, constant folding on), canonical JSON.

The expected module of each node does NOT come from parsing ONNX node names
(that is what hp does, so it would check nothing). The generator exports every
model a second time with each torch scope set to the module's full dotted path
(torch itself writes only the last path atoms), keeps that export's final
TorchScript graph, and pairs its nodes 1:1 with the fixture's ONNX nodes,
failing loudly if count or op types differ (subgraphs of If/Loop included).
That hooks into two torch 1.13 internals of torch.onnx.utils,
_setup_trace_module_map and _model_to_graph. The tag then follows from the
module path by module_tags(), the reference implementation of
docs/tag-rules.md.

dynamo_style and unscoped are crafted: one export of a tiny MLP, renamed
(and, for dynamo_style, given NodeProto.metadata_props), with the expected
modules of the original export.
"""

import argparse
import collections
import contextlib
import copy
import hashlib
import io
import os
import re
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "recorder"))
sys.path.insert(0, HERE)

import onnx  # noqa: E402
import torch  # noqa: E402
import torch.onnx.utils as onnx_utils  # noqa: E402

import fixture_models as fm  # noqa: E402
import hp_record  # noqa: E402

OPSET = 17
EXPORT_KWARGS = {"opset_version": OPSET, "do_constant_folding": True}
SEED = 20240601
NOISE = 0.02  # weight perturbation: keeps equal initializers (LayerNorm ones) apart

# ONNX graph attributes that hold a TorchScript node's blocks, in block order.
BLOCK_ATTRIBUTES = {"If": ("then_branch", "else_branch"), "Loop": ("body",)}

_INDEX = re.compile(r"[0-9]+")


class FixtureError(Exception):
    pass


# --- the tag rule (docs/tag-rules.md), default options --------------------------

def module_tags(model):
    """Maps every module path of `model` (root "") to its tag.

    Kept modules are the root and every module whose class is not a torch.nn
    class (rule 2); a module that is not kept has the tag of its nearest kept
    ancestor. A kept module's tag is its kept parent's tag + "/" + component,
    the component being Class or Class.N (rule 3), or Class[relative.path] when
    it equals a kept sibling's component (rule 5)."""
    modules = dict(model.named_modules())

    def kept(path):
        return path == "" or not hp_record.qualified_class(modules[path]).startswith("torch.nn.")

    def kept_parent(path):
        while path:
            path = path.rpartition(".")[0]
            if kept(path):
                return path
        raise FixtureError("the root has no parent")

    def component(path):
        name = type(modules[path]).__name__
        last_atom = path.rpartition(".")[2]
        return name + "." + last_atom if _INDEX.fullmatch(last_atom) else name

    siblings = collections.Counter(
        (kept_parent(p), component(p)) for p in modules if p and kept(p))
    tags = {"": "/" + type(model).__name__}
    for path in modules:  # named_modules() lists parents before children
        if not path:
            continue
        parent = kept_parent(path)
        if not kept(path):
            tags[path] = tags[parent]
            continue
        part = component(path)
        if siblings[(parent, part)] > 1:
            relative = path[len(parent) + 1:] if parent else path
            part = "%s[%s]" % (type(modules[path]).__name__, relative)
        tags[path] = tags[parent] + "/" + part
    return tags


# --- torch's own record of which module ran each node ----------------------------

@contextlib.contextmanager
def _full_path_scopes(graphs):
    """For exports inside this block: scope names carry each module's full
    dotted path (`pkg.Enc::encoder/pkg.Layer::encoder.layer.0`, where torch
    writes `layer.0`), and the final TorchScript graph is appended to `graphs`."""
    setup, to_graph = onnx_utils._setup_trace_module_map, onnx_utils._model_to_graph

    def full_path_setup(model, *args, **kwargs):
        result = setup(model, *args, **kwargs)
        torch.jit._trace._trace_module_map = {
            module: torch._C._jit_onnx_create_full_scope_name(torch.typename(type(module)), path)
            for path, module in model.named_modules()}
        return result

    def keep_graph(*args, **kwargs):
        graph, params, out = to_graph(*args, **kwargs)
        graphs.append(graph)  # later export passes edit this same graph in place
        return graph, params, out

    onnx_utils._setup_trace_module_map, onnx_utils._model_to_graph = full_path_setup, keep_graph
    try:
        yield
    finally:
        onnx_utils._setup_trace_module_map, onnx_utils._model_to_graph = setup, to_graph


def reference_graph(model, args, export_kwargs):
    """The final TorchScript graph of an export with full-path scopes."""
    graphs = []
    with _full_path_scopes(graphs):
        torch.onnx.export(model, args, io.BytesIO(), **export_kwargs)
    return graphs[-1]


def scope_chain(scope_name, modules, where):
    """[(path, qualified class)] of the modules on the call stack of a node,
    outermost (the root) first; [] for a node without scope."""
    chain = []
    for part in filter(None, scope_name.split("/")):
        qualified, _, path = part.partition("::")
        if path not in modules or torch.typename(type(modules[path])) != qualified:
            raise FixtureError("%s: scope %r names no module of the model" % (where, part))
        chain.append((path, qualified))
    return chain


def paired_nodes(torch_block, graph, graph_path, fixture):
    """Yields (graph_path, onnx node, torch node) for the nodes of an ONNX graph
    and the TorchScript block it was exported from, subgraphs right after their
    node; raises FixtureError unless they pair 1:1 with matching op types."""
    torch_nodes = list(torch_block.nodes())
    where = "%s: %s" % (fixture, graph_path)
    if len(torch_nodes) != len(graph.node):
        raise FixtureError("%s: torch graph has %d nodes, ONNX graph %d"
                           % (where, len(torch_nodes), len(graph.node)))
    for index, (torch_node, node) in enumerate(zip(torch_nodes, graph.node)):
        domain = node.domain or "onnx"
        if torch_node.kind() != domain + "::" + node.op_type:
            raise FixtureError("%s: node %d (%s, %s) pairs with torch node %s"
                               % (where, index, node.name, node.op_type, torch_node.kind()))
        yield graph_path, node, torch_node
        blocks = list(torch_node.blocks())
        attributes = {a.name: a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH}
        names = BLOCK_ATTRIBUTES.get(node.op_type, ())
        if len(blocks) != len(names) or sorted(attributes) != sorted(names):
            raise FixtureError("%s: node %d (%s, %s): %d torch blocks, graph attributes %s"
                               % (where, index, node.name, node.op_type, len(blocks), sorted(attributes)))
        for block, name in zip(blocks, names):
            yield from paired_nodes(block, attributes[name],
                                    "%s/%s/%s" % (graph_path, node.name, name), fixture)


def node_records(fixture, fixture_model, onnx_model):
    """[(graph path, onnx node, scope chain)] for every node, subgraphs included."""
    model = fixture_model.model
    modules = dict(model.named_modules())
    graph = reference_graph(model, fixture_model.args, fixture_model.export_kwargs)
    return [(graph_path, node, scope_chain(torch_node.scopeName(), modules,
                                           "%s: node %s" % (fixture, node.name)))
            for graph_path, node, torch_node in paired_nodes(graph, onnx_model.graph, "main", fixture)]


def expected_json(fixture, model, records, trace):
    """NAME.expected.json: each node's module (innermost on its call stack) and tag."""
    tags = module_tags(model)
    executed = {m["path"] for m in trace["modules"] if m["executed"]}
    nodes = []
    for graph_path, node, chain in records:
        path = chain[-1][0] if chain else ""
        if path not in executed:  # cross-check against the recorder's hooks
            raise FixtureError("%s: node %s: module %r did not run per the trace"
                               % (fixture, node.name, path))
        nodes.append({"graph": graph_path, "name": node.name, "op_type": node.op_type,
                      "module_path": path, "tag": tags[path]})
    return {"fixture": fixture, "root_tag": tags[""], "nodes": nodes, "module_tags": tags}


# --- fixtures ----------------------------------------------------------------

Built = collections.namedtuple("Built", "model args export_kwargs")


def built(model, args, input_names, output_names):
    kwargs = dict(EXPORT_KWARGS, input_names=input_names, output_names=output_names)
    return Built(model, args, kwargs)


def seeded(build):
    """Builds a model in eval mode with seeded weights, each slightly perturbed
    (tied parameters stay tied: parameters() lists a shared tensor once)."""
    torch.manual_seed(SEED)
    model = build().eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape) * NOISE)
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.add_(torch.randn(buf.shape) * NOISE)
            elif name.endswith("running_var"):
                buf.add_(torch.rand(buf.shape) * NOISE)
    return model


def tiny_bert():
    model = seeded(fm.TinyBertModel)
    input_ids = torch.randint(0, 50, (2, 8), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 8, dtype=torch.int64)
    mask[1, 6:] = 0
    return built(model, (input_ids, mask), ["input_ids", "attention_mask"],
                 ["last_hidden_state", "pooler_output"])


def tiny_resnet():
    model = seeded(fm.TinyResNet)
    image = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    return built(model, (image,), ["image"], ["logits"])


def tiny_gpt():
    model = seeded(fm.TinyGPTModel)
    assert model.lm_head.weight is model.wte.weight
    input_ids = torch.randint(0, 50, (1, 8), generator=torch.Generator().manual_seed(3))
    return built(model, (input_ids,), ["input_ids"], ["logits"])


def tiny_t5():
    model = seeded(fm.TinyT5Model)
    gen = torch.Generator().manual_seed(4)
    input_ids = torch.randint(0, 50, (1, 8), generator=gen)
    decoder_input_ids = torch.randint(0, 50, (1, 6), generator=gen)
    return built(model, (input_ids, decoder_input_ids), ["input_ids", "decoder_input_ids"],
                 ["logits"])


def control_flow():
    model = seeded(fm.ControlFlowModel)
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(0, 50, (7,), generator=gen)
    offsets = torch.tensor([0, 3])
    x = torch.randn(3, 16, generator=gen)
    return built(model, (ids, offsets, x), ["ids", "offsets", "x"], ["out"])


def tiny_mlp():
    model = seeded(fm.TinyMLP)
    x = torch.randn(2, 16, generator=torch.Generator().manual_seed(6))
    return built(model, (x,), ["x"], ["logits"])


def containers():
    model = seeded(fm.ContainersModel)
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(7))
    return built(model, (x,), ["x"], ["y"])


def recalls():
    model = seeded(fm.RecallsModel)
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(8))
    return built(model, (x,), ["x"], ["y"])


REAL_FIXTURES = [
    ("tiny_bert", tiny_bert),
    ("tiny_resnet", tiny_resnet),
    ("tiny_gpt", tiny_gpt),
    ("tiny_t5", tiny_t5),
    ("control_flow", control_flow),
    ("containers", containers),
    ("recalls", recalls),
]


def make_real(name, build, out):
    fixture = build()
    onnx_path = os.path.join(out, name + ".onnx")
    trace = hp_record.export(fixture.model, fixture.args, onnx_path, **fixture.export_kwargs)
    onnx_model = onnx.load(onnx_path)
    records = node_records(name, fixture, onnx_model)
    return expected_json(name, fixture.model, records, trace), onnx_model


# --- crafted fixtures: renamed copies of a tiny MLP export ----------------------

def _metadata_entry(key, value):
    """Wire bytes of one NodeProto.metadata_props entry (field 9, a
    StringStringEntryProto {key = 1, value = 2}); onnx 1.12 lacks the field,
    python protobuf keeps it as an unknown field."""
    def field(tag, data):
        return bytes([tag]) + _varint(len(data)) + data
    entry = field(0x0A, key.encode()) + field(0x12, value.encode())
    return field(0x4A, entry)


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# FX node name and op target that the dynamo exporter would show per op type.
_FX_OPS = {"Gemm": ("linear", "aten.linear.default"), "Relu": ("relu", "aten.relu.default"),
           "Add": ("add", "aten.add.Tensor"), "Mul": ("mul", "aten.mul.Tensor")}


def _rename(onnx_model, node_name, value_name):
    """Renames every node and every intermediate value (their torch names carry
    scopes); graph inputs, outputs and initializers keep their names."""
    graph = onnx_model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {
        t.name for t in graph.initializer}
    renamed = {}
    for index, node in enumerate(graph.node):
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise FixtureError("crafted fixtures must not have subgraphs")
        node.name = node_name(index, node)
        for i, out in enumerate(node.output):
            if out not in keep:
                renamed[out] = value_name(len(renamed), node)
                node.output[i] = renamed[out]
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
    for info in graph.value_info:
        info.name = renamed.get(info.name, info.name)


def dynamo_style(onnx_model, records):
    """node_<Op>_<i> names; the hierarchy only in metadata_props, as the torch
    2.x dynamo exporter writes it (see shared docs/onnx-and-torch-facts.md).
    Constant nodes get no metadata (like constants an optimizer adds), so hp
    also meets dynamo-style nodes without hierarchy; here they sit in the root's
    forward, whose tag they expect either way."""
    _rename(onnx_model, lambda i, n: "node_%s_%d" % (n.op_type, i), lambda k, n: "val_%d" % k)
    fx_names = collections.Counter()
    nodes = []
    for node, (_, _, chain) in zip(onnx_model.graph.node, records):
        extra = b""
        if node.op_type == "Constant" and len(chain) > 1:
            raise FixtureError("dynamo_style: a Constant outside the root's forward")
        if chain and node.op_type != "Constant":
            base, target = _FX_OPS.get(node.op_type, (node.op_type.lower(), "aten.%s.default" % node.op_type.lower()))
            fx_name = base if not fx_names[base] else "%s_%d" % (base, fx_names[base])
            fx_names[base] += 1
            scopes = [path for path, _ in chain] + [fx_name]
            classes = [qualified for _, qualified in chain] + [target]
            extra = (_metadata_entry("pkg.torch.onnx.name_scopes", repr(scopes))
                     + _metadata_entry("pkg.torch.onnx.class_hierarchy", repr(classes)))
        with_metadata = onnx.NodeProto()
        with_metadata.ParseFromString(node.SerializeToString() + extra)
        nodes.append(with_metadata)
    del onnx_model.graph.node[:]
    onnx_model.graph.node.extend(nodes)
    data = onnx_model.SerializeToString()
    if data.count(b"pkg.torch.onnx.name_scopes") != sum(1 for n in nodes if n.op_type != "Constant"):
        raise FixtureError("dynamo_style: metadata_props did not survive serialization")
    return data


def unscoped(onnx_model):
    """Pre-1.13 names: op type + "_" + node index, plain numbered values."""
    _rename(onnx_model, lambda i, n: "%s_%d" % (n.op_type, i), lambda k, n: str(k))
    return onnx_model.SerializeToString()


def make_crafted(out):
    """dynamo_style and unscoped, both from one export of TinyMLP."""
    fixture = tiny_mlp()
    model = fixture.model
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        base_path = os.path.join(tmp, "tiny_mlp.onnx")
        base_trace = hp_record.export(model, fixture.args, base_path, **fixture.export_kwargs)
        base = onnx.load(base_path)
    records = node_records("tiny_mlp", fixture, base)
    for name in ("dynamo_style", "unscoped"):
        crafted = copy.deepcopy(base)
        if name == "dynamo_style":
            data = dynamo_style(crafted, records)
            expected = expected_json(name, model, records, base_trace)
        else:
            data = unscoped(crafted)
            # The names carry no scope: hp can place nothing, every node gets
            # the root tag (rule 6).
            no_scope = [(path, node, []) for path, node, _ in records]
            expected = expected_json(name, model, no_scope, base_trace)
        for entry, node in zip(expected["nodes"], crafted.graph.node):
            entry["name"] = node.name
        onnx_path = os.path.join(out, name + ".onnx")
        with open(onnx_path, "wb") as f:
            f.write(data)
        trace = copy.deepcopy(base_trace)
        trace["model"]["onnx_file"] = name + ".onnx"
        trace["model"]["onnx_sha256"] = hashlib.sha256(data).hexdigest()
        trace["model"]["onnx_structure_sha256"] = hp_record.structure_sha256(onnx_path)
        write_text(os.path.join(out, name + ".trace.json"), hp_record.dumps(trace))
        results[name] = (expected, onnx.load_from_string(data))
    return results


# --- output ------------------------------------------------------------------

DESCRIPTIONS = {
    "tiny_bert": "BERT-like encoder: nn.ModuleList layers (layer.N), attention.self/output, "
                 "mask arithmetic in the root's forward (`/Cast`, `/Sub`, ...: root tag).",
    "tiny_resnet": "ResNet-like CNN: nn.Sequential stages (`/layer1/layer1.0/conv1/Conv`), "
                   "downsample Sequential, BasicBlock[layer1.0] vs BasicBlock[layer2.0] collisions (rule 5), "
                   "relu called twice per block (`relu_1`).",
    "tiny_gpt": "GPT-like decoder: RotaryEmbedding called twice per attention (`rotary_1`), "
                "LM head weight tied to the token embedding.",
    "tiny_t5": "T5-like encoder-decoder: encoder and decoder are both T5Stack "
               "(T5Stack[encoder] / T5Stack[decoder], rule 5).",
    "control_flow": "ONNX If and Loop subgraphs: scoped ones (EmbeddingBag Loop, diagonal If) and "
                    "scope-free ones (`If_73`, `Constant_68`) from a torch.jit.script function "
                    "called in the root's forward.",
    "containers": "Modules called through containers that never run, so their scope names "
                  "leave the container out: nn.ModuleDict heads of one class (`/left/...` is "
                  "heads.left), an indexed nn.ModuleList (`/blocks.3/...`), an nn.ModuleList in an "
                  "nn.ModuleDict (`/x.1/...` is towers.x.1), a bare nn.Module namespace whose child has "
                  "its name (`/block/...` is block.block); each called twice (`proj_1`, `block_1`).",
    "recalls": "Re-calls whose scope names collide with real names: `relu` (six nodes, two of "
               "them Relu) runs twice beside a real `relu_1` (both named `/relu_1/...`); "
               "`block` with submodules runs twice "
               "(`/block/fc_1`, `/block_1/Add`); `gate`'s first call leaves no node and takes no "
               "number; Dropout (eval) never leaves a node.",
    "dynamo_style": "TinyMLP renamed to dynamo-style node_<Op>_<i>, values val_<k>; hierarchy only in "
                    "NodeProto.metadata_props (field 9, pkg.torch.onnx.name_scopes/class_hierarchy), "
                    "none on Constant nodes.",
    "unscoped": "TinyMLP renamed to pre-1.13 names (<Op>_<i>): no scopes at all, "
                "every node expects the root tag (hp's no-scope warning).",
}


def readme(counts):
    lines = [
        "# hp test fixtures",
        "",
        "Generated by `testdata/generator/make_fixtures.py` (models in",
        "`testdata/generator/fixture_models.py`) with torch %s, opset %d; do not edit."
        % (torch.__version__, OPSET),
        "Regenerate with:",
        "",
        "    /usr/bin/python3 testdata/generator/make_fixtures.py --out testdata/models",
        "",
        "Each NAME has NAME.onnx, NAME.trace.json (scope trace, docs/scope-trace.md) and",
        "NAME.expected.json (module path and tag of every node, from torch's scopes, not",
        "from node names). Counts: all nodes, those in subgraphs, those with the root tag.",
        "",
    ]
    for name, description in DESCRIPTIONS.items():
        lines.append("- `%s` (%d nodes, %d in subgraphs, %d root-tagged): %s"
                     % ((name,) + counts[name] + (description,)))
    return "\n".join(lines) + "\n"


def write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "models"),
                        help="output folder (default: testdata/models)")
    out = parser.parse_args(argv).out
    os.makedirs(out, exist_ok=True)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")

    results = {name: make_real(name, build, out) for name, build in REAL_FIXTURES}
    results.update(make_crafted(out))
    counts = {}
    for name, (expected, onnx_model) in results.items():
        onnx.checker.check_model(onnx_model, full_check=True)
        write_text(os.path.join(out, name + ".expected.json"), hp_record.dumps(expected))
        nodes = expected["nodes"]
        counts[name] = (len(nodes), sum(1 for n in nodes if n["graph"] != "main"),
                        sum(1 for n in nodes if n["tag"] == expected["root_tag"]))
        print("%-13s %4d nodes, %3d in subgraphs, %3d root-tagged" % ((name,) + counts[name]))
    write_text(os.path.join(out, "README.md"), readme(counts))


if __name__ == "__main__":
    main()
