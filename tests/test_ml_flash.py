"""Flash liveness on simulated clips from the offline photos (seeds no threshold was set on)."""

import numpy as np
import pytest

from ml.flash import PALETTE, analyse_flash, flash_challenge_new
from ml.image import load_rgb
from ml.pipeline import perception
from ml.simulator.flash import render_flash_clip

from .test_ml_perception import PHOTOS

PHOTOS_USED = ["obama3.jpg", "biden.jpg", "Tom_Hanks_54745.png"]
SEEDS = [101, 202]


@pytest.fixture(scope="module")
def detector():
    return perception().detector


@pytest.fixture(scope="module")
def faces(detector):
    found = {}
    for name in PHOTOS_USED:
        rgb = load_rgb(PHOTOS / name)
        found[name] = (rgb, detector.detect(rgb)[0].box)
    return found


def _judge(faces, detector, name, seed, scenario):
    rgb, box = faces[name]
    challenge = flash_challenge_new(np.random.default_rng(seed))
    frames, times, _ = render_flash_clip(rgb, box, challenge, scenario=scenario, seed=seed + 7)
    return analyse_flash(frames, times, challenge, detector=detector)


@pytest.mark.parametrize("name", PHOTOS_USED)
@pytest.mark.parametrize("seed", SEEDS)
def test_live_clip_following_its_challenge_passes(faces, detector, name, seed):
    result = _judge(faces, detector, name, seed, "live")
    assert result.passed and result.reason == "PASS", result
    assert result.lag_ms <= 250


@pytest.mark.parametrize("name", PHOTOS_USED)
@pytest.mark.parametrize("seed", SEEDS)
def test_replay_of_another_sequence_fails(faces, detector, name, seed):
    result = _judge(faces, detector, name, seed, "replay")
    assert not result.passed and result.reason == "WRONG_SEQUENCE", result


@pytest.mark.parametrize("name", PHOTOS_USED)
@pytest.mark.parametrize("seed", SEEDS)
def test_right_colours_late_fail(faces, detector, name, seed):
    result = _judge(faces, detector, name, seed, "late")
    assert not result.passed and result.reason == "LATE", result


@pytest.mark.parametrize("name", PHOTOS_USED)
def test_a_face_that_does_not_react_fails(faces, detector, name):
    result = _judge(faces, detector, name, SEEDS[0], "static")
    assert not result.passed and result.reason in {"NO_RESPONSE", "WRONG_SEQUENCE"}, result


def test_no_face_in_the_clip(detector):
    frames = [np.full((240, 320, 3), 120, np.uint8)] * 10
    challenge = flash_challenge_new(np.random.default_rng(1))
    result = analyse_flash(frames, [i * 66.0 for i in range(10)], challenge, detector=detector)
    assert result.reason == "NO_FACE" and not result.passed


def test_clips_are_reproducible_from_their_seed(faces):
    rgb, box = faces["biden.jpg"]
    challenge = flash_challenge_new(np.random.default_rng(5))
    first = render_flash_clip(rgb, box, challenge, scenario="live", seed=9)
    second = render_flash_clip(rgb, box, challenge, scenario="live", seed=9)
    other = render_flash_clip(rgb, box, challenge, scenario="live", seed=10)
    assert first[1] == second[1]
    assert all(np.array_equal(a, b) for a, b in zip(first[0], second[0], strict=True))
    assert not np.array_equal(first[0][10], other[0][10])


def test_challenges_are_random_valid_sequences():
    rng = np.random.default_rng(3)
    challenges = [flash_challenge_new(rng, count=6) for _ in range(20)]
    assert len({tuple(s.colour for s in c.segments) for c in challenges}) == 20
    for challenge in challenges:
        colours = [s.colour for s in challenge.segments]
        assert len(colours) == 6 and set(colours) <= set(PALETTE)
        assert all(a != b for a, b in zip(colours, colours[1:], strict=False))
        assert all(350 <= s.end_ms - s.start_ms <= 650 for s in challenge.segments)
        assert all(a.end_ms == b.start_ms for a, b in zip(challenge.segments,
                                                          challenge.segments[1:], strict=False))


def test_unknown_scenario_is_refused(faces):
    rgb, box = faces["biden.jpg"]
    with pytest.raises(ValueError, match="unknown scenario"):
        render_flash_clip(rgb, box, flash_challenge_new(np.random.default_rng(1)),
                          scenario="deepfake", seed=1)


@pytest.mark.parametrize("scenario,passes", [("live", True), ("replay", False), ("late", False)])
def test_a_face_cut_by_the_frame_is_judged_on_its_visible_part(detector, scenario, passes):
    """obama_partial_face.jpg: MTCNN's box runs past the picture's edge. The inner face region
    used to reach outside the frame, its mean was empty and every clip failed, live ones too."""
    rgb = load_rgb(PHOTOS / "obama_partial_face.jpg")
    box = detector.detect(rgb)[0].box
    height, width = rgb.shape[:2]
    assert min(box[:2]) < 0 or box[2] > width or box[3] > height  # the premise
    for seed in SEEDS:
        challenge = flash_challenge_new(np.random.default_rng(seed))
        frames, times, _ = render_flash_clip(rgb, box, challenge, scenario=scenario,
                                             seed=seed + 7)
        result = analyse_flash(frames, times, challenge, detector=detector)
        assert result.passed is passes, result


def test_a_box_wholly_outside_the_frame_is_no_face():
    frames = [np.full((240, 320, 3), 120, np.uint8)] * 10
    challenge = flash_challenge_new(np.random.default_rng(1))
    result = analyse_flash(frames, [i * 66.0 for i in range(10)], challenge,
                           box=(400.0, 300.0, 500.0, 420.0))
    assert result.reason == "NO_FACE" and not result.passed


def test_face_region_means_equal_numpys_mean():
    """face_region_means sums the region with OpenCV: the means are numpy's to the last bit,
    on random frames and boxes, a box cut by the frame's edge included."""
    from ml.flash import face_region_means

    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (533, 480, 3), dtype=np.uint8) for _ in range(12)]
    for box in [(100.0, 80.0, 380.0, 420.0), (-40.5, 300.2, 210.7, 610.9), (7.3, 9.9, 31.1, 40.2)]:
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        top, left = max(0, int(y1 + 0.2 * h)), max(0, int(x1 + 0.2 * w))
        bottom, right = min(533, int(y2 - 0.2 * h)), min(480, int(x2 - 0.2 * w))
        expected = np.array([f[top:bottom, left:right].reshape(-1, 3).mean(axis=0)
                             for f in frames])
        assert np.array_equal(face_region_means(frames, box), expected)
