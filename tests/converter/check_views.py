"""End-to-end checks of `converter analyze|validate|graphml|dot|tag --metadata`.

Expected counts come from the fixtures themselves, never from the converter:
node and edge counts from the .onnx files (read with python3-onnx), module
instances from the tags in *.expected.json (every tag and its ancestors).
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ElementTree

import jsonschema
import networkx
import onnx

ARGS = None
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def run(*args, ok=True):
    """Runs the converter; returns (returncode, stdout, stderr)."""
    done = subprocess.run([ARGS.converter, *args], capture_output=True, text=True)
    if ok and done.returncode != 0:
        raise AssertionError(
            "converter %s failed (%d):\n%s%s"
            % (" ".join(args), done.returncode, done.stdout, done.stderr))
    return done.returncode, done.stdout, done.stderr


def schema(name):
    with open(os.path.join(ARGS.schemas, name + ".schema.json")) as f:
        document = json.load(f)
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def all_nodes(graph, out):
    for node in graph.node:
        out.append(node)
        for attribute in node.attribute:
            if attribute.HasField("g"):
                all_nodes(attribute.g, out)
            for body in attribute.graphs:
                all_nodes(body, out)
    return out


def model_counts(path):
    """(nodes, node-to-node edges): one edge per node input another node
    produces (ONNX names are unique across nested graphs)."""
    nodes = all_nodes(onnx.load(path).graph, [])
    produced = {output for node in nodes for output in node.output if output}
    edges = sum(1 for node in nodes for name in node.input if name in produced)
    return len(nodes), edges


def expected(fixture):
    with open(os.path.join(ARGS.models, fixture + ".expected.json")) as f:
        return json.load(f)


def module_instances(tags):
    """Every tag and its ancestors: the modules that hold ops."""
    instances = set()
    for tag in tags:
        while tag:
            instances.add(tag)
            tag = tag[: tag.rfind("/")] if tag.rfind("/") > 0 else ""
    return instances


FIXTURES = []  # every testdata/models/*.onnx, by stem; set in main()


class FixtureChecks(unittest.TestCase):
    def path(self, fixture, suffix=".onnx"):
        return os.path.join(ARGS.models, fixture + suffix)

    def out(self, name):
        return os.path.join(ARGS.tmp, name)

    def tagged(self, fixture, tag_format="metadata"):
        """Tags the fixture with its trace; returns (model, sidecar) paths."""
        model = self.out("%s.%s.onnx" % (fixture, tag_format))
        sidecar = self.out("%s.%s.json" % (fixture, tag_format))
        if not os.path.exists(sidecar):
            run("tag", "--model", self.path(fixture), "--output", model,
                "--tag_format", tag_format, "--metadata", sidecar)
        return model, sidecar

    def test_analyze_json_matches_schema_and_counts(self):
        validator = schema("analyze")
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                nodes, _ = model_counts(self.path(fixture))
                for model, extra in [(self.path(fixture), []),
                                     (self.tagged(fixture)[0],
                                      ["--trace", self.path(fixture, ".trace.json")])]:
                    _, out, _ = run("analyze", "--json", "--model", model, *extra)
                    analysis = json.loads(out)
                    validator.validate(analysis)
                    self.assertEqual(analysis["statistics"]["nodes"], nodes)
                    self.assertEqual(analysis["statistics"]["matches"]["unknown"], 0)
                    self.assertEqual(len(analysis["modules"]), 1)
                    root = analysis["modules"][0]
                    self.assertEqual(root["tag"], expected(fixture)["root_tag"])
                    self.assertEqual(root["subtree_nodes"], nodes)
                    self.assertEqual(analysis["tags_from"],
                                     "computed" if not extra else "model")

    def test_analyze_text_is_an_indented_tree(self):
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                _, out, _ = run("analyze", "--model", self.path(fixture))
                root = expected(fixture)["root_tag"]
                self.assertIn("\n%s: " % root, out)
                self.assertRegex(out, r"\nnodes: \d+ \(")

    def test_sidecar_matches_schema_and_files(self):
        validator = schema("sidecar")
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                model, sidecar_path = self.tagged(fixture)
                with open(sidecar_path) as f:
                    sidecar = json.load(f)
                validator.validate(sidecar)
                context = sidecar["export"]
                self.assertEqual(context["input_model"]["sha256"],
                                 sha256(self.path(fixture)))
                self.assertEqual(context["trace"]["sha256"],
                                 sha256(self.path(fixture, ".trace.json")))
                self.assertEqual(context["output_model"]["sha256"], sha256(model))
                nodes, _ = model_counts(model)
                self.assertEqual(sidecar["model"]["node_count"], nodes)
                want = [(n["graph"], n["name"], n["tag"])
                        for n in expected(fixture)["nodes"]]
                got = [(n["graph"], n["name"], n["tag"]) for n in sidecar["nodes"]]
                self.assertEqual(got, want)

    def test_validate_accepts_every_format(self):
        for fixture in FIXTURES:
            for tag_format in ["metadata", "attribute", "doc_string"]:
                with self.subTest(fixture=fixture, format=tag_format):
                    model, sidecar = self.tagged(fixture, tag_format)
                    _, out, _ = run("validate", "--model", model, "--trace",
                                    self.path(fixture, ".trace.json"),
                                    "--sidecar", sidecar)
                    self.assertIn("valid", out)

    def test_graphml_opens_in_networkx_with_the_models_counts(self):
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                graphml = self.out(fixture + ".graphml")
                run("graphml", "--model", self.path(fixture), "--output", graphml)
                nodes, edges = model_counts(self.path(fixture))
                graph = networkx.read_graphml(graphml)
                kinds = networkx.get_node_attributes(graph, "kind")
                ops = [n for n, kind in kinds.items() if kind == "op"]
                modules = [n for n, kind in kinds.items() if kind == "module"]
                self.assertEqual(len(ops), nodes)
                self.assertEqual(graph.number_of_edges(), edges)
                tags = [n["tag"] for n in expected(fixture)["nodes"]]
                self.assertEqual(len(modules), len(module_instances(tags)))
                for _, _, data in graph.edges(data=True):
                    self.assertTrue(data["tensor"])
                self.check_nesting(graphml)

    def check_nesting(self, graphml):
        """Every op node sits directly in the group node of exactly its tag."""
        tree = ElementTree.parse(graphml)

        def data(node, key):
            for element in node.findall(GRAPHML + "data"):
                if element.get("key") == key:
                    return element.text or ""
            return None

        def visit(graph, module_tag):
            for node in graph.findall(GRAPHML + "node"):
                if data(node, "kind") == "op":
                    self.assertEqual(data(node, "tag"), module_tag,
                                     data(node, "name"))
                else:
                    tag = data(node, "tag")
                    if module_tag is not None:
                        self.assertEqual(tag[: tag.rfind("/")], module_tag)
                    visit(node.find(GRAPHML + "graph"), tag)

        visit(tree.getroot().find(GRAPHML + "graph"), None)

    def test_dot_renders_one_cluster_per_module_instance(self):
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                dot = self.out(fixture + ".dot")
                svg = self.out(fixture + ".svg")
                run("dot", "--model", self.path(fixture), "--output", dot)
                subprocess.run(["/usr/bin/dot", "-Tsvg", dot, "-o", svg], check=True)
                with open(svg) as f:
                    text = f.read()
                clusters = len(re.findall(r'class="cluster"', text))
                tags = [n["tag"] for n in expected(fixture)["nodes"]]
                self.assertEqual(clusters, len(module_instances(tags)))
                nodes, _ = model_counts(self.path(fixture))
                self.assertEqual(len(re.findall(r'class="node"', text)), nodes)
                print("%s: %d clusters, %d nodes" % (fixture, clusters, nodes),
                      file=sys.stderr)


class BadInputs(unittest.TestCase):
    def test_validate_refuses_an_untagged_model(self):
        code, _, err = run("validate", "--model",
                           os.path.join(ARGS.models, "tiny_bert.onnx"), ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("tiny_bert.onnx: not tagged by hp", err)
        self.assertIn("run converter tag first", err)

    def test_a_missing_trace_file_is_named(self):
        for command in ["analyze", "validate", "graphml", "dot"]:
            with self.subTest(command=command):
                code, _, err = run(command, "--model",
                                   os.path.join(ARGS.models, "tiny_bert.onnx"),
                                   "--trace", "/nonexistent/t.trace.json",
                                   "--output", os.path.join(ARGS.tmp, "x.out"),
                                   ok=False)
                self.assertNotEqual(code, 0)
                self.assertTrue("/nonexistent/t.trace.json" in err
                                or "not tagged" in err, err)

    def test_a_sidecar_from_another_model_is_named(self):
        checks = FixtureChecks()
        bert, _ = checks.tagged("tiny_bert")
        _, gpt_sidecar = checks.tagged("tiny_gpt")
        code, out, err = run("validate", "--model", bert, "--trace",
                             os.path.join(ARGS.models, "tiny_bert.trace.json"),
                             "--sidecar", gpt_sidecar, ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("describes a model of sha256", out)
        self.assertIn("problems found", err)

    def test_a_damaged_tag_is_named_with_its_node(self):
        checks = FixtureChecks()
        model_path, _ = checks.tagged("tiny_bert", "doc_string")
        model = onnx.load(model_path)
        node = next(n for n in model.graph.node
                    if n.name.startswith("/encoder/layer.1/"))
        doc = json.loads(node.doc_string)
        doc["hierarchy_tag"] = "/TinyBertModel/BertEncoder/BertLayer.0"
        node.doc_string = json.dumps(doc)
        damaged = os.path.join(ARGS.tmp, "damaged.onnx")
        onnx.save(model, damaged)
        code, out, _ = run("validate", "--model", damaged, "--trace",
                           os.path.join(ARGS.models, "tiny_bert.trace.json"),
                           ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("node '%s' (%s) in main" % (node.name, node.op_type), out)

    def test_a_tagged_model_alone_shows_what_tag_counted(self):
        # No trace beside the tagged file: analyze and validate read the
        # tags, module paths and match kinds hp stored.
        checks = FixtureChecks()
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                for tag_format in ("metadata", "attribute", "doc_string"):
                    model, sidecar = checks.tagged(fixture, tag_format)
                    with open(sidecar) as f:
                        counted = json.load(f)["statistics"]
                    _, out, err = run("analyze", "--json", "--model", model)
                    self.assertEqual(err, "")
                    matches = json.loads(out)["statistics"]["matches"]
                    self.assertEqual(matches["unknown"], 0)
                    for kind in ("direct", "parent", "root", "propagated"):
                        self.assertEqual(matches[kind], counted[kind], kind)
                    _, out, _ = run("validate", "--model", model)
                    self.assertIn("stored tags and match kinds consistent", out)

    def test_validate_alone_names_a_changed_match_kind(self):
        checks = FixtureChecks()
        # python3-onnx 1.12 has no NodeProto.metadata_props: the doc_string
        # format is edited instead.
        model, _ = checks.tagged("tiny_bert", "doc_string")
        changed = onnx.load(model)
        doc = json.loads(changed.graph.node[0].doc_string)
        doc["match"] = "root" if doc["match"] != "root" else "direct"
        changed.graph.node[0].doc_string = json.dumps(doc)
        path = checks.out("tiny_bert.changed_match.onnx")
        onnx.save(changed, path)
        code, out, _ = run("validate", "--model", path, ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("pkg.hp.statistics counts", out)

    def test_a_trace_of_another_model_is_refused(self):
        code, _, err = run("analyze", "--model",
                           os.path.join(ARGS.models, "tiny_bert.onnx"), "--trace",
                           os.path.join(ARGS.models, "tiny_gpt.trace.json"),
                           ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("the trace belongs to another model", err)

    def test_drawings_need_an_output_and_spare_the_model(self):
        model = os.path.join(ARGS.models, "tiny_bert.onnx")
        code, _, err = run("graphml", "--model", model, ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("--output is required", err)
        code, _, err = run("dot", "--model", model, "--output", model, ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("refusing to overwrite the input model", err)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--converter", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--tmp", required=True)
    ARGS, rest = parser.parse_known_args()
    FIXTURES.extend(sorted(name[: -len(".onnx")]
                           for name in os.listdir(ARGS.models)
                           if name.endswith(".onnx")))
    if not FIXTURES:
        sys.exit("no fixtures in %s" % ARGS.models)
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
