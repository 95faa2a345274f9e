"""Action liveness: did the requested actions happen, in order, in time, on a head?

Input: per frame, FaceMesh's 478 landmarks (x, y in pixels, z in the same scale) and a
timestamp. From them:
- eye opening (the seven lid gaps FaceMesh tracks per eye over the eye's width, both eyes
  averaged): a blink is the opening falling well below the eye's own level just before AND
  just after it (BLINK_DROP of it and at least BLINK_MIN_DROP less), so a face that starts or
  stays half-lidded blinks against its own level, and lids that rise once (half-lidded, then
  open) are no blink;
- mouth aspect ratio (MAR, inner lips' gap over mouth width, in 3-D): mouth_open is MAR rising
  MOUTH_OPEN_RISE above the clip's resting level (its 10th percentile) and past MOUTH_OPEN_MAR,
  after the mouth was seen at rest: a face caught mid-word is no mouth_open until it closes
  and opens again. Only frames facing the camera (yaw and pitch within MOUTH_FACING_DEGREES)
  are judged: turning a half-open mouth distorts its landmarks;
- eye aspect ratio (EAR, two lid gaps per eye): EYES_CLOSED when no frame reaches
  EYES_OPEN_EAR;
- head pose: the rigid rotation (Kabsch) that best aligns this frame's stable landmarks to the
  first frame's gives yaw and pitch. turn_left / turn_right is yaw past TURN_DEGREES (the
  person's own left/right), shake is both within one action window, nod is pitch down past
  NOD_DEGREES and back.
- planarity: a flat photo moved in front of the camera moves its landmarks by one homography;
  a head does not. The RMS residual of a homography fitted between the first frame and each
  later frame, over the inter-ocular distance, must reach PLANAR_RESIDUAL_MIN in frames where
  the head has turned.

verify_actions checks the challenge: each action must be seen after the previous one ended and
within its timeout. Reasons: PASS, ACTION_MISSING (an action missing, or out of order),
ACTION_LATE (seen, but later than its timeout), PLANAR_ATTACK (turns without depth),
EYES_CLOSED (no open eye the whole clip); on images also NO_FACE and FACE_REPLACED.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .jobs import ACTIONS

# FaceMesh canonical indices.
RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)   # corner, upper, upper, corner, lower, lower
LEFT_EYE_EAR = (362, 385, 387, 263, 373, 380)
MOUTH_INNER = (13, 14, 78, 308)                  # top, bottom, corner, corner
# Upper and lower lid points, pairwise facing (the ones the simulator's blink moves).
RIGHT_LIDS = ((246, 161, 160, 159, 158, 157, 173), (7, 163, 144, 145, 153, 154, 155))
LEFT_LIDS = ((466, 388, 387, 386, 385, 384, 398), (249, 390, 373, 374, 380, 381, 382))
EYE_CENTRES = ((33, 133), (362, 263))
# Landmarks that move with the skull, not with the eyelids, lips or jaw.
STABLE = (1, 4, 5, 6, 8, 9, 10, 33, 133, 151, 168, 197, 195, 234, 263, 362, 454, 127, 356,
          70, 300, 105, 334, 107, 336, 98, 327)

# A blink: the eye opening under BLINK_DROP of the eye's level on both sides of it (the 75th
# percentile of the frames within BLINK_CONTEXT_MS before, and after) and at least
# BLINK_MIN_DROP below it, so landmark noise on narrow, half-lidded eyes seldom fakes one.
# Measured on 480 landmark clips (docs/LIVENESS.md): open eyes no false and no missed blink;
# half-lidded eyes under the simulator's heavy jitter 5 false in 120 and 2 missed in 120.
BLINK_DROP = 0.65
BLINK_MIN_DROP = 0.03
BLINK_CONTEXT_MS = 700.0
BLINK_LEVEL_PERCENTILE = 75
EYES_OPEN_EAR = 0.18       # no frame above this: the eyes were closed the whole clip
# mouth_open: MAR past MOUTH_OPEN_MAR (clearly open on any face) and MOUTH_OPEN_RISE above the
# clip's resting level, its MOUTH_REST_PERCENTILE (a face speaking all along rests open).
MOUTH_OPEN_MAR = 0.35
MOUTH_OPEN_RISE = 0.15
MOUTH_REST_PERCENTILE = 10
MOUTH_FACING_DEGREES = 10.0  # mouth_open is judged only where yaw and pitch are within this
TURN_DEGREES = 15.0
NOD_DEGREES = 10.0
PLANAR_RESIDUAL_MIN = 0.035
# A face whose stable landmarks moved this far (in eye distances) while every frame stayed a
# homography of the first moved as a rigid plane (see verify_actions).
RIGID_MOTION_MIN = 0.08


@dataclass(frozen=True)
class ActionEvent:
    action: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class ActionVerdict:
    passed: bool
    reason: str
    events: tuple[ActionEvent, ...]
    planarity: float  # median residual over turned frames (0 when the head never turned)


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def eye_aspect_ratio(points: np.ndarray) -> float:
    ratios = []
    for c1, u1, u2, c2, l1, l2 in (RIGHT_EYE_EAR, LEFT_EYE_EAR):
        width = max(_distance(points, c1, c2), 1e-6)
        ratios.append((_distance(points, u1, l2) + _distance(points, u2, l1)) / (2 * width))
    return float(np.mean(ratios))


def eye_opening(points: np.ndarray) -> float:
    """Mean gap between the facing lid points over the eye's width, both eyes averaged: seven
    gaps an eye instead of EAR's two, so landmark jitter moves it about half as much."""
    ratios = []
    for (upper, lower), (c1, c2) in ((RIGHT_LIDS, EYE_CENTRES[0]), (LEFT_LIDS, EYE_CENTRES[1])):
        gaps = np.linalg.norm(points[list(upper), :2] - points[list(lower), :2], axis=1)
        ratios.append(float(gaps.mean()) / max(_distance(points, c1, c2), 1e-6))
    return float(np.mean(ratios))


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """Inner lips' gap over the mouth's width, both in 3-D (FaceMesh's z): a turned head does
    not foreshorten the width, so turning does not inflate it as the 2-D ratio does."""
    top, bottom, left, right = (points[i] for i in MOUTH_INNER)
    return float(np.linalg.norm(top - bottom) / max(float(np.linalg.norm(left - right)), 1e-6))


def inter_ocular(points: np.ndarray) -> float:
    centres = [points[list(pair), :2].mean(axis=0) for pair in EYE_CENTRES]
    return float(np.linalg.norm(centres[0] - centres[1]))


def head_angles(reference: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees of `points` relative to `reference`, from the rigid rotation
    that aligns their stable landmarks (Kabsch). Yaw > 0: the person turned to their left."""
    a = reference[list(STABLE)] - reference[list(STABLE)].mean(axis=0)
    b = points[list(STABLE)] - points[list(STABLE)].mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = (u @ np.diag([1.0, 1.0, d]) @ vt).T
    # With image x to the right and z away from the camera, a turn to the person's left (nose
    # toward the image's right) gives rotation[2, 0] > 0.
    yaw = np.degrees(np.arcsin(np.clip(rotation[2, 0], -1, 1)))
    pitch = np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2]))
    return float(yaw), float(pitch)


def planar_residual(reference: np.ndarray, points: np.ndarray) -> float:
    """RMS error of the best homography from reference to points, over the eye distance."""
    import cv2

    source = reference[:, :2].astype(np.float32)
    target = points[:, :2].astype(np.float32)
    matrix, _ = cv2.findHomography(source, target, 0)
    if matrix is None:
        return 0.0
    projected = cv2.perspectiveTransform(source[None], matrix)[0]
    rms = float(np.sqrt(((projected - target) ** 2).sum(axis=1).mean()))
    return rms / max(inter_ocular(points), 1e-6)


def _runs(flags: np.ndarray, times: np.ndarray) -> list[tuple[float, float]]:
    runs, start = [], None
    for flag, t in zip(flags, times, strict=True):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            runs.append((start, t))
            start = None
    if start is not None:
        runs.append((start, times[-1]))
    return runs


def _blinking(opening: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Frames where the eyes are well below their own level both before and after: the level
    on each side is its BLINK_LEVEL_PERCENTILE over BLINK_CONTEXT_MS (longer than a blink, so the
    blink itself does not pull it down). Needing both sides means a blink is seen to close and
    to reopen: the first and last frames, eyes that close for good, and eyes that start
    half-lidded and then open are no blink."""
    closed = np.zeros(len(opening), dtype=bool)
    for i, t in enumerate(times):
        before = opening[(times >= t - BLINK_CONTEXT_MS) & (times < t)]
        after = opening[(times > t) & (times <= t + BLINK_CONTEXT_MS)]
        if len(before) < 2 or len(after) < 2:
            continue
        level = min(float(np.percentile(before, BLINK_LEVEL_PERCENTILE)),
                    float(np.percentile(after, BLINK_LEVEL_PERCENTILE)))
        closed[i] = opening[i] < min(BLINK_DROP * level, level - BLINK_MIN_DROP)
    return closed


def _excursions(signal: np.ndarray, times: np.ndarray, *, enter: float, leave: float,
                judged: np.ndarray) -> list[tuple[float, float]]:
    """Runs where `signal` rises past `enter` after it was seen at or under `leave`, each until
    it is back at or under `leave` (or the clip ends). A state held from the first frame (a
    mouth already open) is no event until it has rested; noise about `enter` cannot split
    one event into two (hysteresis). Frames not `judged` are passed over."""
    runs, start, rested = [], None, False
    for value, t, usable in zip(signal, times, judged, strict=True):
        if not usable:
            continue
        if start is None:
            if value <= leave:
                rested = True
            elif rested and value > enter:
                start = t
        elif value <= leave:
            runs.append((start, t))
            start = None
    if start is not None:
        runs.append((start, times[-1]))
    return runs


def _clip_angles(landmarks: list[np.ndarray]) -> np.ndarray:
    """(yaw, pitch) of every frame relative to the first."""
    return np.array([head_angles(landmarks[0], p) for p in landmarks])


def detect_events(landmarks: list[np.ndarray], times_ms: list[float], *,
                  angles: np.ndarray | None = None) -> list[ActionEvent]:
    times = np.asarray(times_ms, dtype=float)
    angles = _clip_angles(landmarks) if angles is None else angles
    opening = np.array([eye_opening(p) for p in landmarks])
    events = [ActionEvent("blink", s, e) for s, e in _runs(_blinking(opening, times), times)]
    mar = np.array([mouth_aspect_ratio(p) for p in landmarks])
    # The mouth is judged facing the camera: a turned or nodding head distorts the lips'
    # landmarks (a half-open mouth read 0.23 -> 0.34-0.39 turned 22 degrees, rendered obama3).
    facing = (np.abs(angles[:, 0]) <= MOUTH_FACING_DEGREES) & (
        np.abs(angles[:, 1]) <= MOUTH_FACING_DEGREES)
    if facing.any():
        rest = float(np.percentile(mar[facing], MOUTH_REST_PERCENTILE))
        opened = max(MOUTH_OPEN_MAR, rest + MOUTH_OPEN_RISE)
        events += [ActionEvent("mouth_open", s, e)
                   for s, e in _excursions(mar, times, enter=opened, leave=(rest + opened) / 2,
                                           judged=facing)]
    events += [ActionEvent("turn_left", s, e)
               for s, e in _runs(angles[:, 0] > TURN_DEGREES, times)]
    events += [ActionEvent("turn_right", s, e)
               for s, e in _runs(angles[:, 0] < -TURN_DEGREES, times)]
    events += [ActionEvent("nod", s, e) for s, e in _runs(angles[:, 1] > NOD_DEGREES, times)]
    turns = sorted((e for e in events if e.action in {"turn_left", "turn_right"}),
                   key=lambda e: e.start_ms)
    for first, second in zip(turns, turns[1:], strict=False):
        if first.action != second.action:
            events.append(ActionEvent("shake", first.start_ms, second.end_ms))
    return sorted(events, key=lambda e: e.start_ms)


def verify_actions(landmarks: list[np.ndarray], times_ms: list[float], actions: list[str], *,
                   timeout_ms: float, eyes_open_required: bool = False) -> ActionVerdict:
    """Judges a clip against its challenge: `actions` in order, each within `timeout_ms` of
    the previous one's end (the first, of the clip's start)."""
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown actions {sorted(unknown)}")
    angles = _clip_angles(landmarks)
    events = tuple(detect_events(landmarks, times_ms, angles=angles))
    turned = [planar_residual(landmarks[0], p) for p, (yaw, pitch) in zip(landmarks, angles,
                                                                           strict=True)
              if abs(yaw) > TURN_DEGREES or abs(pitch) > NOD_DEGREES]
    planarity = float(np.median(turned)) if turned else 0.0

    def verdict(passed: bool, reason: str) -> ActionVerdict:
        return ActionVerdict(passed, reason, events, round(planarity, 4))

    if eyes_open_required and max(eye_aspect_ratio(p) for p in landmarks) < EYES_OPEN_EAR:
        return verdict(False, "EYES_CLOSED")
    if turned and planarity < PLANAR_RESIDUAL_MIN:
        return verdict(False, "PLANAR_ATTACK")
    previous_end = float(times_ms[0])
    for action in actions:
        candidates = [e for e in events if e.action == action and e.start_ms >= previous_end]
        if not candidates or candidates[0].start_ms - previous_end > timeout_ms:
            # A photo tilted to imitate a turn rarely reaches the turn angle, so the check
            # above never saw it; but if the face moved while every frame remained one
            # homography of the first, what moved was a plane, not a head.
            if moved_rigidly(landmarks):
                return verdict(False, "PLANAR_ATTACK")
            return verdict(False, "ACTION_MISSING" if not candidates else "ACTION_LATE")
        previous_end = candidates[0].end_ms
    return verdict(True, "PASS")


def moved_rigidly(landmarks: list[np.ndarray]) -> bool:
    """The stable landmarks moved by RIGID_MOTION_MIN eye distances or more, and no frame
    departs from a homography of the first by PLANAR_RESIDUAL_MIN (a live head turning,
    nodding, blinking or speaking does, measured 0.05-0.12; prints 0.006-0.022)."""
    reference = landmarks[0]
    stable = list(STABLE)
    scale = max(inter_ocular(reference), 1e-6)
    moved = max(float(np.abs(p[stable, :2] - reference[stable, :2]).mean()) / scale
                for p in landmarks)
    return moved >= RIGID_MOTION_MIN and max(
        planar_residual(reference, p) for p in landmarks) < PLANAR_RESIDUAL_MIN


# A clip whose face FaceMesh finds in fewer frames than this cannot be judged.
MIN_FRAMES_WITH_FACE = 0.7


def analyse_action_clip(frames: Sequence[np.ndarray], times_ms: list[float], actions: list[str], *,
                        timeout_ms: float, detector, mesher, eyes_open_required: bool = False,
                        face_replace_check: bool = False, embedder=None,
                        track=None, embedded=None) -> ActionVerdict:
    """Images in, verdict out: the face is found on the first frame (the detector) and followed
    by FaceMesh through every frame (ml/tracking.py); frames where the mesh finds no face are
    left out. NO_FACE when it finds the face in under 70 % of the frames; with
    face_replace_check, FACE_REPLACED when the person changes during the clip
    (ml/consistency.py, on the tracked faces). A caller that tracked the clip already passes its
    `track`, and may pass the face-replace embeddings it made of the tracked faces
    (`embedded`: {frame index: vector}, ml/consistency.py). The models are the caller's (the
    process's one perception pipeline): this module builds none of its own."""
    from .tracking import track_faces

    if face_replace_check and embedder is None:
        raise ValueError("face_replace_check needs the embedder")
    if track is None:
        track = track_faces(frames, list(range(len(frames))), detector=detector, mesher=mesher)
    if track is None:
        return ActionVerdict(False, "NO_FACE", (), 0.0)
    indices = sorted(track.landmarks)
    if len(indices) < MIN_FRAMES_WITH_FACE * len(frames):
        return ActionVerdict(False, "NO_FACE", (), 0.0)
    landmarks = [track.landmarks[i] for i in indices]
    times = [times_ms[i] for i in indices]
    if face_replace_check:
        from .consistency import face_consistency

        consistency = face_consistency(frames, track.faces, embedder=embedder,
                                       embedded=embedded)
        if not consistency.same_person:
            return ActionVerdict(False, "FACE_REPLACED", (), 0.0)
    return verify_actions(landmarks, times, actions, timeout_ms=timeout_ms,
                          eyes_open_required=eyes_open_required)
