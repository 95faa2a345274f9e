"""Rendering a capture for a challenge with the simulator (ml/simulator): one scenario each.

live          the person does what the challenge asks (turns, blinks, follows the colours)
print         a printed photo: moved as a rigid plane, textures of paper (still: print texture)
replay        a screen: moiré and pixel grid (still), a recorded clip of other colours (flash)
mask          a cut-out photo mask (still); a rigid plane for meglive and flash
swap          another person's face takes over half way (meglive; needs --other-face)
wrong-action  the right actions in the wrong order (meglive)
late          the first action only after its timeout (meglive), colours seen late (flash)
closed-eyes   the eyes stay closed all along (still, meglive)
speaking      caught mid-word all along, ignoring the neutral-face instruction: lids half down,
              mouth partly open, yet doing every action asked (meglive)

A meglive capture opens with a neutral-face phase (NEUTRAL_INSTRUCTION for NEUTRAL_MS) before the
first action, as a phone SDK would ask; the server does not rely on it (it judges blinks and
mouth_open against the person's own levels in the clip).
"""

import zlib

import numpy as np

SCENARIOS = ("live", "print", "replay", "mask", "swap", "wrong-action", "late", "closed-eyes",
             "speaking")
ACTION_MS = {"blink": 400, "mouth_open": 700, "turn_left": 1100, "turn_right": 1100,
             "nod": 1100, "shake": 1400}
GAP_MS = 300
NEUTRAL_INSTRUCTION = "Look at the camera: eyes open, mouth closed, face relaxed"
NEUTRAL_MS = 700  # the neutral face before the first action
# A still capture: a burst of frames the server judges several of (docs/SDK.md).
STILL_BURST = 5
STILL_BURST_GAP_MS = 120.0
POSE = ("turn_left", "turn_right", "nod", "shake")


def _portrait(photo: np.ndarray):
    from ml.pipeline import perception
    from ml.simulator.head import portrait_frame

    detector = perception().detector
    faces = detector.detect(photo)
    if not faces:
        raise ValueError("no face in the picture given to --face")
    frame, _ = portrait_frame(photo, faces[0].box)
    found = detector.detect(frame)
    if not found:
        raise ValueError("the face is lost in the portrait frame")
    return frame, found[0]


def instructions(challenge: dict) -> list[str]:
    """What the SDK shows, in order: the neutral face, then each action (meglive)."""
    if challenge["liveness_type"] != "meglive":
        return []
    return [NEUTRAL_INSTRUCTION] + list(challenge["actions"])


def _script(actions: list[str], start_ms: float) -> tuple[list, float]:
    script, t = [], start_ms
    for action in actions:
        script.append((action, t, ACTION_MS[action]))
        t += ACTION_MS[action] + GAP_MS
    return script, t


def render(challenge: dict, scenario: str, face: np.ndarray, *, seed: int,
           other_face: np.ndarray | None = None) -> list[tuple[float, np.ndarray]]:
    """(ms, RGB frame) pairs for the challenge, as the scenario says."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    seed = zlib.crc32(f"{seed}/{scenario}/{challenge['challenge_id']}".encode())
    kind = challenge["liveness_type"]
    frame, found = _portrait(face)
    if kind == "still":
        return _still(frame, found, scenario, seed)
    if kind == "flash":
        return _flash(frame, found, challenge, scenario, seed)
    return _meglive(frame, found, challenge, scenario, seed, other_face)


def _still(frame, found, scenario, seed):
    from ml.simulator.attacks import render_attack
    from ml.simulator.head import HeadModel

    if scenario == "closed-eyes":
        from ml.mesh import FaceMesher

        head = HeadModel(frame, FaceMesher().landmarks(frame, found))
        shot = head.render(0, 0, 1.0, 0).astype(np.uint8)
    elif scenario in ("live", "print", "replay", "mask"):
        shot = render_attack(scenario, frame, found.box, seed=seed)
    else:
        raise ValueError(f"scenario {scenario!r} does not apply to still")
    return _burst(shot, seed)


def _burst(shot: np.ndarray, seed: int) -> list[tuple[float, np.ndarray]]:
    """A still capture is a short burst (docs/SDK.md): the same scene STILL_BURST times,
    STILL_BURST_GAP_MS apart, each frame with its own sensor noise and a pixel or two of
    hand shake."""
    rng = np.random.default_rng(seed)
    frames = []
    for n in range(STILL_BURST):
        shaken = np.roll(shot, tuple(rng.integers(-2, 3, 2)), axis=(0, 1)) if n else shot
        noisy = shaken.astype(np.float32) + rng.normal(0, 1.5, shot.shape)
        frames.append((n * STILL_BURST_GAP_MS, np.clip(noisy, 0, 255).astype(np.uint8)))
    return frames


def _flash(frame, found, challenge, scenario, seed):
    from ml.flash import FlashChallenge, FlashSegment
    from ml.simulator.flash import render_flash_clip

    flash = FlashChallenge(tuple(FlashSegment(c, s, e) for c, s, e in challenge["colours"]))
    simulated = {"live": "live", "replay": "replay", "late": "late", "print": "static",
                 "mask": "static"}.get(scenario)
    if simulated is None:
        raise ValueError(f"scenario {scenario!r} does not apply to flash")
    frames, times, _ = render_flash_clip(frame, found.box, flash, scenario=simulated, seed=seed)
    return list(zip(times, [f.astype(np.uint8) for f in frames], strict=True))


def _meglive(frame, found, challenge, scenario, seed, other_face):
    from ml.mesh import FaceMesher
    from ml.simulator.head import render_action_clip

    mesher = FaceMesher()
    points = mesher.landmarks(frame, found)
    actions = list(challenge["actions"])
    timeout_ms = float(challenge["action_timeout_s"]) * 1000
    start = NEUTRAL_MS
    if scenario == "wrong-action":
        # another head movement than the one asked (a nod for a turn or shake, a turn for a
        # nod): the required movement never happens
        actions = [{"nod": "turn_left"}.get(a, "nod") if a in POSE else a for a in actions]
    if scenario == "late":
        start = timeout_ms + 800.0
    script, end = _script(actions, start)
    if scenario == "closed-eyes":
        script = [("closed_eyes", 0.0, end + 200)] + [s for s in script if s[0] != "blink"]
    if scenario == "speaking":
        script = [("speaking", 0.0, end + 200)] + script
    swap = None
    if scenario == "swap":
        if other_face is None:
            raise ValueError("the swap scenario needs --other-face")
        other_frame, other_found = _portrait(other_face)
        swap = (other_frame, mesher.landmarks(other_frame, other_found))
    planar = scenario in ("print", "replay", "mask")
    frames, times = render_action_clip(frame, points, script, duration_ms=end + 200, seed=seed,
                                       planar=planar, fps=10, swap_to=swap,
                                       swap_at_ms=end / 2 if swap else None)
    return list(zip(times, [f.astype(np.uint8) for f in frames], strict=True))
