"""A derived model for `transfer`'s benchmark where no node is kept.

nodes_1m is one chain of nodes without type information, which onnxruntime
refuses to load, so it cannot be optimized for real. This stands in for a
fusing optimizer: each pair of consecutive nodes becomes one node
(`com.example` FusedPair) that reads the first's inputs and writes the
second's outputs, named after the second. Every node of the result
replaces two original ones, so transfer takes its replacing path (tensor
index, data-flow walks) for all of them.

    /usr/bin/python3 bench/fuse_pairs.py nodes_1m.onnx nodes_1m.fused.onnx
"""
import sys

import onnx
from onnx import helper


def main(source, destination):
    model = onnx.load(source)
    nodes = list(model.graph.node)
    fused = []
    for first, second in zip(nodes[0::2], nodes[1::2]):
        fused.append(helper.make_node("FusedPair", list(first.input), list(second.output),
                                      name=second.name + "/FusedPair", domain="com.example"))
    if len(nodes) % 2:
        fused.append(nodes[-1])
    del model.graph.node[:]
    model.graph.node.extend(fused)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(model, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
