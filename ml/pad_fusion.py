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

The real-trained members' veto: the combiner, fitted on simulator attacks, gives Silent-Face and
CelebA-Spoof no weight (they miss most simulator species), yet they are the members that learned
from real prints and screens (their README: real screen replays are caught by nearly all
models). So when every one of VETO_MEMBERS that has its context is confident the face is an
attack (its margin below the fusion file's `veto_margin`), the face is an attack whatever the
combiner says; so it is too when one of them is sure enough to decide alone (under its
`veto_alone` margin: CelebA-Spoof's, chosen on real photos, ml/fit_fusion.py VETO_ALONE). The
fused probability becomes at most that of the member that decided (and at most half of
VETO_CONSULT_FLOOR). It is consulted only when the combiner gives the face at least
VETO_CONSULT_FLOOR, far below every security level's threshold (under it the veto could change
no verdict any sane threshold gives), so a worker scores those two members only for faces that
might pass. Measured on the fit's presentations
(docs/LIVENESS.md): it refuses none of 977 real-photo presentations.

The attack species (print / replay / mask / blend) and the synthetic-picture probability come
from our own member (ml/weights/pad_own.pt, fine-tuned by ml/finetune_pad.py from the
Silent-Face authors' weights), the only member that names species.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .jobs import VETO_CONSULT_FLOOR
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
# The real-trained members whose shared confidence of "attack" overrules the combiner, in the
# order a worker scores them: the cheaper first (CelebA-Spoof ~10 ms, Silent-Face ~17 ms), and
# the next only while the veto can still fire.
VETO_MEMBERS = ("celeba_spoof", "silent_face")
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
    # VETO_MEMBERS' margin under which they overrule the combiner together; None: no veto
    veto_margin: float | None = None
    # per member of VETO_MEMBERS, a margin under which that member alone overrules it
    veto_alone: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = FUSION_FILE) -> "Fusion":
        data = json.loads(Path(path).read_text())
        if set(data["weights"]) != set(FEATURES):
            raise ValueError(f"{path}: weights for {sorted(data['weights'])}, expected "
                             f"{sorted(FEATURES)}")
        veto = data.get("veto_margin")
        alone = {n: float(m) for n, m in data.get("veto_alone", {}).items()}
        if set(alone) - set(VETO_MEMBERS):
            raise ValueError(f"{path}: veto_alone for {sorted(alone)}, members of the veto "
                             f"are {list(VETO_MEMBERS)}")
        return cls(data["weights"], float(data["bias"]), data["thresholds"],
                   data.get("provenance", {}), None if veto is None else float(veto), alone)

    def save(self, path: Path = FUSION_FILE) -> None:
        Path(path).write_text(json.dumps(
            {"weights": self.weights, "bias": self.bias, "thresholds": self.thresholds,
             "veto_margin": self.veto_margin, "veto_alone": self.veto_alone,
             "provenance": self.provenance}, indent=2) + "\n")

    def probability(self, features: np.ndarray) -> float:
        """The combiner's probability alone (no veto): what the fit weighs."""
        weights = np.asarray([self.weights[name] for name in FEATURES])
        return float(1 / (1 + math.exp(-(float(features @ weights) + self.bias))))

    def lowest_threshold(self) -> float:
        return min(float(t) for t in self.thresholds.values())

    def veto_floor(self) -> float:
        """The lowest combiner probability the veto is asked about (VETO_CONSULT_FLOOR, or the
        lowest level's threshold if a fit ever put one under it)."""
        return min(VETO_CONSULT_FLOOR, self.lowest_threshold())

    def needs_veto(self, probability: float) -> bool:
        """Whether the veto could change a verdict of this combiner probability."""
        return self.veto_margin is not None and probability >= self.veto_floor()

    @staticmethod
    def _with_context(margins: dict[str, float], contexts: dict[str, float]) -> dict[str, float]:
        """The margins of VETO_MEMBERS scored with their context (the others have no say)."""
        return {n: margins[n] for n in VETO_MEMBERS
                if n in margins and contexts[n] >= CONTEXT_FLOOR}

    def veto(self, margins: dict[str, float], contexts: dict[str, float]) -> float | None:
        """The live probability the veto caps the decision at, or None when it does not fire.
        It fires when at least one of VETO_MEMBERS was scored with its context and every such
        one's margin is below veto_margin, or when one of them is below its own `veto_alone`
        margin (sure enough to decide alone). The cap is the probability (relative to its own
        threshold) of the member that decided (the least sure of those that agreed), and at
        most half of the veto's floor, so that every security level, and every threshold at or
        above the floor, refuses the face."""
        if self.veto_margin is None:
            return None
        kept = self._with_context(margins, contexts)
        alone = [m for n, m in kept.items() if m < self.veto_alone.get(n, -math.inf)]
        if alone:
            decided = min(alone)
        elif kept and max(kept.values()) < self.veto_margin:
            decided = max(kept.values())
        else:
            return None
        return min(1 / (1 + math.exp(-decided)), self.veto_floor() / 2)

    def veto_settled(self, margins: dict[str, float], contexts: dict[str, float]) -> bool:
        """Whether the members already scored settle the veto's verdict, so the others need
        not run: one with its context is sure enough to decide alone (it fires), or one with
        its context is not sure of an attack (they cannot all agree) and no member still
        unscored could decide alone (it cannot fire)."""
        if self.veto_margin is None:
            return True
        kept = self._with_context(margins, contexts)
        if any(m < self.veto_alone.get(n, -math.inf) for n, m in kept.items()):
            return True
        could_decide_alone = [n for n in self.veto_alone if n not in margins]
        return any(m >= self.veto_margin for m in kept.values()) and not could_decide_alone

    def live(self, margins: dict[str, float], contexts: dict[str, float],
             own_live: float) -> float:
        """The decision's probability of live: the combiner's, capped by the veto when it
        fires (margins of VETO_MEMBERS may be absent when the combiner's alone decides)."""
        probability = self.probability(feature_vector(margins, contexts, own_live))
        if not self.needs_veto(probability):
            return probability
        capped = self.veto(margins, contexts)
        return probability if capped is None else min(probability, capped)

    def threshold(self, level: str = DEFAULT_LEVEL) -> float:
        return float(self.thresholds[str(level)])


def margins_and_contexts(scores: dict) -> tuple[dict[str, float], dict[str, float]]:
    """The margin and the context of each member's MemberScore, by name: what Fusion reads."""
    return ({n: s.margin for n, s in scores.items()},
            {n: s.context for n, s in scores.items()})


@dataclass(frozen=True)
class PassiveScore(PadScore):
    """`live`: the fused probability (the veto applied); `probabilities`: our own model's
    species probabilities; `members`: each member run (those the combiner weighs, in a worker,
    and the veto's when the face needed them) with its own score, verdict, margin and context,
    and whether it was left out for want of context; `veto`: when the veto's members were
    scored, whether they were sure of an attack (`fired`, the veto's own verdict on this face;
    it lowers `live` only where the combiner would have accepted the face) and its margin."""

    members: dict = field(default_factory=dict)
    # the real-trained members' veto when its members were scored: {"fired", "margin"}
    veto: dict = field(default_factory=dict)


class PassiveDecision:
    """The default passive anti-spoofing decision of the workers (one per process)."""

    def __init__(self, members: dict, own, fusion: Fusion | None, veto_members: dict | None = None):
        if fusion is not None:
            missing = [n for n in MARGIN_MEMBERS if fusion.weights[n] and n not in members]
            if missing:
                raise ValueError(f"the combiner weighs {missing}, which were not loaded")
        self.members, self.own, self.fusion = members, own, fusion
        # the veto's members not among `members`: scored only for faces the veto could change
        self.veto_members = veto_members or {}
        if fusion is not None and fusion.veto_margin is not None:
            missing = [n for n in VETO_MEMBERS if n not in members and n not in self.veto_members]
            if missing:
                raise ValueError(f"the veto needs {missing}, which were not loaded")

    @classmethod
    def load(cls, *, fused: bool = True, every_member: bool = False,
             leave_out=(), fusion_file: Path = FUSION_FILE, own: Path | None = None,
             texture: Path | None = None) -> "PassiveDecision":
        """The members from the committed weights and the combiner. A worker's decision loads
        and runs only the members the combiner weighs: one with weight 0 cannot move the fused
        probability (its feature counts 0 either way), and running the three the committed fit
        leaves out cost ~20 ms a picture and their memory (docs/BENCHMARKS.md).
        `every_member=True` runs them all, for reports per member (ml.evaluate);
        `fused=False` (for fitting) skips the combiner file and loads every member but those
        in `leave_out`. `fusion_file`, `own` and `texture` name a candidate's parts in place of
        the committed ones (scripts/still_sessions.py)."""
        from .pad_finetuned import FinetunedPadModel
        from .weights import weight_path

        fusion = Fusion.load(fusion_file) if fused else None
        names = tuple(n for n in MARGIN_MEMBERS if n not in leave_out)
        if fusion is not None and not every_member:
            names = tuple(n for n in names if fusion.weights[n])
        veto_names: tuple[str, ...] = ()
        if fusion is not None and fusion.veto_margin is not None:
            veto_names = tuple(n for n in VETO_MEMBERS if n not in names)
        return cls(load_margin_members(texture, names=names),
                   FinetunedPadModel.load(own or weight_path("pad_own")), fusion,
                   load_margin_members(names=veto_names) if veto_names else {})

    def _fitted(self) -> Fusion:
        if self.fusion is None:
            raise ValueError("this decision was loaded without its combiner (fused=False)")
        return self.fusion

    def threshold(self, level: str = DEFAULT_LEVEL) -> float:
        return self._fitted().threshold(level)

    def member_scores(self, rgb: np.ndarray, box) -> tuple[dict, PadScore]:
        return {n: m.score(rgb, box) for n, m in self.members.items()}, self.own.score(rgb, box)

    def fuse(self, scores: dict, own: PadScore) -> PassiveScore:
        margins, contexts = margins_and_contexts(scores)
        fusion = self._fitted()
        live = fusion.live(margins, contexts, own.live)
        members = {n: {**s.as_dict(), "left_out": s.context < CONTEXT_FLOOR}
                   for n, s in scores.items()}
        members["own"] = {"score": round(own.live, 6), "threshold": 0.5,
                          "live": own.live >= 0.5, "margin": round(_logit(own.live), 4)}
        veto = {}
        if any(n in scores for n in VETO_MEMBERS) and fusion.veto_margin is not None:
            veto = {"fired": fusion.veto(margins, contexts) is not None,
                    "margin": fusion.veto_margin, "alone": fusion.veto_alone}
        return PassiveScore(live, own.probabilities, members, veto)

    def _needs_veto(self, scores: dict, own: PadScore) -> bool:
        margins, contexts = margins_and_contexts(scores)
        fusion = self._fitted()
        return fusion.needs_veto(fusion.probability(feature_vector(margins, contexts, own.live)))

    def _score_veto_members(self, scores: dict, rgb: np.ndarray, box) -> None:
        """Adds the veto's members' scores, in VETO_MEMBERS' order, until those scored settle
        the veto's verdict (Fusion.veto_settled; on a live face, usually the first alone: the
        second is then not run; on a face CelebA-Spoof is sure of alone, likewise)."""
        fusion = self._fitted()
        for name in VETO_MEMBERS:
            if fusion.veto_settled(*margins_and_contexts(scores)):
                return
            if name in self.veto_members:
                scores[name] = self.veto_members[name].score(rgb, box)

    def score(self, rgb: np.ndarray, box) -> PassiveScore:
        return self.score_many([(rgb, box)])[0]

    def score_many(self, faces: list[tuple[np.ndarray, tuple]], *,
                   veto_on: int | None = None) -> list[PassiveScore]:
        """`score` of several (picture, box) pairs; members that can (ours) run their network
        once over all of them. The veto's members score only the faces the combiner gives at
        least the veto's floor (Fusion.veto_floor); with `veto_on`, that face alone, whatever
        the combiner says of it (a still burst's best frame, ml/session.py: the burst's median may pass though the
        best frame alone would not, so the veto's verdict on it is always wanted)."""
        if not faces:
            return []
        columns = {n: score_faces(m, faces) for n, m in self.members.items()}
        own = score_faces(self.own, faces)
        each = [{n: scores[i] for n, scores in columns.items()} for i in range(len(faces))]
        for i, scores in enumerate(each):
            if not self.veto_members:
                break
            wanted = (i == veto_on) if veto_on is not None else self._needs_veto(scores, own[i])
            if wanted:
                self._score_veto_members(scores, *faces[i])
        return [self.fuse(scores, own[i]) for i, scores in enumerate(each)]
