"""Action clips at the landmark level: a real face's FaceMesh points moved as a head would.

Not images: this renders what the landmark model would report, frame by frame, so the action
analyser (ml/actions.py) can be tested without a face renderer. Geometry follows the trial in
SIMULATOR-NOTES.md: points rotate about a centre 0.45 face widths behind the face and are
projected by a camera 3.5 face widths away; detector noise of 0.5 % of the face width is added.
A print (`planar=True`) first flattens every point to the face's mean depth, so it moves as a
plane (one homography) however it is turned. Seeded: the same seed gives the same clip.

A script is a list of (action, start_ms, duration_ms); actions: blink, mouth_open, turn_left,
turn_right (the person's own left/right: for turn_left the nose moves toward the image's
right in an unmirrored camera), nod (chin down), shake (left then right); and two states held
for their whole window rather than performed: closed_eyes, and speaking (caught mid-word: the
lids half down and the mouth partly open - a face that did not start neutral). Actions during
a held state start from it: a blink closes the half-lidded eyes, mouth_open opens the partly
open mouth to the same wide opening as from rest. A blink brings the upper lids down onto
the lower ones and holds them shut through its middle half, as a real blink does (at 10 fps a
300 ms blink then has a frame with the lids shut).
"""

import numpy as np

RIGHT_UPPER_LID = (246, 161, 160, 159, 158, 157, 173)
RIGHT_LOWER_LID = (7, 163, 144, 145, 153, 154, 155)
LEFT_UPPER_LID = (466, 388, 387, 386, 385, 384, 398)
LEFT_LOWER_LID = (249, 390, 373, 374, 380, 381, 382)
LOWER_INNER_LIP = (14, 87, 178, 88, 95, 317, 402, 318, 324)
UPPER_INNER_LIP = (13, 82, 81, 80, 191, 312, 311, 310, 415)
TURN_DEGREES, NOD_DEGREES = 25.0, 15.0
# Speaking: the lids 42.5 % of the way to closed (FaceMesh reads 76-83 % of the open eye aspect
# ratio on rendered obama3/biden) and the jaw at 45 % of a wide opening (mouth aspect ratio 0.2-0.3
# rendered, against 0.52-0.63 wide open and 0.00-0.05 closed).
SPEAKING_LIDS, SPEAKING_MOUTH = 0.425, 0.45


def _bump(t: float, start: float, duration: float) -> float:
    """0 outside [start, start + duration], rising smoothly to 1 in the middle."""
    if not start <= t <= start + duration:
        return 0.0
    return float(np.sin(np.pi * (t - start) / duration) ** 2)


def pose_at(t: float, script) -> tuple[float, float, float, float]:
    """(yaw, pitch, eyes closed 0..1, mouth open 0..1) at time t."""
    yaw = pitch = close = mouth = 0.0
    for action, start, duration in script:
        b = _bump(t, start, duration)
        if action == "turn_left":
            yaw += TURN_DEGREES * b
        elif action == "turn_right":
            yaw -= TURN_DEGREES * b
        elif action == "shake":
            half = duration / 2
            yaw += TURN_DEGREES * (_bump(t, start, half) - _bump(t, start + half, half))
        elif action == "nod":
            pitch += NOD_DEGREES * b
        elif action == "blink":
            # the lids shut fully and stay shut through the middle half of the blink
            close = max(close, min(1.0, 2.0 * b))
        elif action == "closed_eyes":
            close = max(close, 1.0 if start <= t <= start + duration else 0.0)
        elif action == "mouth_open":
            mouth = max(mouth, b)
        elif action == "speaking":
            if start <= t <= start + duration:
                close, mouth = max(close, SPEAKING_LIDS), max(mouth, SPEAKING_MOUTH)
        else:
            raise ValueError(f"unknown action {action!r}")
    return yaw, pitch, close, mouth


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    y, p = np.radians(yaw), np.radians(pitch)
    about_y = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return about_x @ about_y


def landmark_clip(base: np.ndarray, script, *, duration_ms: float, seed: int,
                  planar: bool = False, fps: float = 15.0) -> tuple[list[np.ndarray], list]:
    """(landmarks per frame, timestamps in ms)."""
    rng = np.random.default_rng(seed)
    base = np.asarray(base, dtype=np.float64).copy()
    width = float(np.ptp(base[:, 0]))
    if planar:
        base[:, 2] = base[:, 2].mean()
    centre = base.mean(axis=0) + np.array([0.0, 0.0, 0.45 * width])
    camera = 3.5 * width
    # How much each point follows the dropping jaw: the lower lip and all below it fully,
    # fading in over 5 % of the face width below the lips' meeting line; the upper lip not.
    lips_line = (base[13, 1] + base[14, 1]) / 2
    jaw = np.clip((base[:, 1] - lips_line) / (0.05 * width), 0, 1)
    jaw[list(LOWER_INNER_LIP)] = 1.0
    jaw[list(UPPER_INNER_LIP)] = 0.0
    frames, times, t = [], [], 0.0
    while t <= duration_ms:
        yaw, pitch, close, mouth = pose_at(t, script)
        points = base.copy()
        if not planar:  # a print cannot blink or open its mouth
            for upper, lower in ((RIGHT_UPPER_LID, RIGHT_LOWER_LID),
                                 (LEFT_UPPER_LID, LEFT_LOWER_LID)):
                points[list(upper), :2] += close * (base[list(lower), :2]
                                                     - base[list(upper), :2])
            points[:, 1] += 0.15 * width * mouth * jaw
        relative = (points - centre) @ _rotation(yaw, pitch).T
        scale = camera / (camera + relative[:, 2] - (base[:, 2].mean() - centre[2]))
        projected = np.empty_like(points)
        projected[:, 0] = centre[0] + relative[:, 0] * scale
        projected[:, 1] = centre[1] + relative[:, 1] * scale
        projected[:, 2] = relative[:, 2]
        projected += rng.normal(0.0, 0.005 * width, projected.shape)
        frames.append(projected)
        times.append(round(t, 1))
        t += 1000.0 / fps + float(rng.uniform(-5, 5))
    return frames, times
