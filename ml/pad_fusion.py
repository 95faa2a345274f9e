"""One calibrated passive decision: the real-trained members and our own two models, fused.

Each member scores the face (a worker runs only those the combiner weighs; ml/pad_members.py:
its authors' crop and rule on our box; our own member, ml/pad_finetuned.py FinetunedPadModel, which sees the face in its context; our texture
member, ml/pad_finetuned.py TextureMember, which sees windows of the face's skin at the camera's
own resolution, where print dots and screen grids are). Each member's *margin* (its log-odds of live relative to
its authors' threshold; ours relative to 0.5) is clipped to +-MARGIN_CLIP and fed to a logistic
regression whose weights, bias and operating thresholds live in ml/pad_fusion.json, fitted by
`python -m ml.pad_fusion` on validation data only (the split is written in that file and in
docs/LIVENESS.md).

Tight crops: a member whose crop cannot get at least CONTEXT_FLOOR of the context its authors
trained with is *left out* (its margin counts as 0, "no opinion") rather than fed a face without
the context it learned from. The fused probability is shifted so that the default operating
point (security level 2) is 0.5; the other levels have their own thresholds on it.

The attack species (print / replay / mask / blend) and the synthetic-picture probability come
from our own member (ml/weights/pad_own.pt, fine-tuned by ml/finetune_pad.py from the
Silent-Face authors' weights), the only member that names species.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .pad_score import PadScore, score_faces

FUSION_FILE = Path(__file__).resolve().parent / "pad_fusion.json"
REAL_MEMBERS = ("silent_face", "celeba_spoof", "hyperfas", "dtn")
# Members answering a MemberScore margin: the real-trained ones and our texture member
# (ml/pad_finetuned.py TextureMember, ml/weights/pad_texture.pt).
MARGIN_MEMBERS = (*REAL_MEMBERS, "texture")
FEATURES = (*MARGIN_MEMBERS, "own")
MARGIN_CLIP = 8.0
# Below this share of its wanted context a member is left out (see the module docstring). 0.8
# rather than 0.6: at 0.6 the context-trained members still judged the tightest benign crops
# (1.0-1.3x the box) and refused some real faces (docs/LIVENESS.md).
CONTEXT_FLOOR = 0.8
SECURITY_LEVELS = ("1", "2", "3", "4")
DEFAULT_LEVEL = "2"


def _logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


def load_margin_members(texture: Path | None = None, names=None) -> dict:
    """The MARGIN_MEMBERS members named (all by default) from their weights: the committed ones,
    or `texture` for a candidate texture member (scripts/still_sessions.py)."""
    from .pad_finetuned import TextureMember
    from .pad_members import load_members
    from .weights import weight_path

    names = MARGIN_MEMBERS if names is None else tuple(names)
    members = load_members(tuple(n for n in REAL_MEMBERS if n in names))
    if "texture" in names:
        members["texture"] = TextureMember.load(texture or weight_path("pad_texture"))
    return members


def feature_vector(margins: dict[str, float], contexts: dict[str, float],
                   own_live: float) -> np.ndarray:
    values = []
    for name in MARGIN_MEMBERS:
        if name not in margins:        # not run: the combiner gives it no weight
            values.append(0.0)
            continue
        kept = contexts[name] >= CONTEXT_FLOOR
        values.append(float(np.clip(margins[name], -MARGIN_CLIP, MARGIN_CLIP)) if kept else 0.0)
    values.append(float(np.clip(_logit(own_live), -MARGIN_CLIP, MARGIN_CLIP)))
    return np.asarray(values)


@dataclass(frozen=True)
class Fusion:
    weights: dict[str, float]
    bias: float
    thresholds: dict[str, float]         # per security level, on the fused probability
    provenance: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = FUSION_FILE) -> "Fusion":
        data = json.loads(Path(path).read_text())
        if set(data["weights"]) != set(FEATURES):
            raise ValueError(f"{path}: weights for {sorted(data['weights'])}, expected "
                             f"{sorted(FEATURES)}")
        return cls(data["weights"], float(data["bias"]), data["thresholds"],
                   data.get("provenance", {}))

    def save(self, path: Path = FUSION_FILE) -> None:
        Path(path).write_text(json.dumps(
            {"weights": self.weights, "bias": self.bias, "thresholds": self.thresholds,
             "provenance": self.provenance}, indent=2) + "\n")

    def probability(self, features: np.ndarray) -> float:
        weights = np.asarray([self.weights[name] for name in FEATURES])
        return float(1 / (1 + math.exp(-(float(features @ weights) + self.bias))))

    def threshold(self, level: str = DEFAULT_LEVEL) -> float:
        return float(self.thresholds[str(level)])


@dataclass(frozen=True)
class PassiveScore(PadScore):
    """`live`: the fused probability; `probabilities`: our own model's species probabilities;
    `members`: each member run (those the combiner weighs, in a worker) with its own score,
    verdict, margin and context, and whether it was left out for want of context."""

    members: dict = field(default_factory=dict)


class PassiveDecision:
    """The default passive anti-spoofing decision of the workers (one per process)."""

    def __init__(self, members: dict, own, fusion: Fusion | None):
        if fusion is not None:
            missing = [n for n in MARGIN_MEMBERS if fusion.weights[n] and n not in members]
            if missing:
                raise ValueError(f"the combiner weighs {missing}, which were not loaded")
        self.members, self.own, self.fusion = members, own, fusion

    @classmethod
    def load(cls, *, fused: bool = True, every_member: bool = False,
             leave_out=()) -> "PassiveDecision":
        """The members from the committed weights and the combiner. A worker's decision loads
        and runs only the members the combiner weighs: one with weight 0 cannot move the fused
        probability (its feature counts 0 either way), and running the three the committed fit
        leaves out cost ~20 ms a picture and their memory (docs/BENCHMARKS.md).
        `every_member=True` runs them all, for reports per member (ml.evaluate);
        `fused=False` (for fitting) skips the combiner file and loads every member but those
        in `leave_out`."""
        from .pad_finetuned import FinetunedPadModel
        from .weights import weight_path

        fusion = Fusion.load() if fused else None
        names = tuple(n for n in MARGIN_MEMBERS if n not in leave_out)
        if fusion is not None and not every_member:
            names = tuple(n for n in names if fusion.weights[n])
        return cls(load_margin_members(names=names),
                   FinetunedPadModel.load(weight_path("pad_own")), fusion)

    def threshold(self, level: str = DEFAULT_LEVEL) -> float:
        return self.fusion.threshold(level)

    def member_scores(self, rgb: np.ndarray, box) -> tuple[dict, PadScore]:
        return {n: m.score(rgb, box) for n, m in self.members.items()}, self.own.score(rgb, box)

    def fuse(self, scores: dict, own: PadScore) -> PassiveScore:
        margins = {n: s.margin for n, s in scores.items()}
        contexts = {n: s.context for n, s in scores.items()}
        live = self.fusion.probability(feature_vector(margins, contexts, own.live))
        members = {n: {**s.as_dict(), "left_out": s.context < CONTEXT_FLOOR}
                   for n, s in scores.items()}
        members["own"] = {"score": round(own.live, 6), "threshold": 0.5,
                          "live": own.live >= 0.5, "margin": round(_logit(own.live), 4)}
        return PassiveScore(live, own.probabilities, members)

    def score(self, rgb: np.ndarray, box) -> PassiveScore:
        return self.fuse(*self.member_scores(rgb, box))

    def score_many(self, faces: list[tuple[np.ndarray, tuple]]) -> list[PassiveScore]:
        """`score` of several (picture, box) pairs; members that can (ours) run their network
        once over all of them."""
        if not faces:
            return []
        columns = {n: score_faces(m, faces) for n, m in self.members.items()}
        own = score_faces(self.own, faces)
        return [self.fuse({n: scores[i] for n, scores in columns.items()}, own[i])
                for i in range(len(faces))]
