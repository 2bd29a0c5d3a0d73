"""End-to-end checks of `converter transfer` on real transformed models.

Every fixture of testdata/models is tagged, then transformed by real tools
that drop node metadata:

- onnxruntime-node 1.30 (tests/integration/ort_optimize.js) optimizes the
  tagged model at graph optimization levels basic, extended and all and
  saves the result (fusions into com.microsoft ops, inserted reshapes,
  NCHWc layout nodes at `all`);
- python-onnx's version converter (Debian's onnx 1.12) converts it to its own
  opset 17 and to the lowest other opset it can.

`transfer` then puts the tags back. The tests check every node's tag against
what is computed here independently from tensor names and the original
graph, that the output computes what the transformed model computes in
onnxruntime, and that nothing else of the transformed model changed (strip
gives back its bytes). The counts per kind are printed to stderr.

Run from the repository root with Debian's python (tests/integration/run.sh).
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

import onnx
import onnx.version_converter

from test_tagged_models import (CONVERTER, FIXTURES, MODELS, NODE, TAG_KEY, node_metadata,
                                ort_run, read_bytes, require_consumer, run_converter, tag,
                                walk_nodes, write_spec, random_inputs)

import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORT_OPTIMIZE = os.path.join(REPO, "tests", "integration", "ort_optimize.js")
LEVELS = ("basic", "extended", "all")
KINDS = ("kept", "replacing", "inserted", "unplaced")
EXTERNAL_DATA = os.path.join(REPO, "testdata", "external_data")


def optimize(model, level, output):
    result = subprocess.run([NODE, ORT_OPTIMIZE, model, level, output],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError("ort_optimize.js %s %s failed:\n%s" % (model, level, result.stderr))


def transfer(source, model, output, *flags):
    return run_converter("transfer", "--from", source, "--model", model, "--output", output,
                         *flags)


def transfer_json(source, model, output):
    result = transfer(source, model, output, "--json")
    if result.returncode != 0:
        raise AssertionError("converter transfer --from %s --model %s failed (exit %d):\n%s"
                             % (source, model, result.returncode, result.stderr))
    return json.loads(result.stdout)


def common_module(tags):
    """Longest common prefix of tags by whole '/' segments."""
    parts = [t.split("/") for t in tags]
    common = []
    for segments in zip(*parts):
        if any(s != segments[0] for s in segments):
            break
        common.append(segments[0])
    return "/".join(common)


def node_key(node):
    domain = "" if node.domain in ("", "ai.onnx") else node.domain
    return (node.op_type, domain, tuple(node.input), tuple(node.output))


def tags_by_node(model):
    """[(graph path, node, tag)] of a tagged model."""
    return [(path, node, dict(node_metadata(node)).get(TAG_KEY))
            for path, node in walk_nodes(model.graph)]


def ort_inputs(original, transformed, seed):
    """Seeded inputs of the original model, for the inputs the transformed
    one still has."""
    names = {i.name for i in transformed.graph.input}
    return [spec for spec in random_inputs(original, seed) if spec[0] in names]


class Fixture:
    """One fixture tagged, optimized at every level, and transferred."""

    def __init__(self, name, tmp):
        self.name = name
        self.original = os.path.join(MODELS, name + ".onnx")
        self.tagged = os.path.join(tmp, name + ".tagged.onnx")
        tag(self.original, self.tagged)
        self.tagged_model = onnx.load(self.tagged)
        self.levels = {}
        for level in LEVELS:
            optimized = os.path.join(tmp, "%s.%s.onnx" % (name, level))
            optimize(self.tagged, level, optimized)
            output = os.path.join(tmp, "%s.%s.tagged.onnx" % (name, level))
            self.levels[level] = (optimized, output, transfer_json(self.tagged, optimized, output))


class OptimizedModelsTest(unittest.TestCase):
    """Every fixture, optimized by onnxruntime at basic, extended and all."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hp_transfer_")
        cls.fixtures = {}
        cls.setup_error = None
        try:
            for name in FIXTURES:
                cls.fixtures[name] = Fixture(name, cls.tmp)
        except AssertionError as error:
            cls.setup_error = str(error)
            return
        lines = ["", "transfer onto onnxruntime-optimized fixtures (nodes: %s):" % ", ".join(KINDS)]
        for name, fixture in cls.fixtures.items():
            for level in LEVELS:
                counts = fixture.levels[level][2]["counts"]
                lines.append("  %-13s %-8s %4d nodes: %s" % (
                    name, level, counts["nodes"], ", ".join(str(counts[k]) for k in KINDS)))
        sys.stderr.write("\n".join(lines) + "\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        if self.setup_error:
            self.fail(self.setup_error)

    def each(self):
        for name, fixture in self.fixtures.items():
            for level in LEVELS:
                optimized, output, result = fixture.levels[level]
                with self.subTest(fixture=name, level=level):
                    yield fixture, level, optimized, output, result

    def test_optimizer_drops_the_tags_of_the_nodes_it_changes(self):
        # The premise: at level all onnxruntime rewrites every fixture and
        # keeps no node metadata on what it wrote (unchanged nodes may keep
        # theirs at lower levels).
        for name, fixture in self.fixtures.items():
            optimized = fixture.levels["all"][0]
            with self.subTest(fixture=name):
                nodes = tags_by_node(onnx.load(optimized))
                fused = [n for _, n, t in nodes if n.domain.startswith("com.microsoft") or
                         "Fusion" in n.name or "_token_" in n.name]
                self.assertEqual([n.name for n in fused if dict(node_metadata(n)).get(TAG_KEY)],
                                 [])

    def test_every_node_gets_a_tag_and_is_counted(self):
        for fixture, level, _, output, result in self.each():
            model = onnx.load(output)
            nodes = tags_by_node(model)
            untagged = ["%s (%s)" % (n.name, n.op_type) for _, n, t in nodes if not t]
            self.assertEqual(untagged, [])
            for _, node, node_tag in nodes:
                self.assertEqual(dict(node_metadata(node)).get("namespace"), node_tag[1:])
            counts = result["counts"]
            self.assertEqual(counts["nodes"], len(nodes))
            self.assertEqual(sum(counts[k] for k in KINDS), counts["nodes"])
            self.assertEqual([n["match"] for n in result["nodes"]].count("kept"), counts["kept"])
            # Data flow places every node of these models.
            self.assertEqual(counts["unplaced"], 0)
            metadata = {e.key: e.value for e in model.metadata_props}
            self.assertEqual(metadata["pkg.hp.source"], "transfer")
            self.assertEqual(json.loads(metadata["pkg.hp.statistics"]), counts)
            self.assertEqual([n["tag"] for n in result["nodes"]], [t for _, _, t in nodes])
            # Each node stores how it was matched, as --json lists it.
            self.assertEqual([dict(node_metadata(n)).get("pkg.hp.match") for _, n, _ in nodes],
                             [n["match"] for n in result["nodes"]])

    def test_kept_nodes_get_exactly_their_original_tag(self):
        for fixture, level, optimized, _, result in self.each():
            original = {node_key(n): t for _, n, t in tags_by_node(fixture.tagged_model)}
            derived = tags_by_node(onnx.load(optimized))
            for (_, node, carried), got in zip(derived, result["nodes"]):
                want = original.get(node_key(node))
                self.assertEqual(got["match"] == "kept", want is not None, got["name"])
                if want is not None:
                    self.assertEqual(got["tag"], want, got["name"])
                # A node onnxruntime left with its tag gets that tag again.
                if carried:
                    self.assertEqual(got["tag"], carried, got["name"])

    def test_replacing_nodes_sit_in_the_deepest_common_module_of_what_they_replaced(self):
        for fixture, level, optimized, _, result in self.each():
            original = tags_by_node(fixture.tagged_model)
            tag_of = {n.name: t for _, n, t in original}
            producer = {o: n.name for _, n, _ in original for o in n.output}
            derived_outputs = {o for _, n in walk_nodes(onnx.load(optimized).graph)
                               for o in n.output}
            kept = {s for n in result["nodes"] if n["match"] == "kept" for s in n["from"]}
            derived = [n for _, n in walk_nodes(onnx.load(optimized).graph)]
            for node, got in zip(derived, result["nodes"]):
                if got["match"] != "replacing":
                    continue
                sources = got["from"]
                self.assertTrue(sources, got["name"])
                # What it replaced is gone: no derived node keeps it, and
                # none of its outputs the node itself does not write is left.
                self.assertFalse(kept & set(sources), got["name"])
                self.assertEqual(got["tag"], common_module([tag_of[s] for s in sources]),
                                 got["name"])
                # It replaced the producers of the original tensors it writes.
                for output in node.output:
                    if output in producer:
                        self.assertIn(producer[output], sources, got["name"])

    def test_fused_nodes_land_in_their_modules(self):
        bert = self.fixtures["tiny_bert"].levels["all"][2]["nodes"]
        by_op = {}
        for node in bert:
            by_op.setdefault(node["op_type"], []).append(node["tag"])
        layer = "/TinyBertModel/BertEncoder/BertLayer."
        self.assertEqual(len(by_op["FusedMatMul"]), 2)
        for i, tag_ in enumerate(by_op["FusedMatMul"]):  # attention scores
            self.assertEqual(tag_, layer + "%d/BertAttention/BertSelfAttention" % i)
        for i, tag_ in enumerate(by_op["Gelu"]):
            self.assertEqual(tag_, layer + "%d/BertIntermediate" % i)
        self.assertEqual(by_op["SkipLayerNormalization"],
                         [layer + "0/BertAttention/BertSelfOutput", layer + "0/BertOutput",
                          layer + "1/BertAttention/BertSelfOutput", layer + "1/BertOutput"])
        self.assertEqual(by_op["FusedGemm"], ["/TinyBertModel/BertPooler"])
        # NCHWc convolutions stand for the tensors they are named after.
        resnet = self.fixtures["tiny_resnet"].levels["all"][2]["nodes"]
        convs = [n for n in resnet if n["op_type"] == "Conv"]
        self.assertTrue(convs)
        # Each computes a Conv it replaced, however many reorders write
        # tensors back beside it (their number depends on the CPU).
        self.assertEqual([n["name"] for n in convs if n["match"] != "replacing"], [])
        blocks = [n["tag"] for n in convs if "/layer1/layer1.0/" in n["name"]]
        self.assertEqual(blocks, ["/TinyResNet/BasicBlock[layer1.0]"] * 2)

    def test_outputs_are_bit_identical_to_the_optimized_model(self):
        require_consumer(self)
        for fixture, level, optimized, output, _ in self.each():
            model = onnx.load(optimized)
            spec = os.path.join(self.tmp, "%s.%s.inputs.json" % (fixture.name, level))
            write_spec(ort_inputs(onnx.load(fixture.original), model, 0), spec)
            runs = []
            for path in (optimized, output):
                returncode, outputs, stderr = ort_run(path, spec, "disabled")
                self.assertEqual(returncode, 0, "%s:\n%s" % (path, stderr))
                runs.append(outputs)
            self.assertEqual(runs[0], runs[1])

    def test_nothing_else_of_the_optimized_model_changes(self):
        # onnxruntime keeps the model's metadata and some nodes' tags, so
        # the optimized model is compared stripped: strip(transfer(m)) ==
        # strip(m), byte for byte.
        for fixture, level, optimized, output, _ in self.each():
            stripped = []
            for path in (optimized, output):
                result = run_converter("strip", "--model", path, "--output", path + ".stripped")
                self.assertEqual(result.returncode, 0, result.stderr)
                stripped.append(read_bytes(path + ".stripped"))
            self.assertTrue(stripped[0] == stripped[1],
                            "strip(transfer(%s at %s)) differs from strip(it)"
                            % (fixture.name, level))

    def test_validate_accepts_the_tags_under_the_trace(self):
        for fixture, level, _, output, _ in self.each():
            trace = os.path.join(MODELS, fixture.name + ".trace.json")
            result = run_converter("validate", "--model", output, "--trace", trace)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


def convertible_opsets(model):
    """17 (the fixtures' own) and the lowest other opset python-onnx's
    version converter converts the model to."""
    opsets = [17]
    for version in (14, 15, 16):
        try:
            onnx.version_converter.convert_version(model, version)
        except Exception:  # the converter raises RuntimeError or its own
            continue
        opsets.append(version)
        break
    return opsets


class VersionConverterTest(unittest.TestCase):
    """python-onnx's version converter keeps nodes, not their metadata:
    transfer gives every node back its tag, all of them kept."""

    def test_every_tag_comes_back_kept(self):
        tmp = tempfile.mkdtemp(prefix="hp_transfer_opset_")
        self.addCleanup(shutil.rmtree, tmp, True)
        lines = ["", "transfer onto version-converted fixtures:"]
        for name in FIXTURES:
            tagged = os.path.join(tmp, name + ".tagged.onnx")
            tag(os.path.join(MODELS, name + ".onnx"), tagged)
            tagged_model = onnx.load(tagged)
            want = [t for _, _, t in tags_by_node(tagged_model)]
            for version in convertible_opsets(tagged_model):
                with self.subTest(fixture=name, opset=version):
                    converted = os.path.join(tmp, "%s.opset%d.onnx" % (name, version))
                    onnx.save(onnx.version_converter.convert_version(tagged_model, version),
                              converted)
                    self.assertEqual([t for _, _, t in tags_by_node(onnx.load(converted)) if t],
                                     [], "the version converter kept node tags")
                    output = os.path.join(tmp, "%s.opset%d.tagged.onnx" % (name, version))
                    result = transfer_json(tagged, converted, output)
                    self.assertEqual(result["counts"]["kept"], len(want))
                    self.assertEqual([t for _, _, t in tags_by_node(onnx.load(output))], want)
                    lines.append("  %-13s opset %d: %d of %d nodes kept" % (
                        name, version, result["counts"]["kept"], len(want)))
        sys.stderr.write("\n".join(lines) + "\n")


class TransferInputsTest(unittest.TestCase):
    """What transfer accepts (renamed nodes, fixed shapes, external data) and
    refuses (untagged --from, unrelated models, new graph inputs)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hp_transfer_inputs_")
        cls.original = os.path.join(MODELS, "tiny_bert.onnx")
        cls.tagged = os.path.join(cls.tmp, "tiny_bert.tagged.onnx")
        tag(cls.original, cls.tagged)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def out_dir(self):
        path = tempfile.mkdtemp(dir=self.tmp)
        return path, os.path.join(path, "out.onnx")

    def save(self, model, name):
        path = os.path.join(self.tmp, name)
        onnx.save(model, path)
        return path

    def check_refused(self, source, model, *expected):
        folder, output = self.out_dir()
        result = transfer(source, model, output)
        self.assertEqual(result.returncode, 1, result.stdout)
        for text in expected:
            self.assertIn(text, result.stderr)
        self.assertEqual(os.listdir(folder), [], "output written for refused input")

    def test_renamed_nodes_and_fixed_shapes_transfer_by_data_flow(self):
        model = onnx.load(self.original)
        for i, node in enumerate(model.graph.node):
            node.name = "renamed_%d" % i
        for value in model.graph.input:
            for dim in value.type.tensor_type.shape.dim:
                dim.dim_value = 2
        renamed = self.save(model, "renamed.onnx")
        _, output = self.out_dir()
        result = transfer_json(self.tagged, renamed, output)
        self.assertEqual(result["counts"]["kept"], len(model.graph.node))
        self.assertEqual([t for _, _, t in tags_by_node(onnx.load(output))],
                         [t for _, _, t in tags_by_node(onnx.load(self.tagged))])

    def test_removed_unused_inputs_are_accepted(self):
        # The exported model had an input no node reads; an optimizer
        # dropped it. Tag the model with it, transfer onto the one without.
        model = onnx.load(self.original)
        model.graph.input.append(onnx.helper.make_tensor_value_info(
            "unused_mask", onnx.TensorProto.FLOAT, [1]))
        with_unused = self.save(model, "with_unused_input.onnx")
        tagged = os.path.join(self.tmp, "with_unused_input.tagged.onnx")
        tag(with_unused, tagged, "--trace", "none")
        _, output = self.out_dir()
        result = transfer_json(tagged, self.original, output)
        self.assertEqual(result["counts"]["kept"], len(model.graph.node))
        self.assertEqual([t for _, _, t in tags_by_node(onnx.load(output))],
                         [t for _, _, t in tags_by_node(onnx.load(tagged))])

    def test_untagged_from_is_refused(self):
        self.check_refused(self.original, self.original, self.original, "no hp tags")

    def test_missing_files_are_named(self):
        missing = os.path.join(self.tmp, "missing.onnx")
        self.check_refused(missing, self.original, missing)
        self.check_refused(self.tagged, missing, missing)

    def test_a_model_not_derived_from_the_tagged_one_is_refused(self):
        other = os.path.join(MODELS, "tiny_resnet.onnx")
        self.check_refused(self.tagged, other, other, "graph input 'image'")
        model = onnx.load(other)
        model.graph.input[0].name = "input_ids"  # the same inputs, nothing else
        for node in model.graph.node:
            node.input[:] = ["input_ids" if i == "image" else i for i in node.input]
        unrelated = self.save(model, "unrelated.onnx")
        self.check_refused(self.tagged, unrelated, unrelated, "not derived")

    def test_a_new_graph_input_is_refused(self):
        model = onnx.load(self.original)
        model.graph.input.append(onnx.helper.make_tensor_value_info(
            "extra", onnx.TensorProto.FLOAT, [1]))
        extra = self.save(model, "extra_input.onnx")
        self.check_refused(self.tagged, extra, extra, "graph input 'extra'")

    def test_external_data_side_files_are_placed_beside_the_output(self):
        require_consumer(self)
        source_dir = os.path.join(self.tmp, "external")
        shutil.copytree(EXTERNAL_DATA, source_dir)
        derived = os.path.join(source_dir, "mlp.onnx")
        tagged = os.path.join(self.tmp, "mlp.tagged.onnx")
        tag(derived, tagged)
        folder, output = self.out_dir()
        result = transfer(tagged, derived, output)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("1 side file hard-linked", result.stdout)
        onnx.checker.check_model(output, full_check=True)
        spec = os.path.join(self.tmp, "mlp.inputs.json")
        write_spec(random_inputs(onnx.load(derived), 0), spec)
        runs = [ort_run(path, spec)[1] for path in (derived, output)]
        self.assertIsNotNone(runs[1])
        self.assertEqual(runs[0], runs[1])


if __name__ == "__main__":
    unittest.main()
