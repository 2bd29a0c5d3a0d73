"""End-to-end checks of `converter extract` on every fixture of testdata/models.

Each fixture is tagged, then every module instance holding at least one node
is extracted. The extracted model must pass onnx's full check and run in
onnxruntime-node 1.30; fed with the full model's own intermediate tensors at
its inputs (captured by running the full model with every tensor exposed as
an output), it must give bit for bit the full model's tensors of the same
names (both sessions with graph optimization disabled). Extracting the root
gives the input's nodes, initializers, inputs and outputs; `--all --depth N`
with `--remainder` puts every node into exactly one model.

Run from the repository root with Debian's python (tests/integration/run.sh).
"""

import json
import os
import shutil
import tempfile
import unittest

import onnx
import onnx.shape_inference

from test_tagged_models import (FIXTURES, MODELS, REPO, TAG_KEY, node_metadata, ort_run,
                                random_inputs, require_consumer, run_converter, tag,
                                write_spec)


EXTERNAL_DATA = os.path.join(REPO, "testdata", "external_data")


def extract(model, *flags):
    result = run_converter("extract", "--model", model, "--nofsync", *flags)
    if result.returncode != 0:
        raise AssertionError("converter extract --model %s %s failed (exit %d):\n%s"
                             % (model, " ".join(flags), result.returncode, result.stderr))
    return result


def module_tags(model):
    """Every module instance (tag) whose subtree holds a main-graph node."""
    tags = set()
    for node in model.graph.node:
        tag = dict(node_metadata(node)).get(TAG_KEY)
        if not tag:
            continue
        parts = tag.split("/")
        for end in range(2, len(parts) + 1):
            tags.add("/".join(parts[:end]))
    return sorted(tags)


def exposed(model):
    """The model with every main-graph node output as a graph output,
    typed by onnx's shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v for v in inferred.graph.value_info}
    outputs = {o.name for o in model.graph.output}
    wide = onnx.ModelProto()
    wide.CopyFrom(model)
    for node in model.graph.node:
        for name in node.output:
            if name and name not in outputs and name in types:
                wide.graph.output.append(types[name])
                outputs.add(name)
    return wide


class ExtractTests:
    NAME = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hp_extract_%s_" % cls.NAME)
        cls.tagged = os.path.join(cls.tmp, cls.NAME + ".tagged.onnx")
        tag(os.path.join(MODELS, cls.NAME + ".onnx"), cls.tagged, "--nofsync")
        cls.model = onnx.load(cls.tagged)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def full_tensors(self):
        """Every tensor of one run of the full model, by name."""
        wide_path = os.path.join(self.tmp, "wide.onnx")
        onnx.save(exposed(self.model), wide_path)
        spec_path = os.path.join(self.tmp, "inputs.json")
        inputs = random_inputs(self.model, 0)
        write_spec(inputs, spec_path)
        code, outputs, stderr = ort_run(wide_path, spec_path, "disabled")
        self.assertEqual(code, 0, stderr)
        with open(spec_path) as f:
            tensors = {i["name"]: i for i in json.load(f)["inputs"]}
        tensors.update({o["name"]: o for o in outputs})
        return tensors

    def run_with(self, path, tensors):
        model = onnx.load(path)
        spec_path = path + ".inputs.json"
        with open(spec_path, "w") as f:
            json.dump({"inputs": [tensors[i.name] for i in model.graph.input
                                  if i.name in tensors]}, f)
        code, outputs, stderr = ort_run(path, spec_path, "disabled")
        self.assertEqual(code, 0, "%s does not run in onnxruntime:\n%s" % (path, stderr))
        return model, outputs

    def test_every_module_checks_and_computes_the_full_models_tensors(self):
        require_consumer(self)
        tensors = self.full_tensors()
        tags = module_tags(self.model)
        self.assertTrue(tags)
        for index, module in enumerate(tags):
            with self.subTest(module=module):
                path = os.path.join(self.tmp, "module%d.onnx" % index)
                extract(self.tagged, "--module", module, "--output", path)
                onnx.checker.check_model(onnx.load(path), full_check=True)
                model, outputs = self.run_with(path, tensors)
                self.assertTrue(model.graph.node)
                self.assertTrue(outputs, "%s: no outputs" % module)
                for output in outputs:
                    full = tensors[output["name"]]
                    self.assertEqual((output["dtype"], output["dims"], output["data"]),
                                     (full["dtype"], full["dims"], full["data"]),
                                     "%s: output %s differs" % (module, output["name"]))

    def test_the_root_is_the_whole_model(self):
        root = module_tags(self.model)[0]
        path = os.path.join(self.tmp, "root.onnx")
        extract(self.tagged, "--module", root, "--output", path)
        cut = onnx.load(path)
        self.assertEqual([n.SerializeToString() for n in cut.graph.node],
                         [n.SerializeToString() for n in self.model.graph.node])
        self.assertEqual([t.SerializeToString() for t in cut.graph.initializer],
                         [t.SerializeToString() for t in self.model.graph.initializer])
        self.assertEqual([i.SerializeToString() for i in cut.graph.input],
                         [i.SerializeToString() for i in self.model.graph.input])
        self.assertEqual([o.SerializeToString() for o in cut.graph.output],
                         [o.SerializeToString() for o in self.model.graph.output])

    def test_every_depth_with_the_remainder_covers_every_node_once(self):
        depth = max(len(t.split("/")) for t in module_tags(self.model)) - 1
        names = [n.name for n in self.model.graph.node]
        for level in range(0, depth + 1):
            with self.subTest(depth=level):
                folder = os.path.join(self.tmp, "depth%d" % level)
                result = extract(self.tagged, "--all", "--depth", str(level), "--remainder",
                                 "--output_dir", folder, "--json")
                listed = json.loads(result.stdout)
                written = [m["output"] for m in listed["models"]]
                self.assertEqual(sorted(written),
                                 sorted(os.path.join(folder, f) for f in os.listdir(folder)))
                got = []
                for path in written:
                    got.extend(n.name for n in onnx.load(path).graph.node)
                self.assertEqual(sorted(got), sorted(names))
                remainder = [n["name"] for n in listed["remainder"]]
                in_remainder = [n.name for n in onnx.load(os.path.join(folder, "remainder.onnx"))
                                .graph.node] if remainder else []
                self.assertEqual(remainder, in_remainder)


class ExtractExternalData(unittest.TestCase):
    """The external-data fixture: each layer extracted into another folder
    gets the side file beside it, passes the checker given its path, and
    computes the full model's tensors."""

    def test_layers_in_another_folder_read_the_side_file(self):
        require_consumer(self)
        tmp = tempfile.mkdtemp(prefix="hp_extract_external_")
        self.addCleanup(shutil.rmtree, tmp, True)
        for name in ("mlp.onnx", "mlp.onnx.data"):
            shutil.copy(os.path.join(EXTERNAL_DATA, name), tmp)
        tagged = os.path.join(tmp, "mlp.tagged.onnx")
        tag(os.path.join(tmp, "mlp.onnx"), tagged, "--nofsync")
        full = onnx.load(tagged)  # the weights read from the side file
        wide_path = os.path.join(tmp, "wide.onnx")
        onnx.save(exposed(full), wide_path)
        spec_path = os.path.join(tmp, "inputs.json")
        write_spec(random_inputs(full, 0), spec_path)
        code, outputs, stderr = ort_run(wide_path, spec_path, "disabled")
        self.assertEqual(code, 0, stderr)
        with open(spec_path) as f:
            tensors = {i["name"]: i for i in json.load(f)["inputs"]}
        tensors.update({o["name"]: o for o in outputs})

        folder = os.path.join(tmp, "layers")
        listed = json.loads(extract(tagged, "--all", "--depth", "1", "--output_dir", folder,
                                    "--json").stdout)
        self.assertIn("mlp.onnx.data", os.listdir(folder))
        self.assertEqual(sum(m["nodes"] for m in listed["models"]), len(full.graph.node))
        for model in listed["models"]:
            with self.subTest(module=model["tag"]):
                onnx.checker.check_model(model["output"], full_check=True)
                spec = model["output"] + ".inputs.json"
                with open(spec, "w") as f:
                    json.dump({"inputs": [tensors[name] for name in model["inputs"]]}, f)
                code, got, stderr = ort_run(model["output"], spec, "disabled")
                self.assertEqual(code, 0, stderr)
                self.assertTrue(got)
                for output in got:
                    expected = tensors[output["name"]]
                    self.assertEqual((output["dims"], output["data"]),
                                     (expected["dims"], expected["data"]), output["name"])


for _name in FIXTURES:
    globals()["Extract_" + _name] = type("Extract_" + _name, (ExtractTests, unittest.TestCase),
                                         {"NAME": _name})
del _name

if __name__ == "__main__":
    unittest.main()
