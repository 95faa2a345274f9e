"""Action liveness on landmark-level clips made from the real FaceMesh points of the photos.

The clips are what the landmark model would report (ml/simulator/landmarks.py), not images:
they test the analysis (events, order, timeouts, planarity, closed eyes); rendering faces to
images and re-detecting them comes with the head simulator.
"""

import numpy as np
import pytest

from ml.actions import detect_events, head_angles, verify_actions
from ml.image import load_rgb
from ml.mesh import FaceMesher
from ml.pipeline import perception
from ml.simulator.landmarks import landmark_clip

from .test_ml_perception import PHOTOS

FACES = ["obama3.jpg", "biden.jpg", "obama.jpg"]
CHALLENGE = ["blink", "turn_left", "mouth_open"]
FOLLOWED = [("blink", 300, 300), ("turn_left", 1000, 1200), ("mouth_open", 2600, 700)]


@pytest.fixture(scope="module")
def bases():
    mesher, detector = FaceMesher(), perception().detector
    found = {}
    for name in FACES:
        rgb = load_rgb(PHOTOS / name)
        found[name] = mesher.landmarks(rgb, detector.detect(rgb)[0])
        assert found[name] is not None and found[name].shape == (478, 3)
    return found


def judge(base, script, actions, *, seed, duration_ms=3800, planar=False, timeout_ms=10_000,
          eyes_close_detection=False):
    clip = landmark_clip(base, script, duration_ms=duration_ms, seed=seed, planar=planar)
    return verify_actions(*clip, actions, timeout_ms=timeout_ms,
                          eyes_open_required=eyes_close_detection)


@pytest.mark.parametrize("name", FACES)
@pytest.mark.parametrize("seed", [11, 12])
def test_a_head_following_its_challenge_passes(bases, name, seed):
    verdict = judge(bases[name], FOLLOWED, CHALLENGE, seed=seed)
    assert verdict.passed and verdict.reason == "PASS", verdict
    assert verdict.planarity > 0.05


@pytest.mark.parametrize("name", FACES)
def test_other_actions_are_recognised(bases, name):
    script = [("turn_right", 200, 1000), ("nod", 1500, 1000), ("shake", 2800, 1600)]
    verdict = judge(bases[name], script, ["turn_right", "nod", "shake"], seed=21,
                    duration_ms=4600)
    assert verdict.passed, verdict


@pytest.mark.parametrize("name", FACES)
def test_a_flat_photo_turned_about_fails_as_planar(bases, name):
    verdict = judge(bases[name], [("turn_left", 300, 1200), ("turn_right", 1800, 1200)],
                    ["turn_left", "turn_right"], seed=31, duration_ms=3200, planar=True)
    assert not verdict.passed and verdict.reason == "PLANAR_ATTACK", verdict
    assert verdict.planarity < 0.035


@pytest.mark.parametrize("name", FACES)
def test_wrong_order_is_an_action_error(bases, name):
    script = [("turn_left", 200, 1200), ("blink", 1700, 300), ("mouth_open", 2300, 700)]
    verdict = judge(bases[name], script, CHALLENGE, seed=41)
    assert verdict.reason == "ACTION_MISSING", verdict


@pytest.mark.parametrize("name", FACES)
def test_a_missed_action_is_an_action_error(bases, name):
    verdict = judge(bases[name], FOLLOWED, CHALLENGE + ["nod"], seed=51)
    assert verdict.reason == "ACTION_MISSING", verdict


@pytest.mark.parametrize("name", FACES)
def test_a_late_action_is_a_timeout(bases, name):
    script = [("blink", 300, 300), ("turn_left", 4000, 1200)]  # 3.4 s after the blink
    verdict = judge(bases[name], script, ["blink", "turn_left"], seed=61, duration_ms=5600,
                    timeout_ms=3000)
    assert verdict.reason == "ACTION_LATE", verdict
    on_time = judge(bases[name], script, ["blink", "turn_left"], seed=61, duration_ms=5600,
                    timeout_ms=4000)
    assert on_time.passed, on_time


@pytest.mark.parametrize("name", FACES)
def test_eyes_closed_the_whole_clip(bases, name):
    script = [("closed_eyes", 0, 4000), ("turn_left", 800, 1200)]
    closed = judge(bases[name], script, ["turn_left"], seed=71, eyes_close_detection=True)
    assert closed.reason == "EYES_CLOSED", closed
    unchecked = judge(bases[name], script, ["turn_left"], seed=71, eyes_close_detection=False)
    assert unchecked.passed, unchecked  # the check runs only when the session asks for it


def test_turn_direction_is_the_persons_own(bases):
    frames, _ = landmark_clip(bases["biden.jpg"], [("turn_left", 0, 1000)], duration_ms=1000,
                              seed=1)
    middle = frames[len(frames) // 2]
    assert middle[4, 0] > frames[0][4, 0] + 20  # the nose moves toward the image's right
    yaw, pitch = head_angles(frames[0], middle)
    assert 20 < yaw < 32 and abs(pitch) < 3


def test_events_carry_their_times(bases):
    frames, times = landmark_clip(bases["biden.jpg"], FOLLOWED, duration_ms=3800, seed=81)
    events = {e.action: e for e in detect_events(frames, times)}
    assert 300 <= events["blink"].start_ms < events["blink"].end_ms <= 650
    assert 1000 <= events["turn_left"].start_ms < events["turn_left"].end_ms <= 2250
    assert 2600 <= events["mouth_open"].start_ms


def test_clips_are_reproducible_and_unknown_actions_refused(bases):
    first = landmark_clip(bases["biden.jpg"], FOLLOWED, duration_ms=1000, seed=5)
    second = landmark_clip(bases["biden.jpg"], FOLLOWED, duration_ms=1000, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first[0], second[0], strict=True))
    with pytest.raises(ValueError, match="unknown action"):
        verify_actions(*first, ["smile"], timeout_ms=1000)


# Caught mid-word (ml/simulator/landmarks.py "speaking"): lids half down, mouth partly open.
SPEAKING_ALL_ALONG = [("speaking", 0, 3800)]
SPEAKING_AT_FIRST = [("speaking", 0, 1500)]  # relaxes to neutral after the blink


@pytest.mark.parametrize("name", FACES)
@pytest.mark.parametrize("speaking", [SPEAKING_ALL_ALONG, SPEAKING_AT_FIRST])
def test_a_face_that_starts_speaking_passes_when_it_follows(bases, name, speaking):
    verdict = judge(bases[name], speaking + FOLLOWED, CHALLENGE, seed=13)
    assert verdict.passed and verdict.reason == "PASS", verdict


@pytest.mark.parametrize("name", FACES)
@pytest.mark.parametrize("speaking", [SPEAKING_ALL_ALONG, SPEAKING_AT_FIRST])
def test_a_face_that_starts_speaking_fails_when_it_only_turns(bases, name, speaking):
    # the half-lidded eyes and the half-open mouth, held or relaxing, are no blink and no
    # mouth_open: only the turn was done
    verdict = judge(bases[name], speaking + [("turn_left", 1000, 1200)], CHALLENGE, seed=14)
    assert not verdict.passed and verdict.reason == "ACTION_MISSING", verdict
    assert {e.action for e in verdict.events} == {"turn_left"}, verdict


@pytest.fixture(scope="module")
def speaking_photo():
    """obama2.jpg: a real photo taken mid-word (mouth aspect ratio 0.43, over MOUTH_OPEN_MAR)."""
    rgb = load_rgb(PHOTOS / "obama2.jpg")
    return FaceMesher().landmarks(rgb, perception().detector.detect(rgb)[0])


def test_the_real_speaking_photo_passes_when_it_follows(speaking_photo):
    verdict = judge(speaking_photo, FOLLOWED, CHALLENGE, seed=15)
    assert verdict.passed and verdict.reason == "PASS", verdict


def test_the_real_speaking_photo_fails_when_it_does_not_blink_or_open(speaking_photo):
    verdict = judge(speaking_photo, [("turn_left", 1000, 1200)], CHALLENGE, seed=16)
    assert verdict.reason == "ACTION_MISSING", verdict
    assert {e.action for e in verdict.events} == {"turn_left"}, verdict


@pytest.fixture(scope="module")
def rendered():
    from ml.simulator.head import portrait_frame

    mesher, detector = FaceMesher(), perception().detector
    found = {}
    for name in ("obama3.jpg", "biden.jpg"):
        rgb = load_rgb(PHOTOS / name)
        frame, _ = portrait_frame(rgb, detector.detect(rgb)[0].box)
        found[name] = (frame, mesher.landmarks(frame, detector.detect(frame)[0]))
    return found, detector, mesher


def rendered_verdict(rendered, name, script, *, seed, duration_ms):
    from ml.actions import analyse_action_clip
    from ml.simulator.head import render_action_clip

    found, detector, mesher = rendered
    frames, times = render_action_clip(*found[name], script, duration_ms=duration_ms,
                                       seed=seed, fps=10)
    return analyse_action_clip(frames, times, CHALLENGE, timeout_ms=10_000,
                               detector=detector, mesher=mesher)


@pytest.mark.parametrize("name", ["obama3.jpg", "biden.jpg"])
@pytest.mark.parametrize("seed", [306, 307])
def test_a_rendered_face_speaking_all_along_that_only_turns_fails(rendered, name, seed):
    """Images through MTCNN and FaceMesh: half-lidded eyes and a half-open mouth held all along
    are no blink and no mouth_open, the mouth not even while the head turns."""
    verdict = rendered_verdict(rendered, name, [("speaking", 0, 2700), ("turn_left", 700, 1000)],
                               seed=seed, duration_ms=2700)
    assert verdict.reason == "ACTION_MISSING", verdict
    assert {e.action for e in verdict.events} == {"turn_left"}, verdict


@pytest.mark.parametrize("name", ["obama3.jpg", "biden.jpg"])
@pytest.mark.parametrize("seed", [306, 307])
def test_a_rendered_face_speaking_all_along_passes_when_it_follows(rendered, name, seed):
    """The same face blinking (from its half-lidded eyes), turning and opening its mouth wide."""
    verdict = rendered_verdict(rendered, name, SPEAKING_ALL_ALONG + FOLLOWED, seed=seed,
                               duration_ms=3800)
    assert verdict.passed and verdict.reason == "PASS", verdict
    assert [e.action for e in verdict.events] == CHALLENGE, verdict
