"""End-to-end checks of `converter profile` on real onnxruntime profiles.

Every fixture of testdata/models is tagged, then run by onnxruntime-node
1.30 with profiling on (tests/integration/ort_profile.js), 3 runs each:

- (a) with graph optimization disabled, so that the node events name the
  tagged model's nodes;
- (b) at level `all`, saving the graph the session ran
  (optimizedModelFilePath), whose fused nodes carry no tags; `profile
  --optimized` transfers the tags onto it in memory.

For both, the tests check against the profile as read here with Python's
json: every node event is attributed to a module; the self times of the
modules sum to the node events' durations exactly (integer microseconds);
each module's total is its self time plus its children's totals; the
flame graph parses as XML with box widths proportional to the totals; the
folded stacks sum to the same total. A profile with events of nodes the
model lacks is reported with the count; a profile of another model is
refused with nothing written.

Run from the repository root with Debian's python (tests/integration/run.sh).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree

from test_tagged_models import (FIXTURES, MODELS, NODE, random_inputs, require_consumer,
                                run_converter, tag, write_spec)

import jsonschema
import onnx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORT_PROFILE = os.path.join(REPO, "tests", "integration", "ort_profile.js")
RUNS = 3
SVG = "{http://www.w3.org/2000/svg}"
SCHEMA = os.path.join(REPO, "proto", "profile.schema.json")
FLAME_GRAPH_WIDTH = 1200.0  # kFlameGraphWidth in hp/profile/flame_graph.h


def ort_profile(model, inputs, level, prefix, optimized=None):
    """Runs the model RUNS times with profiling; returns the profile's path."""
    result = subprocess.run([NODE, ORT_PROFILE, model, inputs, level, str(RUNS), prefix]
                            + ([optimized] if optimized else []),
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError("ort_profile.js %s %s failed:\n%s" % (model, level, result.stderr))
    return result.stdout.strip()


def node_micros(profile):
    """The sum of "dur" over the profile's node kernel events, and their count."""
    with open(profile) as f:
        events = json.load(f)
    durations = [e["dur"] for e in events
                 if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    return sum(durations), len(durations)


def profile(model, profiles, *flags):
    return run_converter("profile", "--model", model, "--profile", ",".join(profiles), *flags)


def profile_json(model, profiles, *flags):
    result = profile(model, profiles, "--json", *flags)
    if result.returncode != 0:
        raise AssertionError("converter profile --model %s --profile %s %s failed (exit %d):\n%s"
                             % (model, ",".join(profiles), " ".join(flags), result.returncode,
                                result.stderr))
    return json.loads(result.stdout)


class Session:
    """One profiled session of a fixture, and what `profile` made of it."""

    def __init__(self, tagged, inputs, level, tmp, name):
        stem = os.path.join(tmp, "%s.%s" % (name, level))
        self.optimized = stem + ".optimized.onnx" if level == "all" else None
        self.profile = ort_profile(tagged, inputs, level, stem, self.optimized)
        self.svg = stem + ".svg"
        self.folded = stem + ".folded"
        flags = ["--svg", self.svg, "--folded", self.folded]
        if self.optimized:
            flags += ["--optimized", self.optimized]
        self.flags = flags
        self.result = profile_json(tagged, [self.profile], *flags)


class ProfileTest(unittest.TestCase):
    """Every fixture, profiled unoptimized and at level all."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hp_profile_")
        cls.fixtures = {}
        cls.setup_error = None
        try:
            for name in FIXTURES:
                original = os.path.join(MODELS, name + ".onnx")
                tagged = os.path.join(cls.tmp, name + ".tagged.onnx")
                tag(original, tagged)
                inputs = os.path.join(cls.tmp, name + ".inputs.json")
                write_spec(random_inputs(onnx.load(original), 0), inputs)
                cls.fixtures[name] = (tagged, {
                    level: Session(tagged, inputs, level, cls.tmp, name)
                    for level in ("disabled", "all")})
        except AssertionError as error:
            cls.setup_error = str(error)
            return
        lines = ["", "profile of onnxruntime sessions (node us: all, on fused nodes):"]
        for name, (_, sessions) in cls.fixtures.items():
            for level, session in sessions.items():
                totals = session.result["totals"]
                lines.append("  %-13s %-8s %6d us in %4d kernel calls, %6d us fused" % (
                    name, level, totals["node_micros"], totals["node_events"],
                    totals["fused_micros"]))
        sys.stderr.write("\n".join(lines) + "\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        require_consumer(self)
        if self.setup_error:
            self.fail(self.setup_error)

    def each(self):
        for name, (tagged, sessions) in self.fixtures.items():
            for level, session in sessions.items():
                with self.subTest(fixture=name, level=level):
                    yield tagged, session

    def test_every_node_event_is_attributed(self):
        for _, session in self.each():
            micros, count = node_micros(session.profile)
            totals = session.result["totals"]
            self.assertGreater(count, 0)
            self.assertEqual(totals["node_events"], count)
            self.assertEqual(totals["unknown_node_events"], 0)
            self.assertEqual(session.result["unknown_nodes"], [])
            self.assertEqual(totals["runs"], RUNS)

    def test_json_follows_its_schema(self):
        with open(SCHEMA) as f:
            schema = json.load(f)
        for _, session in self.each():
            jsonschema.validate(session.result, schema)

    def test_self_times_sum_to_the_node_events_exactly(self):
        for _, session in self.each():
            micros, _ = node_micros(session.profile)
            modules = session.result["modules"]
            self.assertEqual(sum(m["self_micros"] for m in modules), micros)
            self.assertEqual(session.result["totals"]["node_micros"], micros)
            roots = [m for m in modules if m["parent"] is None]
            self.assertEqual(len(roots), 1)
            self.assertEqual(roots[0]["total_micros"], micros)

    def test_each_total_is_the_sum_over_its_subtree(self):
        for _, session in self.each():
            modules = session.result["modules"]
            children = {}
            for module in modules:
                children.setdefault(module["parent"], []).append(module)
            for module in modules:
                below = children.get(module["tag"], [])
                self.assertEqual(module["total_micros"],
                                 module["self_micros"] + sum(c["total_micros"] for c in below),
                                 module["tag"])
                self.assertEqual(module["total_calls"],
                                 module["self_calls"] + sum(c["total_calls"] for c in below),
                                 module["tag"])
                self.assertLessEqual(module["fused_micros"], module["total_micros"])

    def test_fused_time_is_only_in_the_optimized_sessions(self):
        for name, (_, sessions) in self.fixtures.items():
            with self.subTest(fixture=name):
                self.assertEqual(sessions["disabled"].result["totals"]["fused_micros"], 0)
        # Level all fuses the transformer fixtures' attention and norms.
        self.assertGreater(self.fixtures["tiny_bert"][1]["all"].result["totals"]["fused_micros"], 0)

    def test_flame_graph_boxes_are_as_wide_as_their_totals(self):
        for _, session in self.each():
            totals = {m["tag"]: m["total_micros"] for m in session.result["modules"]}
            whole = session.result["totals"]["module_micros"]
            root = ElementTree.parse(session.svg).getroot()
            self.assertEqual(root.tag, SVG + "svg")
            boxes = {}
            for group in root.iter(SVG + "g"):
                title = group.find(SVG + "title").text
                tag_line, numbers = title.split("\n")[:2]
                rect = group.find(SVG + "rect")
                boxes[tag_line] = float(rect.get("width"))
                self.assertEqual(int(re.match(r"total (\d+) us", numbers).group(1)),
                                 totals[tag_line])
            self.assertEqual(set(boxes), {t for t, v in totals.items() if v > 0})
            for module_tag, width in boxes.items():
                self.assertAlmostEqual(width, FLAME_GRAPH_WIDTH * totals[module_tag] / whole,
                                       places=3, msg=module_tag)

    def test_folded_stacks_sum_to_the_same_total(self):
        for _, session in self.each():
            with open(session.folded) as f:
                lines = f.read().splitlines()
            self.assertTrue(lines)
            stacks = [line.rsplit(" ", 1) for line in lines]
            self.assertEqual(sum(int(n) for _, n in stacks),
                             session.result["totals"]["module_micros"])
            self.assertEqual(len({s for s, _ in stacks}), len(stacks))
            self.assertEqual(session.result["totals"]["module_micros"],
                             node_micros(session.profile)[0])

    def test_events_of_nodes_missing_from_the_model_are_counted(self):
        tagged, sessions = self.fixtures["tiny_bert"]
        with open(sessions["disabled"].profile) as f:
            events = json.load(f)
        extra = {"cat": "Node", "ph": "X", "name": "/not/in/the/model_kernel_time", "dur": 5,
                 "ts": 1, "pid": 1, "tid": 1, "args": {"op_name": "MatMul"}}
        events[2:2] = [extra, dict(extra, dur=6), dict(extra, name="/other_kernel_time")]
        path = os.path.join(self.tmp, "tiny_bert.extra.json")
        with open(path, "w") as f:
            json.dump(events, f)
        result = profile_json(tagged, [path])
        self.assertEqual(result["totals"]["unknown_node_events"], 3)
        self.assertEqual(result["totals"]["unknown_node_micros"], 16)
        self.assertEqual(result["unknown_nodes"],
                         [{"name": "/not/in/the/model", "events": 2, "micros": 11},
                          {"name": "/other", "events": 1, "micros": 5}])
        text = profile(tagged, [path])
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("nodes not in the model: 3 events, 16 us", text.stdout)

    def test_a_profile_of_another_model_is_refused(self):
        bert, bert_sessions = self.fixtures["tiny_bert"]
        resnet, resnet_sessions = self.fixtures["tiny_resnet"]
        for model, other in ((bert, resnet_sessions["disabled"].profile),
                             (resnet, bert_sessions["disabled"].profile)):
            with self.subTest(model=model):
                svg = os.path.join(self.tmp, "refused.svg")
                result = profile(model, [other], "--svg", svg)
                self.assertEqual(result.returncode, 1)
                self.assertIn(other, result.stderr)
                self.assertIn("node events name nodes the model does not have",
                              result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertFalse(os.path.exists(svg))

    def test_an_optimized_session_without_optimized_is_refused(self):
        tagged, sessions = self.fixtures["tiny_bert"]
        result = profile(tagged, [sessions["all"].profile])
        self.assertEqual(result.returncode, 1)
        self.assertIn("--optimized", result.stderr)

    def test_profiles_merge(self):
        tagged, sessions = self.fixtures["tiny_bert"]
        one = sessions["disabled"].profile
        result = profile_json(tagged, [one, one], "--runs_skip", "1")
        self.assertEqual(result["totals"]["runs"], 2 * (RUNS - 1))
        self.assertEqual(result["totals"]["runs_skipped"], 2)
        single = profile_json(tagged, [one], "--runs_skip", "1")
        self.assertEqual(result["totals"]["node_micros"], 2 * single["totals"]["node_micros"])


if __name__ == "__main__":
    unittest.main()
