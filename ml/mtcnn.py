"""MTCNN (Zhang et al., 2016) on facenet-pytorch's weights, without importing facenet-pytorch.

facenet-pytorch's own code imports torchvision's Python package for one function (its batched
non-maximum suppression), and torchvision's package imports `torch._dynamo` and sympy: a
worker's pool process measured 1,230 -> 1,153 MiB RSS without them (docs/MODELS.md, Detection). Here the three
networks are declared with the layer names of facenet-pytorch's weight files, the suppression
is torchvision's own C++ operator (`torch.ops.torchvision.nms`, its library loaded alone), and
the three stages follow facenet-pytorch's published algorithm step for step, in the same
tensor operations, so the faces, scores and landmarks are the same to the last bit
(tests/test_ml_perception.py compares them with facenet-pytorch's MTCNN on real photos).
"""

import importlib.machinery
import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import interpolate

STAGE_THRESHOLDS = (0.6, 0.7, 0.7)   # P-Net, R-Net, O-Net: a candidate's face probability
PYRAMID_FACTOR = 0.709               # each pyramid level's scale over the one before
BATCH_LIMIT = 512                    # crops a refining network takes in one call


class PNet(nn.Module):
    """The proposal network: fully convolutional, run over the image pyramid."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, kernel_size=3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, kernel_size=3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, kernel_size=3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)   # face / not face
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)   # box regression

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    """The refining network, on 24 px crops of the proposals."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, kernel_size=3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, kernel_size=3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, kernel_size=2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # the weights were converted from a (width, height, channel) ordered flatten
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    """The output network, on 48 px crops: face probability, box and five landmarks."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, kernel_size=3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, kernel_size=3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, kernel_size=3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, kernel_size=2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


def network_load(network: nn.Module, path: Path) -> nn.Module:
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return network.eval()


@cache
def _torchvision_operators() -> None:
    """Registers torchvision's C++ operators (its compiled library, found without importing
    the torchvision package) so that `torch.ops.torchvision.nms` exists."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        raise ImportError("torchvision is not installed (its nms operator is needed)")
    folder = Path(spec.origin).parent
    for name in ("_C_stable", "_C"):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                torch.ops.load_library(str(folder / f"{name}{suffix}"))
                return
    raise ImportError(f"no compiled operator library in {folder}")


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    """Indices of the boxes kept, best score first: a box goes when its IoU with a kept
    better-scored box exceeds `iou` (torchvision's operator)."""
    _torchvision_operators()
    return torch.ops.torchvision.nms(boxes, scores, iou)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor,
                iou: float) -> torch.Tensor:
    """`nms` within each group (an image of the batch), as torchvision's batched_nms does it on
    the CPU: above 4,000 coordinates group by group, below by shifting each group's boxes
    apart (the same arithmetic, so the same boxes survive to the last bit)."""
    if boxes.numel() > 4000:
        kept = torch.zeros_like(scores, dtype=torch.bool)
        for group in torch.unique(groups):
            members = torch.where(groups == group)[0]
            kept[members[nms(boxes[members], scores[members], iou)]] = True
        indices = torch.where(kept)[0]
        return indices[scores[indices].sort(descending=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    shift = groups.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes))
    return nms(boxes + shift[:, None], scores, iou)


def batched_nms_by_smaller(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor,
                           threshold: float) -> torch.Tensor:
    """The last stage's suppression: overlap measured over the smaller box's area (pixel-
    inclusive sides), in numpy, groups shifted apart; indices kept, best score first."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    shifted = (boxes + (groups.to(boxes) * (boxes.max() + 1))[:, None]).cpu().numpy()
    values = scores.cpu().numpy()
    x1, y1, x2, y2 = (shifted[:, k].copy() for k in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(values)
    kept = []
    while order.size > 0:
        best, rest = order[-1], order[:-1]
        kept.append(best)
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        height = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        overlap = width * height / np.minimum(area[best], area[rest])
        order = rest[np.where(overlap <= threshold)]
    return torch.as_tensor(np.array(kept, dtype=np.int16), dtype=torch.long)


def resample(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return interpolate(images, size=size, mode="area")


def normalised(images: torch.Tensor) -> torch.Tensor:
    return (images - 127.5) * 0.0078125


def clipped(boxes: torch.Tensor, width: int, height: int):
    """Each box's rows and columns as 1-based inclusive pixel bounds inside the image:
    (top, bottom, left, right) integer arrays."""
    corners = boxes.trunc().int().cpu().numpy()
    left, top, right, bottom = (corners[:, k] for k in range(4))
    left[left < 1] = 1
    top[top < 1] = 1
    right[right > width] = width
    bottom[bottom > height] = height
    return top, bottom, left, right


def squared(boxes: torch.Tensor) -> torch.Tensor:
    """Each box grown to a square on its longer side, about its centre (in place)."""
    height = boxes[:, 3] - boxes[:, 1]
    width = boxes[:, 2] - boxes[:, 0]
    side = torch.max(width, height)
    boxes[:, 0] = boxes[:, 0] + width * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + height * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, :2] + side.repeat(2, 1).permute(1, 0)
    return boxes


def regressed(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Boxes moved by a network's regression, in units of their pixel-inclusive sides (in
    place)."""
    width = boxes[:, 2] - boxes[:, 0] + 1
    height = boxes[:, 3] - boxes[:, 1] + 1
    moved = [boxes[:, 0] + offsets[:, 0] * width, boxes[:, 1] + offsets[:, 1] * height,
             boxes[:, 2] + offsets[:, 2] * width, boxes[:, 3] + offsets[:, 3] * height]
    boxes[:, :4] = torch.stack(moved).permute(1, 0)
    return boxes


def crops(images: torch.Tensor, groups, boxes: torch.Tensor, side: int) -> torch.Tensor:
    """Each box's pixels of its image, resampled to side x side and normalised."""
    height, width = images.shape[2:4]
    top, bottom, left, right = clipped(boxes, width, height)
    pieces = [resample(images[groups[k], :, top[k] - 1:bottom[k], left[k] - 1:right[k]]
                       .unsqueeze(0), (side, side))
              for k in range(len(top)) if bottom[k] > top[k] - 1 and right[k] > left[k] - 1]
    return normalised(torch.cat(pieces, dim=0))


def in_batches(network, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    outputs = [network(inputs[start:start + BATCH_LIMIT])
               for start in range(0, len(inputs), BATCH_LIMIT)]
    return tuple(torch.cat(part, dim=0) for part in zip(*outputs, strict=True))


def proposals(pnet, images: torch.Tensor, min_face_size: int, threshold: float):
    """P-Net over the image pyramid: candidate boxes (x1, y1, x2, y2, score), each with the
    index of its image, suppressed within each level and image, then within each image, moved
    by their regression and squared."""
    height, width = images.shape[2:4]
    first = 12.0 / min_face_size
    shortest = min(height, width) * first
    scales, scale = [], first
    while shortest >= 12:
        scales.append(scale)
        scale, shortest = scale * PYRAMID_FACTOR, shortest * PYRAMID_FACTOR
    found, groups, picks, offset = [], [], [], 0
    for scale in scales:
        level = normalised(resample(images, (int(height * scale + 1), int(width * scale + 1))))
        regression, probabilities = pnet(level)
        boxes, owners = _grid_boxes(regression, probabilities[:, 1], scale, threshold)
        found.append(boxes)
        groups.append(owners)
        picks.append(batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.5) + offset)
        offset += boxes.shape[0]
    boxes, owners = torch.cat(found, dim=0), torch.cat(groups, dim=0)
    pick = torch.cat(picks, dim=0)
    boxes, owners = boxes[pick], owners[pick]
    pick = batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.7)
    boxes, owners = boxes[pick], owners[pick]
    box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack([boxes[:, 0] + boxes[:, 5] * box_w, boxes[:, 1] + boxes[:, 6] * box_h,
                         boxes[:, 2] + boxes[:, 7] * box_w, boxes[:, 3] + boxes[:, 8] * box_h,
                         boxes[:, 4]]).permute(1, 0)
    return squared(boxes), owners


def _grid_boxes(regression, probabilities, scale: float, threshold: float):
    """P-Net's output cells above the threshold as boxes in image pixels: (x1, y1, x2, y2,
    score, four regression offsets) and each one's image index."""
    stride, cell = 2, 12
    regression = regression.permute(1, 0, 2, 3)
    mask = probabilities >= threshold
    where = mask.nonzero()
    owners = where[:, 0]
    score = probabilities[mask]
    regression = regression[:, mask].permute(1, 0)
    corner = where[:, 1:].type(regression.dtype).flip(1)
    top_left = ((stride * corner + 1) / scale).floor()
    bottom_right = ((stride * corner + cell - 1 + 1) / scale).floor()
    return torch.cat([top_left, bottom_right, score.unsqueeze(1), regression], dim=1), owners


def refined(rnet, images, boxes, owners, threshold: float):
    """R-Net on the candidates' 24 px crops: those it accepts, suppressed within each image,
    moved by its regression and squared."""
    regression, probabilities = in_batches(rnet, crops(images, owners, boxes, 24))
    score = probabilities.permute(1, 0)[1, :]
    passed = score > threshold
    boxes = torch.cat((boxes[passed, :4], score[passed].unsqueeze(1)), dim=1)
    owners = owners[passed]
    moves = regression.permute(1, 0)[:, passed].permute(1, 0)
    pick = batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.7)
    boxes, owners, moves = boxes[pick], owners[pick], moves[pick]
    return squared(regressed(boxes, moves)), owners


def finished(onet, images, boxes, owners, threshold: float):
    """O-Net on the candidates' 48 px crops: the faces it accepts with their five landmarks,
    moved by its regression, suppressed by the overlap over the smaller box."""
    regression, marks, probabilities = in_batches(onet, crops(images, owners, boxes, 48))
    score = probabilities.permute(1, 0)[1, :]
    passed = score > threshold
    marks = marks.permute(1, 0)[:, passed]
    boxes = torch.cat((boxes[passed, :4], score[passed].unsqueeze(1)), dim=1)
    owners = owners[passed]
    moves = regression.permute(1, 0)[:, passed].permute(1, 0)
    box_w = boxes[:, 2] - boxes[:, 0] + 1
    box_h = boxes[:, 3] - boxes[:, 1] + 1
    marks_x = box_w.repeat(5, 1) * marks[:5, :] + boxes[:, 0].repeat(5, 1) - 1
    marks_y = box_h.repeat(5, 1) * marks[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
    marks = torch.stack((marks_x, marks_y)).permute(2, 1, 0)
    boxes = regressed(boxes, moves)
    pick = batched_nms_by_smaller(boxes[:, :4], boxes[:, 4], owners, 0.7)
    return boxes[pick], owners[pick], marks[pick]


class Mtcnn:
    """The three networks and their thresholds. `detect` takes pictures of one size."""

    def __init__(self, pnet: Path, rnet: Path, onet: Path, *, min_face_size: int,
                 device: torch.device | None = None):
        self.device = device or torch.device("cpu")
        self.pnet = network_load(PNet(), pnet).to(self.device)
        self.rnet = network_load(RNet(), rnet).to(self.device)
        self.onet = network_load(ONet(), onet).to(self.device)
        self.min_face_size = min_face_size
        self.thresholds = STAGE_THRESHOLDS

    @torch.inference_mode()
    def detect(self, pictures: list[np.ndarray]):
        """For each (H, W, 3) uint8 RGB picture: its faces' boxes (N, 4), probabilities (N,)
        and landmarks (N, 5, 2), largest box first; (None, None, None) where none."""
        images = torch.as_tensor(np.stack(pictures), device=self.device
                                 ).permute(0, 3, 1, 2).float()
        if min(images.shape[2:4]) < self.min_face_size:
            # no face of the minimum size fits: the pyramid would have no level
            return [(None, None, None) for _ in pictures]
        boxes, owners = proposals(self.pnet, images, self.min_face_size, self.thresholds[0])
        marks = torch.zeros(0, 5, 2)
        if len(boxes) > 0:
            boxes, owners = refined(self.rnet, images, boxes, owners, self.thresholds[1])
        if len(boxes) > 0:
            boxes, owners, marks = finished(self.onet, images, boxes, owners,
                                            self.thresholds[2])
        all_boxes, all_marks, all_owners = (values.cpu().numpy()
                                            for values in (boxes, marks, owners))
        found = []
        for index in range(len(pictures)):
            mine = np.where(all_owners == index)
            box, mark = all_boxes[mine].copy(), all_marks[mine].copy()
            if len(box) == 0:
                found.append((None, None, None))
                continue
            order = np.argsort((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))[::-1]
            found.append((box[order][:, :4], box[order][:, 4], mark[order]))
        return found
