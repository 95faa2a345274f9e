"""The 2.5D head renderer, and action liveness end to end on rendered image clips:
frames -> MTCNN -> FaceMesh per frame -> events -> verdict."""

import numpy as np
import pytest

from ml.actions import analyse_action_clip, eye_aspect_ratio, head_angles, mouth_aspect_ratio
from ml.image import load_rgb
from ml.mesh import FaceMesher
from ml.pipeline import perception
from ml.simulator.head import HeadModel, portrait_frame, render_action_clip

from .test_ml_perception import PHOTOS

FACES = ["obama3.jpg", "biden.jpg"]
CHALLENGE = ["blink", "turn_left", "mouth_open"]
FOLLOWED = [("blink", 200, 350), ("turn_left", 700, 1000), ("mouth_open", 1900, 600)]


@pytest.fixture(scope="module")
def models():
    return perception().detector, FaceMesher()


@pytest.fixture(scope="module")
def subjects(models):
    detector, mesher = models
    found = {}
    for name in FACES:
        rgb = load_rgb(PHOTOS / name)
        frame, _ = portrait_frame(rgb, detector.detect(rgb)[0].box)
        face = detector.detect(frame)[0]
        found[name] = (frame, face, mesher.landmarks(frame, face))
    return found


@pytest.mark.parametrize("name", FACES)
def test_rendered_poses_are_read_back_by_facemesh(models, subjects, name):
    _, mesher = models
    frame, face, base = subjects[name]
    head = HeadModel(frame, base)
    assert np.abs(head.render().astype(int) - frame.astype(int)).mean() < 2  # rest pose = photo
    for yaw in (-20, 20):
        yaw_read, pitch_read = head_angles(base, mesher.landmarks(head.render(yaw=yaw), face))
        assert abs(yaw_read - yaw) < 4 and abs(pitch_read) < 4
    _, pitch_read = head_angles(base, mesher.landmarks(head.render(pitch=12), face))
    assert abs(pitch_read - 12) < 5  # measured: 11.2 and 7.8 (pitch reads low on some faces)
    open_ear = eye_aspect_ratio(base)
    assert eye_aspect_ratio(mesher.landmarks(head.render(close=1.0), face)) < 0.6 * open_ear
    assert mouth_aspect_ratio(mesher.landmarks(head.render(mouth=1.0), face)) > 0.35


def _clip(subjects, models, name, script, *, seed, planar=False, actions=CHALLENGE):
    frame, _, base = subjects[name]
    frames, times = render_action_clip(frame, base, script, duration_ms=2700, seed=seed,
                                       planar=planar, fps=10)
    detector, mesher = models
    return analyse_action_clip(frames, times, actions, timeout_ms=10_000, detector=detector,
                               mesher=mesher)


@pytest.mark.parametrize("name", FACES)
def test_a_rendered_head_following_its_challenge_passes(subjects, models, name):
    verdict = _clip(subjects, models, name, FOLLOWED, seed=301)
    assert verdict.passed, verdict
    assert [e.action for e in verdict.events] == CHALLENGE
    assert verdict.planarity > 0.05


@pytest.mark.parametrize("name", FACES)
def test_a_printed_photo_moved_about_fails(subjects, models, name):
    verdict = _clip(subjects, models, name, FOLLOWED, seed=302, planar=True)
    # A print cannot blink, and turned 25 degrees it reads as a few degrees of yaw: it fails
    # on the missing actions, or as planar when a turn does register.
    assert not verdict.passed and verdict.reason in {"ACTION_MISSING", "PLANAR_ATTACK"}, verdict


def test_a_rendered_head_in_the_wrong_order_fails(subjects, models):
    script = [("turn_left", 200, 1000), ("blink", 1400, 350), ("mouth_open", 1900, 600)]
    verdict = _clip(subjects, models, "biden.jpg", script, seed=303)
    assert verdict.reason == "ACTION_MISSING", verdict


def test_rendered_clips_are_reproducible(subjects):
    frame, _, base = subjects["biden.jpg"]
    first = render_action_clip(frame, base, FOLLOWED, duration_ms=400, seed=5, fps=10)
    second = render_action_clip(frame, base, FOLLOWED, duration_ms=400, seed=5, fps=10)
    assert first[1] == second[1]
    assert all(np.array_equal(a, b) for a, b in zip(first[0], second[0], strict=True))


def test_a_clip_without_a_face_is_undetected(models):
    detector, mesher = models
    frames = [np.full((480, 360, 3), 100, np.uint8)] * 5
    verdict = analyse_action_clip(frames, [i * 100.0 for i in range(5)], ["blink"],
                                  timeout_ms=1000, detector=detector, mesher=mesher)
    assert verdict.reason == "NO_FACE" and not verdict.passed


def test_a_face_swapped_mid_clip_is_a_replaced_face(subjects, models):
    detector, mesher = models
    frame, _, base = subjects["obama3.jpg"]
    other_frame, _, other_base = subjects["biden.jpg"]
    frames, times = render_action_clip(frame, base, FOLLOWED, duration_ms=2700, seed=304,
                                       fps=10, swap_to=(other_frame, other_base),
                                       swap_at_ms=1300)
    verdict = analyse_action_clip(frames, times, CHALLENGE, timeout_ms=10_000,
                                  face_replace_check=True, detector=detector, mesher=mesher,
                                  embedder=perception().embedder)
    assert verdict.reason == "FACE_REPLACED", verdict


@pytest.mark.parametrize("name", FACES)
def test_the_same_person_throughout_passes_face_replace_detection(subjects, models, name):
    from ml.consistency import face_consistency
    from ml.tracking import track_faces

    detector, mesher = models
    frame, _, base = subjects[name]
    frames, _ = render_action_clip(frame, base, FOLLOWED, duration_ms=2700, seed=305, fps=10)
    track = track_faces(frames, list(range(len(frames))), detector=detector, mesher=mesher)
    assert track is not None and track.found_share(len(frames)) == 1.0
    result = face_consistency(frames, track.faces, embedder=perception().embedder)
    assert result.same_person and result.lowest_confidence > result.threshold, result


@pytest.mark.parametrize("name", FACES)
def test_mesh_points_read_from_bytes_are_the_landmarks_values(models, subjects, name):
    """normalized_points reads FaceMesh's landmarks from their serialized bytes: the same
    float32 values as reading each landmark's x, y, z; a list laid out otherwise (a landmark
    with a visibility) is read attribute by attribute, with the same values."""
    import cv2

    from ml.mesh import CROP_SIZE, normalized_points

    _, mesher = models
    frame, face, _ = subjects[name]
    x1, y1, x2, y2 = (int(v) for v in face.box)
    crop = cv2.resize(frame[max(0, y1 - 60):y2 + 60, max(0, x1 - 60):x2 + 60],
                      (CROP_SIZE, CROP_SIZE))
    found = mesher._mesh.process(crop).multi_face_landmarks
    assert found, "FaceMesh found no face on the crop"
    landmarks = found[0]

    def attribute_read(listed):
        return np.array([(p.x, p.y, p.z) for p in listed.landmark], dtype=np.float32)

    points = normalized_points(landmarks)
    assert points.shape == (478, 3) and points.dtype == np.float32
    assert np.array_equal(points, attribute_read(landmarks))
    landmarks.landmark[10].visibility = 0.5        # one record of another length
    assert np.array_equal(normalized_points(landmarks), attribute_read(landmarks))
