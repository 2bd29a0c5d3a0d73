"""The recorder installs like a Python package, offline: README's command
(pip install --no-build-isolation --no-index ./recorder) in a virtual
environment that sees Debian's torch, then a fixture model exported through
the installed hp_record, with the source tree nowhere on sys.path."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDER = os.path.join(REPO, "recorder")
GENERATOR = os.path.join(REPO, "testdata", "generator")
SCHEMA_PATH = os.path.join(REPO, "proto", "scope_trace.schema.json")

import jsonschema  # noqa: E402

# Run in the virtual environment with -I (no PYTHONPATH, no user site, not
# the script's folder) and -B (no bytecode written into testdata/generator).
# Only the fixture models' folder is added to sys.path, after the check.
EXPORT_SCRIPT = r'''
import json
import os
import sys

generator, out = sys.argv[1:3]
path_before_import = list(sys.path)
sys.path.append(generator)
import onnx
import torch
import fixture_models
import hp_record

model = fixture_models.TinyBertModel().eval()
input_ids = torch.randint(0, 50, (2, 8), generator=torch.Generator().manual_seed(1))
mask = torch.ones(2, 8, dtype=torch.int64)
onnx_path = os.path.join(out, "tiny_bert.onnx")
trace = hp_record.export(model, (input_ids, mask), onnx_path, opset_version=17,
                         input_names=["input_ids", "attention_mask"])
onnx.checker.check_model(onnx.load(onnx_path), full_check=True)
json.dump({
    "hp_record_file": hp_record.__file__,
    "prefix": sys.prefix,
    "sys_path": path_before_import,
    "returned": trace,
    "modules": {name: hp_record.qualified_class(module)
                for name, module in model.named_modules()},
    "structure_sha256": hp_record.structure_sha256(onnx_path),
}, sys.stdout)
'''


def clean_environment():
    """os.environ without what would make the run depend on this machine:
    PYTHONPATH and friends, and pip's settings (a find-links folder, a
    config file) other than the ones set here."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    return env


class InstalledRecorderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.env = clean_environment()
        venv = os.path.join(cls.tmp.name, "venv")
        cls.python = os.path.join(venv, "bin", "python")
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                       check=True, env=cls.env, stdout=subprocess.DEVNULL)
        # A copy of recorder/: pip builds in the source folder (build/,
        # *.egg-info), which the test must not write into the checkout.
        shutil.copytree(RECORDER, os.path.join(cls.tmp.name, "recorder"),
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        cls.install = subprocess.run(
            [cls.python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
             "./recorder"],
            cwd=cls.tmp.name, env=cls.env, capture_output=True, text=True)

    def run_in_venv(self, *args):
        return subprocess.run([self.python, "-I", "-B", *args], cwd=self.tmp.name,
                              env=self.env, capture_output=True, text=True)

    def test_pip_installs_the_package_offline(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)
        self.assertIn("Successfully installed hp-record-0.1.0", self.install.stdout)
        shown = self.run_in_venv("-m", "pip", "show", "hp-record")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("Version: 0.1.0", shown.stdout)
        self.assertIn("Requires: torch", shown.stdout)

    def test_system_python_does_not_see_it(self):
        # The test's own interpreter finds no hp_record outside the source
        # tree, so the export below can only have used the installed one.
        found = subprocess.run(
            ["/usr/bin/python3", "-I", "-c",
             "import importlib.util; print(importlib.util.find_spec('hp_record'))"],
            cwd=self.tmp.name, env=self.env, capture_output=True, text=True)
        self.assertEqual(found.stdout.strip(), "None", found.stderr)

    def test_exports_a_fixture_model_through_the_installed_package(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        out = os.path.join(self.tmp.name, "out")
        os.mkdir(out)
        run = self.run_in_venv("-c", EXPORT_SCRIPT, GENERATOR, out)
        self.assertEqual(run.returncode, 0, run.stderr)
        report = json.loads(run.stdout)

        # Imported from the venv's site-packages, not from the source tree.
        site_packages = os.path.join(report["prefix"], "lib")
        self.assertTrue(report["hp_record_file"].startswith(site_packages + os.sep),
                        report["hp_record_file"])
        self.assertFalse(report["hp_record_file"].startswith(REPO + os.sep))
        for entry in report["sys_path"]:
            self.assertFalse(os.path.realpath(entry or os.getcwd()).startswith(REPO),
                             "%s is on sys.path" % entry)

        # Both files written; the trace on disk is the one returned, valid
        # against the schema, and describes this model and this export.
        self.assertEqual(sorted(os.listdir(out)), ["tiny_bert.onnx", "tiny_bert.trace.json"])
        with open(os.path.join(out, "tiny_bert.trace.json"), encoding="utf-8") as f:
            trace = json.load(f)
        self.assertEqual(trace, report["returned"])
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            jsonschema.Draft202012Validator(json.load(f)).validate(trace)
        self.assertEqual(trace["root"]["qualified_class"], "fixture_models.TinyBertModel")
        self.assertEqual({m["path"]: m["qualified_class"] for m in trace["modules"]},
                         report["modules"])
        self.assertIn("encoder.layer.1.attention.self.query", report["modules"])
        self.assertEqual(trace["model"]["onnx_structure_sha256"], report["structure_sha256"])
        self.assertEqual(trace["producer"]["name"], "hp_record")


if __name__ == "__main__":
    unittest.main()
