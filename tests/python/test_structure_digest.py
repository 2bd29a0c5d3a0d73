"""Tests of hp_record.structure_sha256, the trace's digest of a model without
its weights (docs/scope-trace.md, model.onnx_structure_sha256)."""

import glob
import hashlib
import os
import random
import re
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "recorder"))

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import hp_record  # noqa: E402

MODELS = os.path.join(REPO, "testdata", "models")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def weightless_sha256(data):
    """The structure digest computed another way: parse the model with onnx,
    serialize its weight records on their own and cut those bytes out of the
    file. Serialization writes fields in field-number order, so each kind of
    weight record sits in the file as one run."""
    model = onnx.load_from_string(data)
    runs = [onnx.GraphProto(initializer=model.graph.initializer).SerializeToString(),
            onnx.GraphProto(sparse_initializer=model.graph.sparse_initializer).SerializeToString()]
    for run in filter(None, runs):
        if data.count(run) != 1:
            raise AssertionError("weight records are not one run in the file")
        data = data.replace(run, b"")
    return sha256(data)


def affine_model(weights=(1.0, 2.0, 3.0, 4.0, 5.0, 6.0), bias=(0.5, -0.5), node_name="matmul"):
    """Y = X @ W + B, plus a sparse initializer S (unused by the nodes)."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"], name=node_name),
         helper.make_node("Add", ["XW", "B"], ["Y"], name="add")],
        "affine",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 2])],
        initializer=[helper.make_tensor("W", TensorProto.FLOAT, [3, 2], list(weights)),
                     helper.make_tensor("B", TensorProto.FLOAT, [len(bias)], list(bias))],
        sparse_initializer=[helper.make_sparse_tensor(
            helper.make_tensor("S", TensorProto.FLOAT, [2], [7.0, 8.0]),
            helper.make_tensor("S_indices", TensorProto.INT64, [2], [1, 3]),
            [5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def field(number, wire_type, payload):
    """One protobuf record; payload is the value's bytes (for wire type 2,
    without the length, which is added here; every test payload is under 128 bytes)."""
    assert number < 16 and len(payload) < 128
    tag = bytes([number << 3 | wire_type])
    return tag + (bytes([len(payload)]) + payload if wire_type == 2 else payload)


class StructureDigestTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def digest(self, data, name="model.onnx"):
        return hp_record.structure_sha256(self.write(name, data))

    def test_fixtures_agree_with_the_onnx_package(self):
        # test_recorder checks that each fixture's trace records this digest.
        models = sorted(glob.glob(os.path.join(MODELS, "*.onnx")))
        self.assertEqual(len(models), 9)
        for path in models:
            with self.subTest(model=os.path.basename(path)):
                with open(path, "rb") as f:
                    data = f.read()
                digest = hp_record.structure_sha256(path)
                self.assertEqual(digest, weightless_sha256(data))
                self.assertNotEqual(digest, sha256(data))  # every fixture has weights

    def test_other_weights_of_the_same_sizes_keep_the_digest(self):
        original = affine_model()
        retrained = affine_model(weights=(-1.0, 0.25, 9.0, 4.5, 0.0, 6.0), bias=(2.0, 3.0))
        self.assertEqual(len(original), len(retrained))
        self.assertNotEqual(sha256(original), sha256(retrained))
        self.assertEqual(self.digest(original, "a.onnx"), self.digest(retrained, "b.onnx"))
        self.assertEqual(self.digest(original), weightless_sha256(original))

    def test_weights_of_another_size_change_the_digest(self):
        # The graph's length prefix is hashed as in the file, and it counts
        # the weights: the digest names a graph with weights of these sizes.
        wider = affine_model(bias=(0.5, -0.5, 1.0))
        self.assertNotEqual(self.digest(affine_model(), "a.onnx"), self.digest(wider, "b.onnx"))
        self.assertEqual(self.digest(wider), weightless_sha256(wider))

    def test_renaming_a_node_changes_the_digest(self):
        original = affine_model()
        renamed = affine_model(node_name="matmul_renamed")
        self.assertNotEqual(self.digest(original, "a.onnx"), self.digest(renamed, "b.onnx"))
        self.assertEqual(self.digest(renamed), weightless_sha256(renamed))

    def test_a_model_without_weights_digests_to_its_file_digest(self):
        graph = helper.make_graph(
            [helper.make_node("Relu", ["X"], ["Y"], name="relu")], "relu",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        data = model.SerializeToString()
        self.assertEqual(self.digest(data), sha256(data))

    def test_only_the_main_graphs_weight_records_are_left_out(self):
        node = field(1, 2, b"\x0a\x01x")  # NodeProto {input: "x"}
        initializer = field(5, 2, b"\x08\x01")  # TensorProto {dims: 1}
        sparse = field(15, 2, b"\x18\x01")  # SparseTensorProto {dims: 1}
        odd_initializer = field(5, 0, b"\x01")  # field 5 as a varint: kept
        graph_payload = node + initializer + odd_initializer + sparse + field(2, 2, b"g")
        graph = field(7, 2, graph_payload)
        kept_graph = graph[:2] + node + odd_initializer + field(2, 2, b"g")
        head = field(1, 0, b"\x08")  # ir_version 8
        tail = (field(7, 0, b"\x05")  # field 7 as a varint: kept whole
                + field(8, 2, b"\x10\x11")  # opset_import
                + field(9, 1, b"12345678") + field(10, 5, b"1234")
                + field(3, 2, initializer))  # a graph-shaped record elsewhere: kept
        data = head + graph + tail
        self.assertEqual(self.digest(data), sha256(head + kept_graph + tail))
        second = field(7, 2, initializer + node)  # each graph record is walked
        self.assertEqual(self.digest(data + second), sha256(head + kept_graph + tail + second[:2] + node))
        self.assertEqual(self.digest(b""), sha256(b""))

    def test_truncated_file_is_not_an_onnx_model(self):
        data = affine_model()
        for size in (1, len(data) // 2, len(data) - 1):
            with self.subTest(size=size):
                path = self.write("cut.onnx", data[:size])
                with self.assertRaisesRegex(ValueError, "^%s: not an ONNX model" % path):
                    hp_record.structure_sha256(path)

    def test_random_bytes_are_not_an_onnx_model(self):
        noise = random.Random(20240601)
        for attempt in range(20):
            with self.subTest(attempt=attempt):
                path = self.write("noise.onnx", noise.randbytes(4096))
                with self.assertRaisesRegex(ValueError, "^%s: not an ONNX model" % path):
                    hp_record.structure_sha256(path)

    def test_malformed_records_are_rejected(self):
        cases = [  # (what the message says, file bytes)
            ("field number 0", b"\x02\x00"),
            ("field number 536870912", b"\x80\x80\x80\x80\x10\x00"),  # tag 2**32
            ("is a group", field(7, 3, b"")),
            ("wire type 6", field(7, 6, b"")),
            ("varint cut off", b"\x08\x80"),
            ("longer than 10 bytes", b"\x08" + b"\x80" * 10 + b"\x01"),
            ("field 7 needs 6 bytes, 5 are left", field(7, 2, field(1, 2, b"ab"))[:-1]),
            # A record inside the graph may not reach past the graph.
            ("field 1 needs 7 bytes, 5 are left", field(7, 2, b"\x0a\x05abc") + field(2, 2, b"de")),
        ]
        for what, data in cases:
            with self.subTest(what=what):
                pattern = "not an ONNX model: byte [0-9]+: .*" + re.escape(what)
                with self.assertRaisesRegex(ValueError, pattern):
                    self.digest(data)


if __name__ == "__main__":
    unittest.main()
