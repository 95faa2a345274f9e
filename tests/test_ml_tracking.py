"""A clip's face detected once and tracked by FaceMesh (ml/tracking.py), and the clip verify that
uses the track instead of detecting on every frame it looks at (ml/session.py)."""

import numpy as np
import pytest

from ml.detection import box_iou
from ml.image import load_rgb
from ml.jobs import ActionChallenge, LivenessCheck, Reason, VerifyJob
from ml.pipeline import perception
from ml.session import reference_analyse, session_verify
from ml.simulator.head import portrait_frame, render_action_clip
from ml.tracking import track_faces

from .test_ml_perception import PHOTOS

SCRIPT = [("blink", 200, 350), ("turn_left", 700, 1000), ("mouth_open", 1900, 600)]
ACTIONS = ("blink", "turn_left", "mouth_open")


@pytest.fixture(scope="module")
def clips():
    pipeline = perception()
    out = {}
    for name in ("obama3.jpg", "biden.jpg"):
        rgb = load_rgb(PHOTOS / name)
        frame, _ = portrait_frame(rgb, pipeline.detector.detect(rgb)[0].box)
        base = pipeline.mesher.landmarks(frame, pipeline.detector.detect(frame)[0])
        frames, times = render_action_clip(frame, base, SCRIPT, duration_ms=2700, seed=41,
                                           fps=10)
        out[name] = (frames, times)
    return out


@pytest.mark.parametrize("name", ["obama3.jpg", "biden.jpg"])
def test_the_tracked_face_is_where_the_detector_finds_it_on_every_frame(clips, name):
    """Blink, a 25 degree turn and an open mouth: on every frame the face made from the mesh
    overlaps the detector's own box (IoU) and its five landmarks lie within a few percent of
    the face's width of the detector's (the embedder and the quality score read them)."""
    pipeline = perception()
    frames, _ = clips[name]
    track = track_faces(frames, list(range(len(frames))), detector=pipeline.detector,
                        mesher=pipeline.mesher)
    assert track is not None and track.found_share(len(frames)) == 1.0
    ious, offsets = [], []
    for index, frame in enumerate(frames):
        detected = pipeline.detector.detect(frame)[0]
        tracked = track.faces[index]
        ious.append(box_iou(detected.box, tracked.box))
        distance = np.linalg.norm(np.subtract(detected.landmarks, tracked.landmarks), axis=1)
        offsets.append(float(distance.max()) / detected.width)
    assert min(ious) > 0.8, ious
    assert max(offsets) < 0.08, offsets


def test_no_face_on_the_first_frames_is_no_track():
    pipeline = perception()
    blank = [np.full((480, 480, 3), 128, np.uint8)] * 5
    assert track_faces(blank, list(range(5)), detector=pipeline.detector,
                       mesher=pipeline.mesher) is None


def _job(frames, times, reference, *, single_face_required=False):
    from liveness_sdk.client import jpeg

    return VerifyJob(check=LivenessCheck.ACTIONS, actions=ActionChallenge(ACTIONS, 10_000.0),
                     references={"ref": reference}, frames=tuple(jpeg(f) for f in frames),
                     times_ms=tuple(times), single_face_required=single_face_required)


def test_a_clip_verify_tracks_the_face_and_still_sees_a_second_one_join(clips):
    """The live clip passes with the track's faces; the same clip with a second face pasted
    into its last frames is refused with SEVERAL_FACES when one face is required."""
    frames, times = clips["obama3.jpg"]
    reference = reference_analyse((PHOTOS / "obama.jpg").read_bytes(),
                                  multi_oriented=False)["embedding"]
    result = session_verify(_job(frames, times, reference))
    assert result.reason == Reason.SAME_PERSON, result.liveness

    other = load_rgb(PHOTOS / "biden.jpg")
    box = perception().detector.detect(other)[0].box
    x1, y1, x2, y2 = (int(v) for v in box)
    import cv2

    small = cv2.resize(other[y1:y2, x1:x2], (110, 140), interpolation=cv2.INTER_AREA)
    joined = [f.copy() for f in frames]
    for frame in joined[-6:]:
        frame[-150:-10, 10:120] = small
    assert len([f for f in perception().detector.detect(joined[-1]) if f.score >= 0.97]) == 2
    crowded = session_verify(_job(joined, times, reference, single_face_required=True))
    assert crowded.reason == Reason.SEVERAL_FACES
    alone = session_verify(_job(joined, times, reference))
    assert alone.reason == Reason.SAME_PERSON, alone.liveness


def test_the_last_frame_is_detected_only_when_one_face_is_required(clips, monkeypatch):
    """The detector runs on the first and the best frame of a clip; on the last frame too only
    when the session asked for one face (nobody reads the crowd check otherwise). A detection
    is MTCNN's search of a frame (detect_many) or its confirmation of YuNet's proposals on one
    (confirm): every one is proposed and confirmed."""
    frames, times = clips["obama3.jpg"]
    reference = reference_analyse((PHOTOS / "obama.jpg").read_bytes(),
                                  multi_oriented=False)["embedding"]
    detector = perception().detector
    calls = []
    search, confirm = type(detector).detect_many, type(detector).confirm

    def counted_search(self, rgbs):
        calls.append(("search", len(rgbs)))
        return search(self, rgbs)

    def counted_confirm(self, rgb, boxes):
        calls.append(("confirm", 1))
        return confirm(self, rgb, boxes)

    monkeypatch.setattr(type(detector), "detect_many", counted_search)
    monkeypatch.setattr(type(detector), "confirm", counted_confirm)
    result = session_verify(_job(frames, times, reference))
    assert result.reason == Reason.SAME_PERSON, result.liveness
    assert calls == [("confirm", 1)] * 2
    calls.clear()
    result = session_verify(_job(frames, times, reference, single_face_required=True))
    assert result.reason == Reason.SAME_PERSON, result.liveness
    assert result.best_frame["index"] != len(frames) - 1
    assert calls == [("confirm", 1)] * 3


def test_a_bigger_face_that_enters_the_clip_is_not_the_one_judged(clips):
    """The person who did the challenge is tracked from the first frame; a larger face that
    appears beside them from the second frame on (a photo held up, a bystander nearer the
    camera) is the largest face on the best frame, but the best frame's judged and compared
    face is the tracked one (judged by the largest, the clip answered another person)."""
    import cv2

    frames, times = clips["obama3.jpg"]
    reference = reference_analyse((PHOTOS / "obama.jpg").read_bytes(),
                                  multi_oriented=False)["embedding"]
    detector = perception().detector
    own = detector.detect(frames[0])[0]
    other = load_rgb(PHOTOS / "biden.jpg")
    x1, y1, x2, y2 = (int(v) for v in detector.detect(other)[0].box)
    height, width = frames[0].shape[:2]
    size = (int(own.width * 1.4), int(own.height * 1.4))
    bigger = cv2.resize(other[y1:y2, x1:x2], size, interpolation=cv2.INTER_AREA)
    widened = []
    for n, frame in enumerate(frames):
        canvas = np.full((height, width + size[0] + 40, 3), 120, np.uint8)
        # the first frame a little blurred, so that the best frame is a later one
        canvas[:, :width] = cv2.GaussianBlur(frame, (0, 0), 2.5) if n == 0 else frame
        if n:
            top = (height - size[1]) // 2
            canvas[top:top + size[1], width + 20:width + 20 + size[0]] = bigger
        widened.append(canvas)
    largest = detector.detect(widened[5])[0]
    assert largest.box[0] > width, "the pasted face is not the largest on the frame"
    result = session_verify(_job(widened, times, reference))
    assert result.reason == Reason.SAME_PERSON, (result.reason, result.liveness)
    assert result.best_frame["index"] > 0


def test_box_offsets_come_from_the_frame_the_mesh_first_reads(clips):
    """The detector finds the face on the first frame but the mesh cannot read it (heavy sensor
    noise) and the face has moved 40 px by the next frame: the box offsets are measured against
    MTCNN's confirmation of the face on the frame the mesh reads, so the tracked boxes still
    overlap the detector's own on every frame (paired with the first frame's box, they were
    off by the move on all of them)."""
    pipeline = perception()
    frames, _ = clips["obama3.jpg"]
    rng = np.random.default_rng(0)
    noisy_moved = np.clip(np.roll(frames[0], 40, axis=1) + rng.normal(0, 80, frames[0].shape),
                          0, 255).astype(np.uint8)
    clip = [noisy_moved] + list(frames[1:])
    first = pipeline.detector.detect(noisy_moved)
    assert first and pipeline.mesher.landmarks(noisy_moved, first[0]) is None
    track = track_faces(clip, list(range(len(clip))), detector=pipeline.detector,
                        mesher=pipeline.mesher)
    assert track is not None and 0 not in track.faces
    ious = [box_iou(pipeline.detector.detect(clip[i])[0].box, track.faces[i].box)
            for i in range(1, len(clip))]
    assert min(ious) > 0.8, ious


def test_work_started_beside_the_track_gives_the_answers_of_doing_it_in_order(clips,
                                                                              monkeypatch):
    """With two threads (ML_THREADS=2), a clip verify embeds the face-replace frames on the
    background threads while FaceMesh tracks the rest, draws the review strip there too, looks
    for a second face on the last frame beside the best frame's analysis and runs the passive
    decision beside the actions' verdict and the comparison (ml/session.py); with one,
    everything runs in order on the caller's thread. Both give the same answer to the last
    digit: a live clip passes (asked for one face or not), the same clip with another person
    swapped in halfway is FACE_REPLACED, and the strip, the best frame, the passive scores and
    the comparisons are identical."""
    import threading

    from ml.simulator.head import render_action_clip as render

    pipeline = perception()
    frames, times = clips["obama3.jpg"]
    other = load_rgb(PHOTOS / "biden.jpg")
    other_frame, _ = portrait_frame(other, pipeline.detector.detect(other)[0].box)
    own = load_rgb(PHOTOS / "obama3.jpg")
    own_frame, _ = portrait_frame(own, pipeline.detector.detect(own)[0].box)
    own_mesh = pipeline.mesher.landmarks(own_frame, pipeline.detector.detect(own_frame)[0])
    other_mesh = pipeline.mesher.landmarks(other_frame,
                                           pipeline.detector.detect(other_frame)[0])
    swapped, swapped_times = render(own_frame, own_mesh, SCRIPT, duration_ms=2700, seed=304,
                                    fps=10, swap_to=(other_frame, other_mesh),
                                    swap_at_ms=1300)
    reference = reference_analyse((PHOTOS / "obama.jpg").read_bytes(),
                                  multi_oriented=False)["embedding"]
    embed, pad_score = type(pipeline.embedder).embed, type(pipeline.pad).score
    threads_used: list[str] = []
    pad_threads: list[str] = []

    def recorded(self, rgb, face):
        threads_used.append(threading.current_thread().name)
        return embed(self, rgb, face)

    def pad_recorded(self, rgb, box):
        pad_threads.append(threading.current_thread().name)
        return pad_score(self, rgb, box)

    monkeypatch.setattr(type(pipeline.embedder), "embed", recorded)
    monkeypatch.setattr(type(pipeline.pad), "score", pad_recorded)
    answers = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("ML_THREADS", threads)
        threads_used.clear()
        pad_threads.clear()
        answers[threads] = [session_verify(_job(f, t, reference, single_face_required=one))
                            for f, t, one in ((frames, times, False),
                                              (swapped, swapped_times, False),
                                              (frames, times, True))]
        beside = sum(name.startswith("ml-background") for name in threads_used)
        # on the caller's thread: each live clip's best frame, compared with the reference
        assert beside == (0 if threads == "1" else len(threads_used) - 2), threads_used
        assert len(pad_threads) == 3
        assert all(name.startswith("ml-background") == (threads == "2")
                   for name in pad_threads), pad_threads
    for in_order, overlapped in zip(answers["1"], answers["2"], strict=True):
        for field in ("reason", "liveness", "checks", "comparisons", "passive", "strip",
                      "best_frame"):
            assert getattr(in_order, field) == getattr(overlapped, field), field
    live, replaced, alone = answers["2"]
    assert live.reason == Reason.SAME_PERSON, live.liveness
    assert replaced.reason == Reason.FACE_REPLACED, replaced.liveness
    assert alone.reason == Reason.SAME_PERSON, alone.liveness
