"""Writes a synthetic onnxruntime profile of a model, for bench/profile.sh.

    python3 bench/make_profile.py MODEL.onnx OUT.json EVENTS [RUNS]

EVENTS node events in the shape onnxruntime 1.30 writes them (one
"<node>_kernel_time" event per node run, with its args), cycling through
the model's main-graph nodes in order, split into RUNS runs each closed by
a model_run event. Durations are 1 to 100 us from a fixed sequence, so the
file is the same on every machine.
"""

import json
import sys

import onnx


def main():
    model_path, out_path, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    model = onnx.load(model_path, load_external_data=False)
    nodes = [(n.name, n.op_type) for n in model.graph.node]
    del model
    per_run = (events + runs - 1) // runs
    ts = 1000
    with open(out_path, "w") as out:
        out.write('[\n{"cat" : "Session","pid" :1,"tid" :1,"dur" :5000,"ts" :1,"ph" : "X",'
                  '"name" :"session_initialization","args" : {}}')
        written = 0
        for run in range(runs):
            start = ts
            for i in range(min(per_run, events - written)):
                name, op = nodes[(written + i) % len(nodes)]
                dur = 1 + (written + i) * 7919 % 100
                out.write(',\n{"cat" : "Node","pid" :1,"tid" :1,"dur" :%d,"ts" :%d,"ph" : "X",'
                          '"name" :%s,"args" : {"thread_scheduling_stats":"",'
                          '"output_size":"4096","parameter_size":"0","activation_size":"4096",'
                          '"node_index":"%d","input_type_shape":[{"float":[1,1024]}],'
                          '"output_type_shape":[{"float":[1,1024]}],"provider":'
                          '"CPUExecutionProvider","op_name":%s}}'
                          % (dur, ts, json.dumps(name + "_kernel_time"),
                             (written + i) % len(nodes), json.dumps(op)))
                ts += dur + 1
            written += min(per_run, events - written)
            out.write(',\n{"cat" : "Session","pid" :1,"tid" :1,"dur" :%d,"ts" :%d,"ph" : "X",'
                      '"name" :"model_run","args" : {}}' % (ts - start, start))
        out.write("\n]\n")


if __name__ == "__main__":
    main()
