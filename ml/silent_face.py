"""Checkpoints in the public Silent-Face-Anti-Spoofing format (minivision-ai, Apache-2.0).

The authors' own MiniFASNetV2 (2.7x crop) and MiniFASNetV1SE (4x crop) ship in
ml/weights/silent_face/ with their licence and notice; `ml.pad_members.SilentFaceMember` runs them
as one member of the passive decision. Users may also bring other checkpoints of the format
(`PAD_MODEL_PATH`). This module rebuilds the MiniFASNet V1 / V2 / V1SE / V2SE layer layout so that
a `.pth` state dict of that format loads with strict key and shape checks, and reproduces the
format's inference contract as the authors' code applies it:

- the file name carries the crop: ``{scale}_{H}x{W}_{Type}.pth`` or
  ``{scale}_{shift_x}_{shift_y}_{H}x{W}_{Type}.pth`` (a crop `scale` times the face box, shifted
  by a fraction of the box, then moved inside the picture), ``org_1_{H}x{W}_{Type}.pth`` (the
  whole picture resized);
- the network sees **BGR** pixels as floats in 0..255, no normalisation;
- the state dict may carry DataParallel's ``module.`` prefix;
- class 1 of the softmax is the live face; the other classes are attacks;
- several models are combined by averaging their probabilities (the authors sum them and take
  the arg-max: the same verdict).

`AuthorsRetinaFace` is the authors' face detector (Caffe, through OpenCV's dnn): the crop moves
with the box, so their published scores are reproduced only with their box (tests do that).
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pad_score import PadScore, pad_scores

# Channel widths of the published variants, in layer order (the format's shapes; 49 entries:
# stem, stem depthwise, then 4 values per bottleneck chained end to start, then the head).
WIDTHS = {
    "MiniFASNetV1": (32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231,
                     231, 128, 154, 154, 128, 52, 52, 128, 26, 26, 128, 52, 52, 128, 26, 26, 128,
                     26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512),
    "MiniFASNetV2": (32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231,
                     231, 128, 231, 231, 128, 52, 52, 128, 26, 26, 128, 77, 77, 128, 26, 26, 128,
                     26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512),
}
WIDTHS["MiniFASNetV1SE"] = WIDTHS["MiniFASNetV1"]
WIDTHS["MiniFASNetV2SE"] = WIDTHS["MiniFASNetV2"]
VARIANTS = tuple(WIDTHS)
LIVE_CLASS = 1
EMBEDDING = 128
# (module name, index of its first width, bottlenecks, stride, residual)
STAGES = (("conv_23", 1, 1, 2, False), ("conv_3", 4, 4, 1, True),
          ("conv_34", 16, 1, 2, False), ("conv_4", 19, 6, 1, True),
          ("conv_45", 37, 1, 2, False), ("conv_5", 40, 2, 1, True))
# {scale | org}[_{shift_x}_{shift_y} | _1]_{H}x{W}_{Type}.pth
NAME = re.compile(r"^(?P<crop>org|[0-9.]+)(?P<middle>(?:_-?[0-9.]+)*)"
                  r"_(?P<h>\d+)x(?P<w>\d+)_(?P<variant>[A-Za-z0-9]+)\.pth?$")


class SilentFaceError(ValueError):
    """The file is not a checkpoint of the Silent-Face format this module can load."""


@dataclass(frozen=True)
class CropSpec:
    height: int
    width: int
    scale: float | None      # None: the whole picture ("org")
    shift_x: float = 0.0
    shift_y: float = 0.0


def parse_name(name: str) -> tuple[str, CropSpec]:
    match = NAME.match(name)
    if not match or match["variant"] not in WIDTHS:
        raise SilentFaceError(
            f"{name!r} does not follow the Silent-Face naming "
            f"'{{scale}}_{{H}}x{{W}}_{{Type}}.pth' with Type one of {', '.join(VARIANTS)}; "
            "rename the file or pass variant and crop explicitly")
    scale = None if match["crop"] == "org" else float(match["crop"])
    middle = [float(v) for v in match["middle"].split("_")[1:]]
    shift_x, shift_y = middle if scale is not None and len(middle) == 2 else (0.0, 0.0)
    return match["variant"], CropSpec(int(match["h"]), int(match["w"]), scale, shift_x, shift_y)


def build_network(variant: str, *, input_size=(80, 80), classes: int = 3):
    """An untrained network of `variant` whose state-dict keys and shapes are the format's."""
    import torch
    from torch import nn

    widths = WIDTHS[variant]
    squeeze_excite = variant.endswith("SE")

    class Unit(nn.Module):  # convolution, batch norm, optional PReLU (keys conv / bn / prelu)
        def __init__(self, cin, cout, kernel=1, stride=1, groups=1, act=True):
            super().__init__()
            # square kernels are padded to keep the size; the head's full-map kernel is not
            pad = kernel // 2 if isinstance(kernel, int) else 0
            self.conv = nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=False)
            self.bn = nn.BatchNorm2d(cout)
            self.prelu = nn.PReLU(cout) if act else None

        def forward(self, x):
            x = self.bn(self.conv(x))
            return self.prelu(x) if self.prelu is not None else x

    class SqueezeExcite(nn.Module):  # keys fc1 / bn1 / fc2 / bn2, channel reduction 4
        def __init__(self, channels):
            super().__init__()
            self.fc1 = nn.Conv2d(channels, channels // 4, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels // 4)
            self.fc2 = nn.Conv2d(channels // 4, channels, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            weights = nn.functional.adaptive_avg_pool2d(x, 1)
            weights = torch.relu(self.bn1(self.fc1(weights)))
            return x * torch.sigmoid(self.bn2(self.fc2(weights)))

    class Bottleneck(nn.Module):  # expand 1x1, depthwise 3x3, project 1x1 (keys conv/conv_dw/project)
        def __init__(self, first, stride, residual, excite):
            super().__init__()
            a, b, c, d = widths[first:first + 4]
            self.conv = Unit(a, b)
            self.conv_dw = Unit(b, c, 3, stride, groups=b)
            self.project = Unit(c, d, act=False)
            self.residual = residual
            if excite:
                self.se_module = SqueezeExcite(d)

        def forward(self, x):
            out = self.project(self.conv_dw(self.conv(x)))
            if not self.residual:
                return out
            if hasattr(self, "se_module"):
                out = self.se_module(out)
            return x + out

    class Chain(nn.Module):  # a residual stage: its blocks under `model.<i>`
        def __init__(self, first, count):
            super().__init__()
            self.model = nn.Sequential(*[
                Bottleneck(first + 3 * i, 1, True, squeeze_excite and i == count - 1)
                for i in range(count)])

        def forward(self, x):
            return self.model(x)

    class MiniFASNetFormat(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = Unit(3, widths[0], 3, 2)
            self.conv2_dw = Unit(widths[0], widths[1], 3, 1, groups=widths[1])
            for name, first, count, stride, residual in STAGES:
                setattr(self, name, Chain(first, count) if residual
                        else Bottleneck(first, stride, False, False))
            # the head's depthwise kernel covers the whole 1/16-size map
            kernel = ((input_size[0] + 15) // 16, (input_size[1] + 15) // 16)
            self.conv_6_sep = Unit(widths[46], widths[47])
            self.conv_6_dw = Unit(widths[47], widths[48], kernel, groups=widths[48], act=False)
            self.linear = nn.Linear(512, EMBEDDING, bias=False)
            self.bn = nn.BatchNorm1d(EMBEDDING)
            self.drop = nn.Dropout(0.2)
            self.prob = nn.Linear(EMBEDDING, classes, bias=False)

        def forward(self, x):
            x = self.conv2_dw(self.conv1(x))
            for name, *_ in STAGES:
                x = getattr(self, name)(x)
            x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
            return self.prob(self.drop(self.bn(self.linear(x))))

    return MiniFASNetFormat()


def authors_box(box) -> tuple[int, int, int, int]:
    """Our (x1, y1, x2, y2) float box as the authors' integer (x, y, w, h): their detector's
    corners are truncated and the width counts both edge pixels."""
    x1, y1, x2, y2 = box
    return int(x1), int(y1), int(x2 - x1 + 1), int(y2 - y1 + 1)


def crop_box(box, picture_size: tuple[int, int], spec: CropSpec) -> tuple[int, int, int, int]:
    """The authors' crop of a face box (x1, y1, x2, y2): scaled (no larger than the picture),
    shifted, then moved (not shrunk) to lie inside. Returns inclusive pixel corners
    (left, top, right, bottom), as the authors slice [top:bottom + 1, left:right + 1]."""
    width, height = picture_size
    x, y, box_w, box_h = authors_box(box)
    scale = min((height - 1) / box_h, (width - 1) / box_w, spec.scale)
    new_w, new_h = box_w * scale, box_h * scale
    cx = x + box_w / 2 + box_w * spec.shift_x
    cy = y + box_h / 2 + box_h * spec.shift_y
    left, top, right, bottom = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if left < 0:
        right, left = right - left, 0
    if top < 0:
        bottom, top = bottom - top, 0
    if right > width - 1:
        left, right = left - (right - width + 1), width - 1
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), height - 1
    return int(left), int(top), int(right), int(bottom)


def crop_context(box, picture_size: tuple[int, int], spec: CropSpec) -> float:
    """How much of the context the authors' crop asks for the picture can give: the scale the
    crop gets over the scale it asks for (1.0: the full crop fits; a tight face crop gets less,
    because the authors shrink the scale to the picture rather than pad)."""
    if spec.scale is None:
        return 1.0
    width, height = picture_size
    _, _, box_w, box_h = authors_box(box)
    return min((height - 1) / box_h, (width - 1) / box_w, spec.scale) / spec.scale


def inference_network(network, input_size: tuple[int, int], *, onnx: bool = True):
    """A copy of a MiniFASNet for inference, taking (N, 3, *input_size) batches: each batch
    norm folded into the convolution before it (`torch.nn.utils.fusion.fuse_conv_bn_eval`,
    a third fewer layers; one thread: MiniFASNetV2 8.9 -> 4.8 ms, V1SE 7.4 -> 5.5 ms), then,
    with `onnx`, run by onnxruntime (ml/onnx_modules.py): the same outputs to float rounding
    (3e-6 on 0..255 input, tests/test_ml_silent_face.py). A MiniFASNetV2, two threads, ms per
    batch, folded torch / onnxruntime: 1 crop 8.5-12 / 5.0-5.8, 3 crops 18-20 / 14-16, 5 crops
    22-25 / 20-21, 9 crops 22-28 / 30-34. So a network fed a face's one crop (a still burst's
    three at most) runs in onnxruntime, and one fed many windows a face (the texture member:
    five a face, fifteen for a burst) stays in torch. TorchScript's frozen trace held ~160 MiB
    more per worker process. The module itself stays as it is, for fine-tuning
    (ml/finetune_pad.py): the copy does not follow later changes to its weights."""
    import copy

    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(network).eval()
    for module in folded.modules():
        for conv_name, bn_name in (("conv", "bn"), ("fc1", "bn1"), ("fc2", "bn2")):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    if not onnx:
        return folded
    from .onnx_modules import onnx_module

    return onnx_module(folded, (3, *input_size))


def authors_patch(rgb: np.ndarray, box, spec: CropSpec) -> np.ndarray:
    """The authors' crop of the face (the whole picture for "org"), resized to the model's
    input; same channel order as `rgb`."""
    import cv2

    if spec.scale is None:
        patch = rgb
    else:
        left, top, right, bottom = crop_box(box, (rgb.shape[1], rgb.shape[0]), spec)
        patch = rgb[top:bottom + 1, left:right + 1]
    return cv2.resize(patch, (spec.width, spec.height))


class SilentFaceModel:
    """One checkpoint of the format, scoring (picture, face box) like the format's own code."""

    def __init__(self, network, variant: str, crop: CropSpec):
        self.network, self.variant, self.crop = network.eval(), variant, crop
        self._inference = inference_network(self.network, (crop.height, crop.width))

    @classmethod
    def load(cls, path: str | Path, *, variant: str | None = None,
             crop: CropSpec | None = None) -> "SilentFaceModel":
        import torch

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Silent-Face checkpoint not found: {path}")
        if variant is None or crop is None:
            named_variant, named_crop = parse_name(path.name)
            variant, crop = variant or named_variant, crop or named_crop
        try:
            # a bare state dict: no code runs while it is read
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise SilentFaceError(f"{path} is not a readable PyTorch state dict: {exc}") from exc
        if not isinstance(state, dict) or not state:
            raise SilentFaceError(f"{path} holds no state dict")
        state = {k.removeprefix("module."): v for k, v in state.items()}
        if "prob.weight" not in state:
            raise SilentFaceError(f"{path} has no 'prob.weight': not a MiniFASNet state dict")
        network = build_network(variant, input_size=(crop.height, crop.width),
                                classes=state["prob.weight"].shape[0])
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise SilentFaceError(f"{path} does not match the {variant} layout: "
                                  f"{str(exc).splitlines()[0]}") from exc
        return cls(network, variant, crop)

    def patch(self, rgb: np.ndarray, box) -> np.ndarray:
        return authors_patch(rgb, box, self.crop)

    def probabilities(self, rgb: np.ndarray, box) -> np.ndarray:
        import torch

        bgr = np.ascontiguousarray(self.patch(rgb, box)[:, :, ::-1], dtype=np.float32)
        tensor = torch.from_numpy(bgr).permute(2, 0, 1).unsqueeze(0)
        with torch.inference_mode():
            return torch.softmax(self._inference(tensor), dim=1)[0].numpy()

    def score(self, rgb: np.ndarray, box) -> PadScore:
        return _pad_score(self.probabilities(rgb, box))


class SilentFaceEnsemble:
    """Several checkpoints (a folder of them, as the format's demo uses): mean probabilities."""

    def __init__(self, models: list[SilentFaceModel]):
        if not models:
            raise SilentFaceError("an ensemble needs at least one checkpoint")
        if len({m.network.prob.out_features for m in models}) != 1:
            raise SilentFaceError("the checkpoints disagree on their number of classes")
        self.models = models

    @classmethod
    def load(cls, folder: str | Path) -> "SilentFaceEnsemble":
        paths = sorted(p for p in Path(folder).iterdir() if p.suffix in (".pth", ".pt"))
        return cls([SilentFaceModel.load(p) for p in paths])

    def score(self, rgb: np.ndarray, box) -> PadScore:
        return _pad_score(np.mean([m.probabilities(rgb, box) for m in self.models], axis=0))


def _pad_score(probabilities: np.ndarray) -> PadScore:
    names = ["live" if i == LIVE_CLASS else f"attack_{i}" for i in range(len(probabilities))]
    return pad_scores(names, probabilities[None])[0]


class AuthorsRetinaFace:
    """The Silent-Face authors' face detector (RetinaFace, Caffe), applied as their code does:
    the picture shrunk to about 192 x 192 pixels of area keeping its aspect, the BGR mean
    (104, 117, 123) subtracted, the most confident detection kept. Our pipeline detects with
    MTCNN; this one exists so that the authors' published scores can be reproduced and the
    shift our box causes can be measured (docs/LIVENESS.md)."""

    DETECT_AREA = 192 * 192

    def __init__(self, prototxt: str | Path, caffemodel: str | Path):
        import cv2

        self.network = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))

    @classmethod
    def load(cls) -> "AuthorsRetinaFace":
        from .weights import weight_path

        return cls(weight_path("silent_face_retinaface_prototxt"),
                   weight_path("silent_face_retinaface"))

    def detect_box(self, rgb: np.ndarray) -> tuple[float, float, float, float] | None:
        """The most confident face as (x1, y1, x2, y2) corners whose `authors_box` is exactly
        the authors' (x, y, w, h); None when the detector reports nothing."""
        import math

        import cv2

        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        height, width = bgr.shape[:2]
        small = bgr
        if width * height >= self.DETECT_AREA:
            aspect = width / height
            side = math.sqrt(self.DETECT_AREA)
            small = cv2.resize(bgr, (int(side * math.sqrt(aspect)), int(side / math.sqrt(aspect))),
                               interpolation=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(small, 1, mean=(104, 117, 123))
        self.network.setInput(blob, "data")
        detections = self.network.forward("detection_out").reshape(-1, 7)
        if not len(detections):
            return None
        best = detections[int(np.argmax(detections[:, 2]))]
        left, top = best[3] * width, best[4] * height
        right, bottom = best[5] * width, best[6] * height
        x, y = int(left), int(top)
        w, h = int(right - left + 1), int(bottom - top + 1)
        return float(x), float(y), float(x + w - 1), float(y + h - 1)
