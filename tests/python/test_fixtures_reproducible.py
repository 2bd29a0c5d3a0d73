"""The committed fixtures in testdata/models and testdata/external_data are
what their generators write, and the expected.json files are self-consistent."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, "testdata", "models")
GENERATOR = os.path.join(REPO, "testdata", "generator", "make_fixtures.py")
FIXTURES = ["containers", "control_flow", "dynamo_style", "recalls", "tiny_bert", "tiny_gpt",
            "tiny_resnet", "tiny_t5", "unscoped"]


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class RegenerationTest(unittest.TestCase):
    def test_generator_reproduces_committed_files_byte_for_byte(self):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-B", GENERATOR, "--out", out], check=True,
                           stdout=subprocess.DEVNULL)
            self.assertEqual(sorted(os.listdir(out)), sorted(os.listdir(MODELS)))
            for name in sorted(os.listdir(MODELS)):
                with self.subTest(file=name):
                    with open(os.path.join(MODELS, name), "rb") as committed, \
                            open(os.path.join(out, name), "rb") as fresh:
                        self.assertTrue(committed.read() == fresh.read(),
                                        "%s differs from a fresh run of the generator" % name)


class ExternalDataRegenerationTest(unittest.TestCase):
    def test_generator_reproduces_the_external_data_fixture(self):
        committed_dir = os.path.join(REPO, "testdata", "external_data")
        generator = os.path.join(REPO, "testdata", "generator", "make_external_data.py")
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-B", generator, "--out", out], check=True,
                           stdout=subprocess.DEVNULL)
            self.assertEqual(sorted(os.listdir(out)), ["mlp.onnx", "mlp.onnx.data"])
            for name in sorted(os.listdir(out)):
                with self.subTest(file=name):
                    with open(os.path.join(committed_dir, name), "rb") as committed, \
                            open(os.path.join(out, name), "rb") as fresh:
                        self.assertTrue(committed.read() == fresh.read(),
                                        "%s differs from a fresh run of the generator" % name)


class ExpectedConsistencyTest(unittest.TestCase):
    def test_every_fixture_has_its_three_files(self):
        for name in FIXTURES:
            for suffix in (".onnx", ".trace.json", ".expected.json"):
                self.assertTrue(os.path.isfile(os.path.join(MODELS, name + suffix)), name + suffix)

    def test_expected_files_are_consistent(self):
        for name in FIXTURES:
            with self.subTest(fixture=name):
                expected = load_json(os.path.join(MODELS, name + ".expected.json"))
                trace = load_json(os.path.join(MODELS, name + ".trace.json"))
                tags = expected["module_tags"]
                self.assertEqual(expected["fixture"], name)
                self.assertEqual(expected["root_tag"], "/" + trace["root"]["class"])
                self.assertEqual(sorted(tags), sorted(m["path"] for m in trace["modules"]))
                self.assertEqual(tags[""], expected["root_tag"])
                self.assertGreater(len(expected["nodes"]), 0)
                for node in expected["nodes"]:
                    self.assertTrue(node["tag"], node)
                    self.assertTrue(node["name"], node)
                    self.assertEqual(node["tag"], tags[node["module_path"]], node)
                # Each kept module (not torch.nn, docs/tag-rules.md rule 2) has
                # its own tag; a torch.nn module shares its kept ancestor's.
                kept = [m["path"] for m in trace["modules"] if not m["is_torch_nn"]]
                kept_tags = [tags[p] for p in kept]
                self.assertEqual(len(set(kept_tags)), len(kept_tags), "two kept modules share a tag")
                for tag in tags.values():
                    self.assertTrue(tag == expected["root_tag"] or tag.startswith(expected["root_tag"] + "/"))

    def tags_of(self, name):
        return load_json(os.path.join(MODELS, name + ".expected.json"))["module_tags"]

    def test_tags_follow_the_rules_on_known_modules(self):
        self.assertEqual(self.tags_of("tiny_bert")["encoder.layer.0.attention.self"],
                         "/TinyBertModel/BertEncoder/BertLayer.0/BertAttention/BertSelfAttention")
        self.assertEqual(self.tags_of("tiny_bert")["encoder.layer.1.attention.self.query"],
                         "/TinyBertModel/BertEncoder/BertLayer.1/BertAttention/BertSelfAttention")
        resnet = self.tags_of("tiny_resnet")
        self.assertEqual(resnet["layer1.0"], "/TinyResNet/BasicBlock[layer1.0]")
        self.assertEqual(resnet["layer2.0"], "/TinyResNet/BasicBlock[layer2.0]")
        self.assertEqual(resnet["layer2.0.downsample.0"], "/TinyResNet/BasicBlock[layer2.0]")
        self.assertEqual(resnet["layer1"], "/TinyResNet")
        t5 = self.tags_of("tiny_t5")
        self.assertEqual(t5["encoder"], "/TinyT5Model/T5Stack[encoder]")
        self.assertEqual(t5["decoder.block.1.layer.1.EncDecAttention"],
                         "/TinyT5Model/T5Stack[decoder]/T5Block.1/T5LayerCrossAttention.1/T5Attention")

    def test_second_call_of_a_module_maps_to_that_module(self):
        nodes = load_json(os.path.join(MODELS, "tiny_gpt.expected.json"))["nodes"]
        second = [n for n in nodes if n["name"].startswith("/h.0/attn/rotary_1/")]
        self.assertGreater(len(second), 0)
        self.assertEqual({n["module_path"] for n in second}, {"h.0.attn.rotary"})

    def test_subgraph_nodes_are_listed(self):
        nodes = load_json(os.path.join(MODELS, "control_flow.expected.json"))["nodes"]
        owners = {"main/%s/%s" % (n["name"], attr)
                  for n in nodes if n["op_type"] in ("If", "Loop")
                  for attr in ("then_branch", "else_branch", "body")}
        nested = [n for n in nodes if n["graph"] != "main"]
        self.assertGreater(len(nested), 0)
        for node in nested:
            self.assertIn(node["graph"], owners)
        self.assertIn("/ControlFlowModel/TokenBag", {n["tag"] for n in nested})
        self.assertIn("/ControlFlowModel/DiagonalGate", {n["tag"] for n in nested})


class TagReferenceTest(unittest.TestCase):
    """The generator's module_tags() on a model built here."""

    def test_module_tags(self):
        sys.path.insert(0, os.path.dirname(GENERATOR))
        import make_fixtures
        import torch.nn as nn

        class Stack(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([Leaf(), Leaf()])
                self.norm = nn.LayerNorm(2)

        class Leaf(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = Stack()
                self.dec = Stack()
                self.seq = nn.Sequential(Leaf())
                self.extra = Leaf()

        self.assertEqual(make_fixtures.module_tags(Model()), {
            "": "/Model",
            "enc": "/Model/Stack[enc]",
            "enc.layers": "/Model/Stack[enc]",
            "enc.layers.0": "/Model/Stack[enc]/Leaf.0",
            "enc.layers.0.fc": "/Model/Stack[enc]/Leaf.0",
            "enc.layers.1": "/Model/Stack[enc]/Leaf.1",
            "enc.layers.1.fc": "/Model/Stack[enc]/Leaf.1",
            "enc.norm": "/Model/Stack[enc]",
            "dec": "/Model/Stack[dec]",
            "dec.layers": "/Model/Stack[dec]",
            "dec.layers.0": "/Model/Stack[dec]/Leaf.0",
            "dec.layers.0.fc": "/Model/Stack[dec]/Leaf.0",
            "dec.layers.1": "/Model/Stack[dec]/Leaf.1",
            "dec.layers.1.fc": "/Model/Stack[dec]/Leaf.1",
            "dec.norm": "/Model/Stack[dec]",
            "seq": "/Model",
            "seq.0": "/Model/Leaf.0",  # Leaf.0 and Leaf differ: no collision
            "seq.0.fc": "/Model/Leaf.0",
            "extra": "/Model/Leaf",
            "extra.fc": "/Model/Leaf",
        })


if __name__ == "__main__":
    unittest.main()
