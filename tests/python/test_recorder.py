"""Tests of hp_record, the scope-trace recorder (recorder/hp_record)."""

import collections
import glob
import json
import os
import sys
import tempfile
import unittest
from unittest import mock

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "recorder"))

import jsonschema  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import hp_record  # noqa: E402

SCHEMA_PATH = os.path.join(REPO, "proto", "scope_trace.schema.json")
MODELS = os.path.join(REPO, "testdata", "models")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(self.act(x)))  # act runs twice


class Net(nn.Module):
    """Root with a ModuleList (never called itself), a module called twice
    and an unused one. Its forward notes which hooks are attached."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.unused = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)
        self.seen_hooks = None

    def forward(self, x):
        self.seen_hooks = {
            "root": len(self._forward_pre_hooks) + len(self._forward_hooks),
            "head": (len(self.head._forward_pre_hooks), len(self.head._forward_hooks)),
        }
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class Failing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.inner = Block()

    def forward(self, x):
        self.fc(x)
        raise ValueError("forward fails on purpose")


def all_hooks(model):
    return {path: (dict(m._forward_pre_hooks), dict(m._forward_hooks))
            for path, m in model.named_modules() if m._forward_pre_hooks or m._forward_hooks}


class RecorderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.x = (torch.randn(2, 4),)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_hooks_attached_during_export_and_gone_after(self):
        model = Net()
        hp_record.export(model, self.x, self.path("net.onnx"))
        self.assertEqual(model.seen_hooks["head"], (1, 1))  # one pre-hook, one post-hook
        self.assertEqual(all_hooks(model), {})

    def test_root_is_not_hooked(self):
        model = Net()
        hp_record.export(model, self.x, self.path("net.onnx"))
        self.assertEqual(model.seen_hooks["root"], 0)

    def test_hooks_gone_after_forward_raises(self):
        model = Failing()
        with self.assertRaises(ValueError):
            hp_record.export(model, self.x, self.path("failing.onnx"))
        self.assertEqual(all_hooks(model), {})
        self.assertFalse(os.path.exists(self.path("failing.trace.json")))

    def test_hooks_gone_after_bad_export_arguments(self):
        model = Net()
        with self.assertRaises(TypeError):
            hp_record.export(model, self.x, self.path("net.onnx"), no_such_option=True)
        with self.assertRaises(Exception):
            hp_record.export(model, self.x, self.path("net.onnx"), opset_version=999)
        self.assertEqual(all_hooks(model), {})
        self.assertEqual(os.listdir(self.tmp.name), [])

    def test_stack_never_empties(self):
        depths = []

        class WatchedRecorder(hp_record._ScopeRecorder):
            def _pre_hook(self, path, module):
                super()._pre_hook(path, module)
                depths.append(len(self.stack))

            def _post_hook(self):
                super()._post_hook()
                depths.append(len(self.stack))

        recorders = []

        def make_recorder(model):
            recorders.append(WatchedRecorder(model))
            return recorders[-1]

        with mock.patch.object(hp_record, "_ScopeRecorder", make_recorder):
            hp_record.export(Net(), self.x, self.path("net.onnx"))
        self.assertGreater(len(depths), 0)
        self.assertEqual(min(depths), 1)  # back to the root, never below
        self.assertEqual(recorders[0].stack, ["/Net"])

    def test_post_hook_never_pops_the_root(self):
        recorder = hp_record._ScopeRecorder(Net())
        with self.assertRaises(AssertionError):
            recorder._post_hook()
        self.assertEqual(recorder.stack, ["/Net"])

    def test_trace_contents(self):
        model = Net()
        trace = hp_record.export(model, self.x, self.path("net.onnx"), opset_version=17)
        self.assertEqual(trace["format"], "hp-scope-trace")
        self.assertEqual(trace["format_version"], 1)
        self.assertEqual(trace["producer"], {"name": "hp_record", "torch_version": torch.__version__})
        self.assertEqual(trace["model"]["onnx_file"], "net.onnx")
        self.assertEqual(trace["model"]["opset"], 17)
        self.assertEqual(trace["root"], {"class": "Net", "qualified_class": __name__ + ".Net"})
        modules = {m["path"]: m for m in trace["modules"]}
        self.assertEqual([m["path"] for m in trace["modules"]],
                         [path for path, _ in model.named_modules()])
        self.assertEqual(modules[""], {
            "path": "", "class": "Net", "qualified_class": __name__ + ".Net", "is_torch_nn": False,
            "executed": True, "call_count": 1, "first_call_order": 0, "tag": "/Net"})
        # Export runs forward once: each module's count is its calls in one forward.
        self.assertEqual(modules["blocks.0"]["call_count"], 1)
        self.assertEqual(modules["blocks.0.act"]["call_count"], 2)
        self.assertEqual(modules["blocks.0"]["first_call_order"], 1)
        self.assertEqual(modules["blocks.0.act"]["first_call_order"], 2)
        self.assertEqual(modules["blocks.0.fc"]["first_call_order"], 3)
        self.assertEqual(modules["head"]["first_call_order"], 9)
        self.assertEqual(modules["blocks.1.fc"]["tag"], "/Net/Block.1/Linear")
        self.assertEqual(modules["blocks.1.fc"]["qualified_class"], "torch.nn.modules.linear.Linear")
        self.assertTrue(modules["blocks.1.fc"]["is_torch_nn"])
        self.assertFalse(modules["blocks.1"]["is_torch_nn"])
        for never_called in ("blocks", "unused"):  # a ModuleList is indexed, not called
            self.assertEqual(modules[never_called]["executed"], False)
            self.assertEqual(modules[never_called]["call_count"], 0)
            self.assertIsNone(modules[never_called]["first_call_order"])
            self.assertIsNone(modules[never_called]["tag"])

    def test_call_sequence(self):
        model = Net()
        trace = hp_record.export(model, self.x, self.path("net.onnx"), opset_version=17)
        calls = [(c["path"], c["parent"]) for c in trace["calls"]]
        # Pre-hook order; parent is the enclosing call's index, None for the
        # root's own forward. A ModuleList and an unused module make no call.
        self.assertEqual(calls, [
            ("blocks.0", None), ("blocks.0.act", 0), ("blocks.0.fc", 0), ("blocks.0.act", 0),
            ("blocks.1", None), ("blocks.1.act", 4), ("blocks.1.fc", 4), ("blocks.1.act", 4),
            ("head", None)])
        counts = collections.Counter(path for path, _ in calls)
        for module in trace["modules"][1:]:
            self.assertEqual(counts[module["path"]], module["call_count"], module["path"])

    def test_digest_and_default_opset(self):
        import hashlib
        from torch.onnx import _constants
        trace = hp_record.export(Net(), self.x, self.path("net.onnx"))
        self.assertEqual(sorted(trace["model"]),
                         ["onnx_file", "onnx_sha256", "onnx_structure_sha256", "opset"])
        with open(self.path("net.onnx"), "rb") as f:
            self.assertEqual(trace["model"]["onnx_sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(trace["model"]["onnx_structure_sha256"],
                         hp_record.structure_sha256(self.path("net.onnx")))
        # The Linear weights are initializers: the structure digest leaves them out.
        self.assertNotEqual(trace["model"]["onnx_structure_sha256"], trace["model"]["onnx_sha256"])
        self.assertEqual(trace["model"]["opset"], _constants.ONNX_DEFAULT_OPSET)

    def test_structure_digest_ignores_the_weights(self):
        model = Net()
        first = hp_record.export(model, self.x, self.path("a.onnx"), opset_version=17)
        with torch.no_grad():
            for param in model.parameters():
                param.add_(1.0)
        second = hp_record.export(model, self.x, self.path("b.onnx"), opset_version=17)
        self.assertNotEqual(first["model"]["onnx_sha256"], second["model"]["onnx_sha256"])
        self.assertEqual(first["model"]["onnx_structure_sha256"], second["model"]["onnx_structure_sha256"])

    def test_default_trace_path(self):
        self.assertEqual(hp_record.default_trace_path("x/bert.onnx"), "x/bert.trace.json")
        self.assertEqual(hp_record.default_trace_path("x.d/bert"), "x.d/bert.trace.json")
        hp_record.export(Net(), self.x, self.path("net.onnx"))
        self.assertEqual(sorted(os.listdir(self.tmp.name)), ["net.onnx", "net.trace.json"])

    def test_explicit_trace_path(self):
        hp_record.export(Net(), self.x, self.path("net.onnx"), trace_path=self.path("t.json"))
        self.assertEqual(sorted(os.listdir(self.tmp.name)), ["net.onnx", "t.json"])

    def test_return_value_equals_file(self):
        trace = hp_record.export(Net(), self.x, self.path("net.onnx"))
        with open(self.path("net.trace.json"), encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(json.loads(text), trace)
        self.assertEqual(text, hp_record.dumps(trace))

    def test_trace_validates_against_schema(self):
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            schema = json.load(f)
        validator = jsonschema.Draft202012Validator(schema)
        validator.validate(hp_record.export(Net(), self.x, self.path("net.onnx")))
        with self.assertRaises(jsonschema.ValidationError):  # the schema does reject things
            validator.validate({"format": "hp-scope-trace", "format_version": 2})
        trace = hp_record.export(Net(), self.x, self.path("net.onnx"))
        del trace["model"]["onnx_structure_sha256"]
        validator.validate(trace)  # traces written before the field stay valid
        trace["model"]["onnx_structure_sha256"] = "A" * 64
        with self.assertRaises(jsonschema.ValidationError):
            validator.validate(trace)


class FixtureTraceTest(unittest.TestCase):
    def test_fixture_traces_validate_and_match_their_models(self):
        import hashlib
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            validator = jsonschema.Draft202012Validator(json.load(f))
        traces = sorted(glob.glob(os.path.join(MODELS, "*.trace.json")))
        self.assertEqual(len(traces), 9)
        for path in traces:
            with self.subTest(trace=os.path.basename(path)):
                with open(path, encoding="utf-8") as f:
                    trace = json.load(f)
                validator.validate(trace)
                onnx_path = os.path.join(MODELS, trace["model"]["onnx_file"])
                self.assertEqual(hp_record.default_trace_path(onnx_path), path)
                with open(onnx_path, "rb") as f:
                    self.assertEqual(trace["model"]["onnx_sha256"], hashlib.sha256(f.read()).hexdigest())
                self.assertEqual(trace["model"]["onnx_structure_sha256"],
                                 hp_record.structure_sha256(onnx_path))


if __name__ == "__main__":
    unittest.main()
