"""The fixture models in testdata/models are valid ONNX and look the way the
fixtures claim (README.md there)."""

import ast
import json
import os
import sys
import unittest

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, "testdata", "models")
FIXTURES = ["containers", "control_flow", "dynamo_style", "recalls", "tiny_bert", "tiny_gpt",
            "tiny_resnet", "tiny_t5", "unscoped"]

import onnx  # noqa: E402


def load_expected(name):
    with open(os.path.join(MODELS, name + ".expected.json"), encoding="utf-8") as f:
        return json.load(f)


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data):
    """(field number, wire type, payload) of a serialized protobuf message;
    payload is bytes for length-delimited fields, an int otherwise."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, pos = _varint(data, pos)
            payload, pos = data[pos:pos + length], pos + length
        elif wire == 0:
            payload, pos = _varint(data, pos)
        else:
            raise ValueError("unexpected wire type %d" % wire)
        yield number, wire, payload


def node_metadata(node):
    """NodeProto.metadata_props (field 9), which onnx 1.12 does not know, read
    from the node's wire bytes."""
    props = {}
    for number, _, payload in _fields(node.SerializeToString()):
        if number == 9:
            entry = {n: p.decode() for n, _, p in _fields(payload)}
            props[entry[1]] = entry[2]
    return props


def all_nodes(graph):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(attr.g)


class FixtureModelTest(unittest.TestCase):
    def test_models_pass_the_onnx_checker(self):
        for name in FIXTURES:
            with self.subTest(fixture=name):
                path = os.path.join(MODELS, name + ".onnx")
                self.assertLess(os.path.getsize(path), 1 << 20)
                onnx.checker.check_model(path)  # by path: the file as committed
                onnx.checker.check_model(onnx.load(path), full_check=True)

    def test_expected_nodes_match_the_models(self):
        for name in FIXTURES:
            with self.subTest(fixture=name):
                model = onnx.load(os.path.join(MODELS, name + ".onnx"))
                nodes = [(n.name, n.op_type) for n in all_nodes(model.graph)]
                expected = [(n["name"], n["op_type"]) for n in load_expected(name)["nodes"]]
                self.assertEqual(nodes, expected)

    def test_real_exports_carry_scoped_names(self):
        for name in ("tiny_bert", "tiny_resnet", "tiny_gpt", "tiny_t5"):
            names = [n.name for n in onnx.load(os.path.join(MODELS, name + ".onnx")).graph.node]
            self.assertTrue(all(n.startswith("/") for n in names), name)
        resnet = [n.name for n in onnx.load(os.path.join(MODELS, "tiny_resnet.onnx")).graph.node]
        self.assertIn("/layer1/layer1.0/conv1/Conv", resnet)
        self.assertIn("/layer1/layer1.0/relu_1/Relu", resnet)

    def test_control_flow_has_if_and_loop(self):
        model = onnx.load(os.path.join(MODELS, "control_flow.onnx"))
        op_types = {n.op_type for n in model.graph.node}
        self.assertTrue({"If", "Loop"} <= op_types)

    def test_dynamo_style_hierarchy_is_in_metadata_props(self):
        model = onnx.load(os.path.join(MODELS, "dynamo_style.onnx"))
        expected = {n["name"]: n for n in load_expected("dynamo_style")["nodes"]}
        with_metadata = 0
        for node in model.graph.node:
            self.assertRegex(node.name, r"^node_[A-Za-z]+_[0-9]+$")
            props = node_metadata(node)
            if node.op_type == "Constant":
                self.assertEqual(props, {})
                continue
            with_metadata += 1
            scopes = ast.literal_eval(props["pkg.torch.onnx.name_scopes"])
            classes = ast.literal_eval(props["pkg.torch.onnx.class_hierarchy"])
            self.assertEqual(scopes[0], "")
            self.assertEqual(len(scopes), len(classes))
            self.assertEqual(scopes[-2], expected[node.name]["module_path"])
            self.assertTrue(classes[-1].startswith("aten."))
        self.assertGreater(with_metadata, 0)

    def test_unscoped_names_carry_no_scope(self):
        model = onnx.load(os.path.join(MODELS, "unscoped.onnx"))
        for index, node in enumerate(model.graph.node):
            self.assertEqual(node.name, "%s_%d" % (node.op_type, index))
            for value in list(node.input) + list(node.output):
                self.assertNotIn("/", value)
        root_tag = load_expected("unscoped")["root_tag"]
        self.assertEqual({n["tag"] for n in load_expected("unscoped")["nodes"]}, {root_tag})


if __name__ == "__main__":
    unittest.main()
