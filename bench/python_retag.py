"""The comparison point for run.sh: re-tag a model with Debian's python3-onnx.

Loads the model, writes one string per node and saves it. python3-onnx 1.12
has no NodeProto.metadata_props, so the per-node string goes into
doc_string: the node name's scope ("/layers.3/mlp/fc1"), a stand-in for the
tag. This is less work than hp does (no trace, no tag rules, one string per
node instead of three metadata entries), so the comparison favours python.

    /usr/bin/python3 bench/python_retag.py IN.onnx OUT.onnx
"""
import sys

import onnx


def main(source, destination):
    model = onnx.load(source)
    for node in model.graph.node:
        node.doc_string = node.name.rsplit("/", 1)[0]
    onnx.save(model, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
