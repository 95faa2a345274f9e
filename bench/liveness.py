"""Liveness analysers on the CPU: milliseconds for a 30-frame clip.

    .venv/bin/python bench/liveness.py [--repeat 10]

The flash analyser (face found on the first frame by MTCNN, then colour signal,
cross-correlation over lags, per-segment agreement) on a simulated 30-frame, 640 px clip of
biden.jpg; the action analyser on 30 frames of landmarks (blink, turn, mouth), and FaceMesh per
frame (what a real clip adds: landmarks for 30 frames). The passive anti-spoofing model joins
this script when it exists. Also: the 2.5D head renderer per frame, and an action clip end to
end (30 rendered frames: MTCNN on the first, FaceMesh tracking it through each, events,
verdict), face-replace detection on that track (SFace on every 5th tracked face), and one
inference of the baseline PAD model (crop + network) on the CPU; the default passive decision
(ml/pad_fusion.py: every member loaded once per process, as in a worker) per picture and for a
still verify's three judged burst frames. Prints one JSON line last; writes
bench/results/liveness.json.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _harness import write_result  # noqa: E402

from ml.actions import analyse_action_clip, verify_actions  # noqa: E402
from ml.consistency import face_consistency  # noqa: E402
from ml.flash import analyse_flash, flash_challenge_new  # noqa: E402
from ml.image import load_rgb  # noqa: E402
from ml.mesh import FaceMesher  # noqa: E402
from ml.pad import PadModel  # noqa: E402
from ml.pad_fusion import PassiveDecision  # noqa: E402
from ml.pipeline import perception  # noqa: E402
from ml.session import STILL_FRAMES_JUDGED  # noqa: E402
from ml.simulator.flash import render_flash_clip  # noqa: E402
from ml.simulator.head import HeadModel, portrait_frame, render_action_clip  # noqa: E402
from ml.simulator.landmarks import landmark_clip  # noqa: E402
from ml.tracking import track_faces  # noqa: E402
from ml.weights import weight_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    detector = perception().detector
    rgb = load_rgb(REPO / "fixtures" / "photos" / "biden.jpg")
    box = detector.detect(rgb)[0].box
    challenge = flash_challenge_new(np.random.default_rng(1), count=4, min_ms=450, max_ms=450)
    started = time.perf_counter()
    frames, times, frame_box = render_flash_clip(rgb, box, challenge, scenario="live", seed=1)
    render_ms_per_frame = (time.perf_counter() - started) * 1000 / len(frames)
    frames, times = frames[:30], times[:30]
    analyse_flash(frames, times, challenge, detector=detector)  # warm

    def median_ms(function) -> float:
        samples = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            function()
            samples.append((time.perf_counter() - t) * 1000)
        return round(statistics.median(samples), 1)

    face = detector.detect(rgb)[0]
    mesher = FaceMesher()
    base = mesher.landmarks(rgb, face)
    assert base is not None, "FaceMesh found no landmarks on the bench photo"
    script = [("blink", 200, 300), ("turn_left", 600, 800), ("mouth_open", 1500, 400)]
    marks, mark_times = landmark_clip(base, script, duration_ms=2000, seed=1)
    marks, mark_times = marks[:30], mark_times[:30]
    actions = ["blink", "turn_left", "mouth_open"]

    portrait, _ = portrait_frame(rgb, face.box)
    portrait_face = detector.detect(portrait)[0]
    portrait_marks = mesher.landmarks(portrait, portrait_face)
    assert portrait_marks is not None, "FaceMesh found no landmarks on the bench portrait"
    head = HeadModel(portrait, portrait_marks)
    clip, clip_times = render_action_clip(portrait, portrait_marks, script, duration_ms=2000,
                                          seed=1)
    clip, clip_times = clip[:30], clip_times[:30]
    # face-replace detection embeds the faces the clip's track located (ml/tracking.py)
    clip_track = track_faces(clip, list(range(len(clip))), detector=detector, mesher=mesher)
    assert clip_track is not None, "no face on the bench clip"

    pad = PadModel.load(weight_path("pad_baseline"))
    pad.score(rgb, box)  # warm
    # the default passive decision loaded once, as a worker process loads it (the members
    # the combiner weighs)
    decision = PassiveDecision.load()
    decision.score(rgb, box)  # warm
    burst = [(rgb.astype(np.float32) + np.random.default_rng(n).normal(0, 1.5, rgb.shape))
             .clip(0, 255).astype(np.uint8) for n in range(STILL_FRAMES_JUDGED)]

    def still_verify_passive():
        """What a still verify adds for its burst, as ml/session.py _burst_score runs it: the
        faces of the other judged frames found, then the decision on all judged frames in one
        call (the best frame's face is already found; the real-trained members' veto is
        consulted on the best frame only)."""
        faces = [(burst[0], box)] + [(frame, detector.detect(frame)[0].box)
                                     for frame in burst[1:]]
        decision.score_many(faces, veto_on=0)

    write_result("liveness", {
        "bench": "liveness",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "clip": {"frames": len(frames), "size": list(frames[0].shape[1::-1]),
                 "duration_ms": times[-1]},
        "flash_analyser_ms": median_ms(lambda: analyse_flash(frames, times, challenge,
                                                             detector=detector)),
        "flash_analyser_signal_only_ms": median_ms(
            lambda: analyse_flash(frames, times, challenge, box=frame_box)),
        "simulator_ms_per_frame": round(render_ms_per_frame, 1),
        "action_analyser_ms_30_frames_of_landmarks": median_ms(
            lambda: verify_actions(marks, mark_times, actions, timeout_ms=10_000)),
        "facemesh_ms_per_frame": median_ms(lambda: mesher.landmarks(rgb, face)),
        "action_clip_end_to_end_ms_30_frames": median_ms(
            lambda: analyse_action_clip(clip, clip_times, actions, timeout_ms=10_000,
                                        detector=detector, mesher=mesher)),
        "head_render_ms_per_frame": median_ms(lambda: head.render(yaw=20, close=0.5)),
        "face_consistency_ms_30_frames_every_5th": median_ms(
            lambda: face_consistency(clip, clip_track.faces, embedder=perception().embedder)),
        "head_frame_size": list(portrait.shape[1::-1]),
        "pad_inference_ms": median_ms(lambda: pad.score(rgb, box)),
        "passive_decision_ms_per_picture": median_ms(lambda: decision.score(rgb, box)),
        "passive_still_verify_ms_3_frames": median_ms(still_verify_passive),
    })


if __name__ == "__main__":
    main()
