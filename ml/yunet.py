"""YuNet run by onnxruntime: the same boxes and scores OpenCV's FaceDetectorYN gives, in half
its time.

OpenCV's DNN module ran the shipped file (OpenCV Zoo's `face_detection_yunet_2023mar_int8bq`)
in 9.5 ms a 320x240 picture on one thread; onnxruntime runs the graph derived here in 5.0 ms
(docs/BENCHMARKS.md, get_biz_token). onnxruntime cannot run the file as shipped, for two
reasons in the file, not in the network:

- its input is fixed at 640x640 (OpenCV reshapes the network for each picture size); the
  derived graph takes any height and width (its Reshape and Resize nodes are size-free);
- its weights are int8 blocks dequantized by DequantizeLinear nodes whose `block_size`
  attribute onnxruntime refuses on the per-tensor biases; the derived graph holds the
  dequantized float32 weights (computed once here, exactly as the node would: (q - zero) *
  scale, block by block), which is also what OpenCV computes with.

`YuNet.detect` then does what FaceDetectorYN::detect does around the network: pad the picture
with black to a multiple of 32 on the right and bottom, feed it as BGR 0-255, decode each
stride's grid (score = sqrt(cls * obj), box from the cell and exp(size) * stride), and keep
the boxes OpenCV's own NMS keeps (cv2.dnn.NMSBoxes on the integer boxes, as OpenCV does).
tests/test_ml_perception.py holds it to FaceDetectorYN's output on the test photos.
"""

from pathlib import Path

import numpy as np

INPUT = "input"
STRIDES = (8, 16, 32)
PAD_DIVISOR = 32


def runtime_graph(path: Path) -> bytes:
    """The serialised model onnxruntime should load in place of the file at `path`."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    if [value.name for value in graph.input] != [INPUT]:
        raise ValueError(f"{path.name}: expected one graph input named {INPUT!r}")
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        for dim in output.type.tensor_type.shape.dim:
            dim.dim_param = "anchors"
    del graph.value_info[:]   # shapes inferred for 640x640; onnxruntime infers its own

    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    kept, dequantized = [], []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(
                name in constants for name in node.input if name):
            values = _dequantized(node, constants)
            constants[node.output[0]] = values
            dequantized.append(numpy_helper.from_array(values, node.output[0]))
        else:
            kept.append(node)
    read = {name for node in kept for name in node.input}
    initializers = [t for t in graph.initializer if t.name in read]
    initializers += [t for t in dequantized if t.name in read]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.node[:]
    graph.node.extend(kept)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _dequantized(node, constants: dict[str, np.ndarray]) -> np.ndarray:
    """What the DequantizeLinear `node` computes from constant inputs: (q - zero) * scale,
    per tensor, per channel along `axis`, or per block of `block_size` along it."""
    attributes = {a.name: a.i for a in node.attribute}
    quantized = constants[node.input[0]].astype(np.float32)
    scale = constants[node.input[1]].astype(np.float32)
    zero = (constants[node.input[2]].astype(np.float32)
            if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
    if scale.size == 1:
        return ((quantized - zero.reshape(())) * scale.reshape(())).astype(np.float32)
    axis = attributes.get("axis", 1) % quantized.ndim
    block = attributes.get("block_size", 0)
    if block and scale.ndim == quantized.ndim:
        length = quantized.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(np.arange(length), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(np.arange(length), axis=axis)
    else:
        shape = [1] * quantized.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((quantized - zero) * scale).astype(np.float32)


class YuNet:
    """Face boxes (x, y, w, h) and scores of a BGR picture, as FaceDetectorYN finds them."""

    def __init__(self, path: Path, *, score_min: float, nms_iou: float = 0.3,
                 top_k: int = 5000):
        import onnxruntime

        from .device import onnx_session_options
        from .onnx_modules import derived_graph

        self._session = onnxruntime.InferenceSession(
            derived_graph(path, runtime_graph), onnx_session_options(),
            providers=["CPUExecutionProvider"])
        outputs = [o.name for o in self._session.get_outputs()]
        self._outputs = [f"{kind}_{stride}" for kind in ("cls", "obj", "bbox")
                         for stride in STRIDES]
        missing = set(self._outputs) - set(outputs)
        if missing:
            raise ValueError(f"{path.name}: YuNet outputs missing: {sorted(missing)}")
        self.score_min, self.nms_iou, self.top_k = score_min, nms_iou, top_k

    def detect(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes, scores): boxes as float (x, y, w, h) rows in the picture's pixels, best
        score first, after non-maximum suppression."""
        import cv2

        height, width = bgr.shape[:2]
        padded_h = ((height - 1) // PAD_DIVISOR + 1) * PAD_DIVISOR
        padded_w = ((width - 1) // PAD_DIVISOR + 1) * PAD_DIVISOR
        blob = np.zeros((1, 3, padded_h, padded_w), np.float32)
        blob[0, :, :height, :width] = bgr.transpose(2, 0, 1)
        found = self._session.run(self._outputs, {INPUT: blob})
        boxes, scores = [], []
        for i, stride in enumerate(STRIDES):
            cls, obj, bbox = (found[i].reshape(-1), found[i + len(STRIDES)].reshape(-1),
                              found[i + 2 * len(STRIDES)].reshape(-1, 4))
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            cells = np.flatnonzero(score >= self.score_min)
            if cells.size == 0:
                continue
            columns = padded_w // stride
            rows, cols = np.divmod(cells, columns)
            cell = bbox[cells]
            centre_x = (cols + cell[:, 0]) * stride
            centre_y = (rows + cell[:, 1]) * stride
            w = np.exp(cell[:, 2]) * stride
            h = np.exp(cell[:, 3]) * stride
            boxes.append(np.stack([centre_x - w / 2, centre_y - h / 2, w, h], axis=1))
            scores.append(score[cells])
        if not boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        all_boxes = np.concatenate(boxes).astype(np.float32)
        all_scores = np.concatenate(scores).astype(np.float32)
        if len(all_boxes) > 1:
            # OpenCV suppresses on the boxes truncated to integers (FaceDetectorYN does)
            whole = [tuple(int(v) for v in box) for box in all_boxes]
            keep = np.asarray(cv2.dnn.NMSBoxes(whole, all_scores.tolist(), self.score_min,
                                               self.nms_iou, 1.0, self.top_k),
                              dtype=int).reshape(-1)
            all_boxes, all_scores = all_boxes[keep], all_scores[keep]
        return all_boxes, all_scores
