"""The peer bench (bench/peer.py): the obvious MTCNN + SFace pipeline finds faces and tells
people apart on the offline photos, and its command records the ratio ours / peer."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO / "fixtures" / "photos"
sys.path.insert(0, str(REPO / "bench"))

from _harness import photo_jpeg  # noqa: E402
from peer import REFERENCE_FIT, PeerPipeline  # noqa: E402


def photo(name: str) -> bytes:
    """The photo at the size the benches send references (the full 1-3 Mpx photos cost the
    peer's MTCNN, which does not downscale, several seconds each on this machine)."""
    path = PHOTOS / name
    assert path.is_file(), f"{path} is missing: run `make setup` (fixtures/fetch_photos.py)"
    return photo_jpeg(name, REFERENCE_FIT)


@pytest.fixture(scope="module")
def peer_pipeline() -> PeerPipeline:
    return PeerPipeline()


def test_the_peer_finds_the_face_and_tells_the_same_person_from_another(peer_pipeline):
    reference = peer_pipeline.embedding(photo("obama.jpg"))
    assert reference is not None
    same = peer_pipeline.verify(photo("obama2.jpg"), reference)
    other = peer_pipeline.verify(photo("biden.jpg"), reference)
    assert same.face_found and other.face_found
    assert same.cosine is not None and other.cosine is not None
    # measured 0.77 and 0.13; OpenCV Zoo's published SFace operating point is 0.363
    assert same.cosine > 0.5 > 0.3 > other.cosine


def test_a_picture_without_a_face_is_said_so(peer_pipeline):
    import cv2
    import numpy as np

    grey = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
    answer = peer_pipeline.verify(grey, np.zeros((1, 128), np.float32))
    assert not answer.face_found and answer.cosine is None


def test_the_bench_command_records_ours_the_peer_and_the_ratio(tmp_path):
    # one library thread: on a machine shared with another CPU job, two threads per library
    # wait on each other's barriers (measured 10-30x slower); the figures' fields are the point
    env = {**os.environ, "ML_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(REPO / "bench" / "peer.py"), "--repeat", "1",
                    "--results-dir", str(tmp_path)], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=300)
    figures = json.loads((tmp_path / "peer.json").read_text())
    assert figures["captures"] == 1 and figures["frames_per_capture"] >= 1
    assert figures["ours_still_verify_model_ms_p50"] > 0 and figures["peer_ms_p50"] > 0
    assert figures["ours_over_peer"] == pytest.approx(
        figures["ours_still_verify_model_ms_p50"] / figures["peer_ms_p50"], rel=0.01)
    assert figures["ours_reasons"] == {"same_person": 1}
    assert figures["peer_cosine_min"] > 0.5
