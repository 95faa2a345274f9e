"""The peer: the verification pipeline a competent user writes in an afternoon from the same
public pieces we build on, measured beside ours on the same frames in the same run.

    .venv/bin/python bench/peer.py [--repeat 5] [--results-dir DIR]

The peer, per still frame: decode the JPEG (OpenCV), detect with facenet-pytorch's MTCNN
(keep_all, on the CPU, its default settings), keep the largest face, align and crop it with
SFace's own `alignCrop` (MTCNN's five landmarks in the row layout OpenCV's detector gives),
embed with OpenCV's SFace (`cv2.FaceRecognizerSF`, the same int8 file as ours) and compare the
embedding with a reference embedding made once beforehand (cosine, `FaceRecognizerSF.match`).
Inference runs under `torch.no_grad()`, torch and OpenCV keep their default thread counts.
No liveness, no quality, no downscaling: what the obvious pipeline does, nothing tuned.

This machine's speed varies ±20 % between runs, so a bench that compares reports its ratio to
the peer measured in the same process, on the same frames: the ratio is the claim, not the
absolute times. Other benches import `peer` and `peer_timed` from here.

Run as a script it is the still verify, in one process: the frames of a still capture (the
SDK mock's five-frame burst of obama.jpg, the frames bench/verify.py sends), reference
obama3.jpg as bench/verify.py sends it. Ours: `ml.session.session_verify` on those frames, its
model time as a worker measures it (`VerifyResult.model_ms`). The peer: its pipeline on every
frame of the same capture. ML_THREADS defaults to the core count, as a one-process worker
gets it; on a machine shared with another CPU job run with ML_THREADS=1 OMP_NUM_THREADS=1
(two threads per library then wait on each other: docs/BENCHMARKS.md). Prints the figures as
one JSON line last; writes bench/results/peer.json.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "bench") not in sys.path:
    sys.path.insert(0, str(REPO / "bench"))

from _harness import RESULTS, photo_jpeg, write_result  # noqa: E402

from ml.weights import weight_path  # noqa: E402  (the same verified SFace file as ours)

# The reference and the face of the still capture, as bench/verify.py uses them.
REFERENCE_PHOTO = "obama3.jpg"
CAPTURE_PHOTO = "obama.jpg"
REFERENCE_FIT = (400, 800)


@dataclass(frozen=True)
class PeerAnswer:
    """The peer's answer for one frame: whether it found a face, and the cosine to the
    reference (None without a face)."""

    face_found: bool
    cosine: float | None


class PeerPipeline:
    """facenet-pytorch MTCNN to detect, OpenCV's SFace to embed and compare."""

    def __init__(self):
        import cv2
        from facenet_pytorch import MTCNN

        self._cv2 = cv2
        self.mtcnn = MTCNN(keep_all=True, device="cpu")
        self.sface = cv2.FaceRecognizerSF.create(str(weight_path("sface")), "")

    def embedding(self, jpeg: bytes) -> np.ndarray | None:
        """SFace feature of the largest face in the picture, or None without a face."""
        import torch

        cv2 = self._cv2
        bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with torch.no_grad():
            boxes, probs, points = self.mtcnn.detect(rgb, landmarks=True)
        if boxes is None:
            return None
        largest = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
        x1, y1, x2, y2 = boxes[largest]
        # OpenCV's face row: x, y, w, h, then right eye, left eye, nose, mouth corners as the
        # image shows them left to right, which is MTCNN's landmark order too; then the score
        row = np.array([[x1, y1, x2 - x1, y2 - y1, *points[largest].reshape(-1),
                         probs[largest]]], dtype=np.float32)
        return self.sface.feature(self.sface.alignCrop(bgr, row))

    def verify(self, jpeg: bytes, reference: np.ndarray) -> PeerAnswer:
        """Per still frame: detect + embed + compare with the reference embedding."""
        feature = self.embedding(jpeg)
        if feature is None:
            return PeerAnswer(face_found=False, cosine=None)
        cosine = self.sface.match(feature, reference, self._cv2.FaceRecognizerSF_FR_COSINE)
        return PeerAnswer(face_found=True, cosine=float(cosine))


_peer: PeerPipeline | None = None


def peer() -> PeerPipeline:
    """One peer per process, as a user's service would keep its models loaded."""
    global _peer
    if _peer is None:
        _peer = PeerPipeline()
    return _peer


def peer_timed(frames: list[bytes] | tuple[bytes, ...],
               reference: np.ndarray) -> tuple[float, list[PeerAnswer]]:
    """Milliseconds the peer takes for every frame of a capture (detect + embed + compare
    each), and its answer per frame."""
    pipeline = peer()
    started = time.perf_counter()
    answers = [pipeline.verify(frame, reference) for frame in frames]
    return (time.perf_counter() - started) * 1000, answers


def still_capture_frames(seed: int) -> tuple[list[float], list[bytes]]:
    """(times_ms, JPEG frames) of a live still capture of CAPTURE_PHOTO, rendered and encoded
    as the SDK mock does for a session's still challenge (liveness_sdk.client.capture)."""
    from liveness_sdk.capture import render
    from liveness_sdk.client import jpeg
    from ml.image import load_rgb

    face = load_rgb(REPO / "fixtures" / "photos" / CAPTURE_PHOTO)
    challenge = {"challenge_id": f"peer-bench-{seed}", "liveness_type": "still"}
    rendered = render(challenge, "live", face, seed=seed)
    return [t for t, _ in rendered], [jpeg(rgb) for _, rgb in rendered]


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / peer, rounded; None when either is missing."""
    if not ours or not theirs:
        return None
    return round(ours / theirs, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5,
                        help="still captures verified by each pipeline")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    os.environ.setdefault("ML_THREADS", str(os.cpu_count() or 1))
    import torch

    from ml.image import load_rgb
    from ml.jobs import LivenessCheck, VerifyJob
    from ml.session import reference_analyse, session_verify

    reference_jpeg = photo_jpeg(REFERENCE_PHOTO, REFERENCE_FIT)
    ours_reference = reference_analyse(reference_jpeg, multi_oriented=False)["embedding"]
    peer_reference = peer().embedding(reference_jpeg)
    assert ours_reference is not None and peer_reference is not None, "no face in the reference"
    captures = [still_capture_frames(seed) for seed in range(args.repeat)]

    def still_job(times_ms: list[float], frames: list[bytes]) -> VerifyJob:
        return VerifyJob(check=LivenessCheck.STILL, references={"image_ref1": ours_reference},
                         frames=tuple(frames), times_ms=tuple(times_ms))

    # Warm-up, not counted: a one-frame capture runs every model a still verify uses (ours
    # loads its passive decision on first use), at a fifth of a burst's cost.
    session_verify(still_job(captures[0][0][:1], captures[0][1][:1]))
    peer_timed(captures[0][1][:1], peer_reference)

    ours_samples, peer_samples, peer_cosines, reasons = [], [], [], []
    for n, (times_ms, frames) in enumerate(captures):
        # turn about which runs first, so that neither always meets the other's leftovers
        # (caches, a busy neighbour's bursts)
        if n % 2:
            elapsed, answers = peer_timed(frames, peer_reference)
            result = session_verify(still_job(times_ms, frames))
        else:
            result = session_verify(still_job(times_ms, frames))
            elapsed, answers = peer_timed(frames, peer_reference)
        ours_samples.append(result.model_ms)
        peer_samples.append(elapsed)
        reasons.append(result.reason.value)
        peer_cosines += [a.cosine for a in answers if a.cosine is not None]
    ours_p50 = statistics.median(ours_samples)
    peer_p50 = statistics.median(peer_samples)
    frames_per_capture = len(captures[0][1])
    write_result("peer", {
        "bench": "peer",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "torch_threads": torch.get_num_threads(),
        "ml_threads": os.environ["ML_THREADS"],
        "captures": len(ours_samples),
        "frames_per_capture": frames_per_capture,
        "frame_size": list(load_rgb(captures[0][1][0]).shape[1::-1]),
        "ours_still_verify_model_ms_p50": round(ours_p50, 1),
        "peer_ms_p50": round(peer_p50, 1),
        "peer_ms_per_frame": round(peer_p50 / frames_per_capture, 1),
        "ours_over_peer": ratio(ours_p50, peer_p50),
        "ours_reasons": {r: reasons.count(r) for r in sorted(set(reasons))},
        "peer_cosine_min": round(min(peer_cosines), 3) if peer_cosines else None,
    }, directory=args.results_dir)


if __name__ == "__main__":
    main()
