"""A liveness session's verification in ml's own words: the typed job the models are given and
the typed result they give back (ml/session.py `session_verify` does the work).

Standard library only, so that the web process can build a job and read a result without
loading a model. Nothing here knows a vendor's form fields or result codes: the web translates
its options into this job (apps/faceid/verification.py) and this result's `Reason` into the
contract's result names and codes (apps/faceid/results.py, one table).
"""

import base64
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum

# What a challenge may ask, by the names the analysers know (ml/actions.py, ml/flash.py).
ACTIONS = ("blink", "mouth_open", "turn_left", "turn_right", "nod", "shake")
# Only a head that turns shows whether its landmarks move like a face in depth or like a printed
# plane (ml/actions.py): every action challenge holds at least one of these.
POSE_ACTIONS = ("turn_left", "turn_right", "nod", "shake")
FLASH_COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan")

FAR_LEVELS = ("1e-3", "1e-4", "1e-5", "1e-6")   # the comparison's false-accept operating points
PAD_LEVELS = (1, 2, 3, 4)                         # the passive decision's, lenient to strict
DEFAULT_PAD_LEVEL = 2
# The real-trained members' veto (ml/pad_fusion.py) is asked about every face the combiner gives
# at least this probability of live: under every security level's threshold (level 1 is
# 0.294) and under any threshold an operator (PAD_LIVE_THRESHOLD) or a client (a contract's own
# threshold, mapped onto ours) should set, so that a lenient threshold cannot accept a face the
# veto was never asked about; a fired veto caps the probability at half of it. Faces under it
# are refused at any such threshold anyway: asking the veto there would only cost time.
VETO_CONSULT_FLOOR = 0.05
# What VerifyJob.to_bytes starts with: its layout's version, so that a later one can be told apart.
JOB_WIRE_MAGIC = b"VJOB1\n"


class LivenessCheck(StrEnum):
    STILL = "still"        # a still burst, judged by the passive decision
    ACTIONS = "actions"    # a clip in which the head does the challenge's actions
    FLASH = "flash"        # a clip in which the face's colour follows the screen's flashes
    NONE = "none"          # no capture: the client's own photo is only compared


class Check(StrEnum):
    """The liveness checks that can decide a capture, by the names the answer and the record
    use (VerifyResult.checks), listed in the order they are judged wherever two meet: a still
    burst is decided by EYES (when asked) then PASSIVE; an action clip by FACE_REPLACE (when
    asked), EYES (when asked), PLANARITY, then ACTIONS; a flash clip by FLASH then EYES (when
    asked)."""

    FACE_REPLACE = "face_replace"  # the same person throughout the clip
    FLASH = "flash"                # the face's colour followed the screen's flashes
    EYES = "eyes"                  # the eyes were open somewhere
    PLANARITY = "planarity"        # the head moved like a face in depth, not like a plane
    ACTIONS = "actions"            # the challenge's actions, in order and in time
    PASSIVE = "passive"            # the passive decision (ml/pad_fusion.py) on the burst


PASSED, FAILED = "passed", "failed"


class Reason(StrEnum):
    """Why a verification ended as it did."""

    SAME_PERSON = "same_person"            # live (or no liveness asked), references matched
    OTHER_PERSON = "other_person"          # live, a reference not matched at the FAR level
    TOO_FEW_FRAMES = "too_few_frames"
    NO_FACE = "no_face"                    # no face in the capture
    SEVERAL_FACES = "several_faces"        # more than one face where one was required
    PRESENTATION_ATTACK = "presentation_attack"   # passive, flash or planar-motion evidence
    EYES_CLOSED = "eyes_closed"
    ACTION_MISSING = "action_missing"      # an asked action was not seen in order
    ACTION_LATE = "action_late"            # seen, but after its time
    FACE_REPLACED = "face_replaced"        # another face appeared during the clip
    REFERENCE_UNREADABLE = "reference_unreadable"     # a reference photo is not a picture
    REFERENCE_WITHOUT_FACE = "reference_without_face"


@dataclass(frozen=True)
class ActionChallenge:
    actions: tuple[str, ...]               # ml/actions.py ACTIONS, in the order asked
    timeout_ms: float                      # for each action, from the previous one's end


@dataclass(frozen=True)
class FlashSequence:
    colours: tuple[tuple[str, int, int], ...]   # (ml/flash.py PALETTE name, start ms, end ms)


def flash_sequence_new(randbelow: Callable[[int], int], *, count: int = 6, min_ms: int = 350,
                       max_ms: int = 650) -> FlashSequence:
    """A random sequence of `count` colours, no colour twice in a row, each shown a random
    min_ms..max_ms. `randbelow(n)` draws an integer in [0, n): `secrets.randbelow` for a real
    challenge (the web), a seeded generator's for simulations and tests."""
    colours: list[tuple[str, int, int]] = []
    start, previous = 0, None
    for _ in range(count):
        choices = [c for c in FLASH_COLOURS if c != previous]
        colour = choices[randbelow(len(choices))]
        length = min_ms + randbelow(max_ms - min_ms + 1)
        colours.append((colour, start, start + length))
        start, previous = start + length, colour
    return FlashSequence(tuple(colours))


@dataclass(frozen=True)
class VerifyJob:
    check: LivenessCheck
    references: dict[str, list[float]]     # name -> embedding made when the session began
    far: str = "1e-4"                      # FAR_LEVELS: every reference must match at it
    pad_level: int = DEFAULT_PAD_LEVEL     # PAD_LEVELS: the passive decision's operating point
    pad_threshold: float = 0.5             # P(live) needed at the default level (one model)
    frames: tuple[bytes, ...] = ()         # JPEG frames of the capture
    times_ms: tuple[float, ...] = ()
    probe: list[float] | None = None       # LivenessCheck.NONE: the client's photo, embedded
    photos: dict[str, bytes] = field(default_factory=dict)   # references still to embed
    actions: ActionChallenge | None = None
    flash: FlashSequence | None = None
    eyes_open_required: bool = False
    face_replace_check: bool = True
    single_face_required: bool = False
    compare_when_not_live: bool = False    # compare anyway; the comparison decides

    def __post_init__(self):
        if self.far not in FAR_LEVELS:
            raise ValueError(f"far must be one of {FAR_LEVELS}, not {self.far!r}")
        if self.pad_level not in PAD_LEVELS:
            raise ValueError(f"pad_level must be one of {PAD_LEVELS}, not {self.pad_level!r}")
        if len(self.frames) != len(self.times_ms):
            raise ValueError("one time per frame")
        if self.check == LivenessCheck.ACTIONS and self.actions is None:
            raise ValueError("an actions check needs its ActionChallenge")
        if self.check == LivenessCheck.FLASH and self.flash is None:
            raise ValueError("a flash check needs its FlashSequence")
        if self.check == LivenessCheck.NONE and self.probe is None:
            raise ValueError("a check without capture needs the probe embedding")

    def to_bytes(self) -> bytes:
        """The job as the web hands it to a worker (through Redis): JOB_WIRE_MAGIC, the
        header's length, a JSON header with every field but the pictures (their lengths
        instead), then the frames and the photos as they are. Base64 inside JSON cost a
        30-frame clip ~6 ms to write and ~6 ms to read (docs/BENCHMARKS.md, clip handoff)."""
        data = asdict(self)
        del data["frames"], data["photos"]
        data["frame_sizes"] = [len(frame) for frame in self.frames]
        data["photo_sizes"] = {name: len(photo) for name, photo in self.photos.items()}
        header = json.dumps(data).encode()
        return b"".join([JOB_WIRE_MAGIC, len(header).to_bytes(4, "big"), header,
                         *self.frames, *self.photos.values()])

    @classmethod
    def from_bytes(cls, blob: bytes) -> "VerifyJob":
        """The job `to_bytes` wrote; also the JSON with base64 pictures that releases before
        2026-12-07 wrote, so that a worker upgraded first still reads a job an older web
        queued. ValueError for anything else (only our web writes these, under a random key,
        but a worker says what is wrong rather than fail somewhere inside)."""
        try:
            return cls._from_bytes(blob)
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"not a verify job: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _from_bytes(cls, blob: bytes) -> "VerifyJob":
        if blob[:1] == b"{":
            data = json.loads(blob)
            data["frames"] = tuple(base64.b64decode(f) for f in data["frames"])
            data["photos"] = {k: base64.b64decode(v) for k, v in data["photos"].items()}
            return cls(**_fields_typed(data))
        if not blob.startswith(JOB_WIRE_MAGIC):
            raise ValueError("not a verify job")
        at = len(JOB_WIRE_MAGIC) + 4
        size = int.from_bytes(blob[at - 4:at], "big")
        if at + size > len(blob):
            raise ValueError("the job's header runs past its end")
        data = json.loads(blob[at:at + size])
        at += size
        if not isinstance(data, dict):
            raise ValueError("the job's header is not an object")
        frame_sizes, photo_sizes = data.pop("frame_sizes"), data.pop("photo_sizes")
        sizes = [*frame_sizes, *photo_sizes.values()]
        if not all(type(n) is int and n >= 0 for n in sizes):
            raise ValueError("a picture's size is not a whole number of bytes")
        if at + sum(sizes) != len(blob):
            raise ValueError("the job's pictures do not add up to its length")
        frames = []
        for length in frame_sizes:
            frames.append(blob[at:at + length])
            at += length
        photos = {}
        for name, length in photo_sizes.items():
            photos[name] = blob[at:at + length]
            at += length
        data["frames"], data["photos"] = tuple(frames), photos
        return cls(**_fields_typed(data))


def _fields_typed(data: dict) -> dict:
    """A job's fields as JSON gave them back, with their types again (enums, tuples, the
    challenge's dataclasses)."""
    data["check"] = LivenessCheck(data["check"])
    data["times_ms"] = tuple(float(t) for t in data["times_ms"])
    if data["actions"] is not None:
        data["actions"] = ActionChallenge(tuple(data["actions"]["actions"]),
                                          float(data["actions"]["timeout_ms"]))
    if data["flash"] is not None:
        data["flash"] = FlashSequence(tuple((c, int(s), int(e))
                                            for c, s, e in data["flash"]["colours"]))
    return data


@dataclass
class VerifyResult:
    reason: Reason
    frames: int = 0                        # frames received
    liveness: dict = field(default_factory=dict)     # the liveness check's own evidence
    # Check -> PASSED / FAILED, in the order they were judged, for the checks that reached a
    # verdict (judging stops at the first failure). Empty when no liveness check was reached.
    checks: dict = field(default_factory=dict)
    # The passive decision on the best frame (score, threshold, passed, ...): it decides a
    # still capture (Check.PASSIVE); for a clip it is kept for the operator and decides nothing.
    passive: dict | None = None
    comparisons: dict = field(default_factory=dict)  # name -> {confidence, thresholds}
    best_frame: dict | None = None         # {index, time_ms, jpeg (base64), quality}
    # the capture's frames, small, side by side, for a person's review (ml/review_images.py
    # frame_strip): {jpeg (base64), frames: [[index, time_ms, width], ...]}
    strip: dict | None = None
    model_ms: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready, for the Celery result."""
        return {**asdict(self), "reason": self.reason.value}

    @classmethod
    def from_dict(cls, data: dict) -> "VerifyResult":
        return cls(**{**data, "reason": Reason(data["reason"])})
