"""Writes testdata/external_data: mlp.onnx, a small two-layer MLP whose
weights live in the side file mlp.onnx.data (ONNX external data, as every
model over 2 GB keeps them), for the tests that tag such a model into
another folder.

    /usr/bin/python3 testdata/generator/make_external_data.py --out testdata/external_data

Node names are torch.onnx's (/fc1/MatMul, ...), so tags come from them without
a trace. Debian's python3-onnx (1.12) and numpy; no torch. The same bytes on
every run (seeded weights, fixed producer).
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIDE_FILE = "mlp.onnx.data"


def build_model():
    rng = np.random.default_rng(2024)

    def weight(name, *dims):
        return numpy_helper.from_array(rng.standard_normal(dims).astype(np.float32), name)

    initializers = [weight("fc1.weight", 16, 32), weight("fc1.bias", 32),
                    weight("fc2.weight", 32, 8), weight("fc2.bias", 8)]
    nodes = [
        helper.make_node("MatMul", ["x", "fc1.weight"], ["/fc1/MatMul_output_0"], "/fc1/MatMul"),
        helper.make_node("Add", ["/fc1/MatMul_output_0", "fc1.bias"], ["/fc1/Add_output_0"],
                         "/fc1/Add"),
        helper.make_node("Relu", ["/fc1/Add_output_0"], ["/act/Relu_output_0"], "/act/Relu"),
        helper.make_node("MatMul", ["/act/Relu_output_0", "fc2.weight"],
                         ["/fc2/MatMul_output_0"], "/fc2/MatMul"),
        helper.make_node("Add", ["/fc2/MatMul_output_0", "fc2.bias"], ["y"], "/fc2/Add"),
    ]
    graph = helper.make_graph(
        nodes, "torch_jit",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        initializers)
    model = helper.make_model(graph, producer_name="hp-testdata", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write mlp.onnx and its side file to")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    side_file = os.path.join(args.out, SIDE_FILE)
    # onnx appends to an existing side file: start from none.
    if os.path.exists(side_file):
        os.remove(side_file)
    model_path = os.path.join(args.out, "mlp.onnx")
    onnx.save_model(build_model(), model_path, save_as_external_data=True,
                    all_tensors_to_one_file=True, location=SIDE_FILE, size_threshold=0)
    onnx.checker.check_model(model_path)
    print("wrote %s and %s" % (model_path, side_file))


if __name__ == "__main__":
    main()
