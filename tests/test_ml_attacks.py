"""Still-image presentation attacks: reproducible, labelled, the face still findable, and each
species carrying the artefact it models."""

import cv2
import numpy as np
import pytest

from ml.image import load_rgb
from ml.pipeline import perception
from ml.simulator.attacks import SPECIES, render_attack
from ml.simulator.head import portrait_frame

from .test_ml_perception import PHOTOS

NAMES = ["biden.jpg", "obama3.jpg"]


@pytest.fixture(scope="module")
def portraits():
    detector = perception().detector
    found = {}
    for name in NAMES:
        rgb = load_rgb(PHOTOS / name)
        frame, _ = portrait_frame(rgb, detector.detect(rgb)[0].box)
        found[name] = (frame, detector.detect(frame)[0].box)
    return found


def _face(image, box):
    x1, y1, x2, y2 = (int(v) for v in box)
    return image[y1:y2, x1:x2]


@pytest.mark.parametrize("species", SPECIES)
@pytest.mark.parametrize("name", NAMES)
def test_every_species_is_reproducible_and_keeps_a_face(portraits, species, name):
    frame, box = portraits[name]
    first = render_attack(species, frame, box, seed=11)
    assert first.shape == frame.shape and first.dtype == np.uint8
    assert np.array_equal(first, render_attack(species, frame, box, seed=11))
    assert not np.array_equal(first, render_attack(species, frame, box, seed=12))
    assert perception().detector.detect(first), f"{species}: the face should stay findable"


def _saturation(image):
    return float(cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean())


def _high_frequency_share(image):
    # A screen's sub-pixel stripes sum to an even brightness: the grid shows in colour, so
    # look at the red-blue difference, not the grey.
    signal = image[..., 0].astype(np.float32) - image[..., 2].astype(np.float32)
    power = np.abs(np.fft.fftshift(np.fft.fft2(signal - signal.mean()))) ** 2
    h, w = power.shape
    fy, fx = np.meshgrid(np.fft.fftshift(np.fft.fftfreq(h)), np.fft.fftshift(np.fft.fftfreq(w)),
                         indexing="ij")
    return float(power[np.hypot(fx, fy) > 0.25].sum() / power.sum())


def _texture(image):
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


@pytest.mark.parametrize("name", NAMES)
def test_species_carry_their_artefacts(portraits, name):
    frame, box = portraits[name]
    live = render_attack("live", frame, box, seed=21)
    printed = render_attack("print", frame, box, seed=21)
    replay = render_attack("replay", frame, box, seed=21)
    blend = render_attack("blend", frame, box, seed=21)
    mask = render_attack("mask", frame, box, seed=21)
    face_live = _face(live, box)
    assert _saturation(_face(printed, box)) < 0.9 * _saturation(face_live)          # faded ink
    assert _high_frequency_share(_face(replay, box)) > 3 * _high_frequency_share(face_live)
    assert _texture(_face(blend, box)) < 0.7 * _texture(face_live)                   # smoothed
    x1, y1, x2, y2 = box
    ring = np.zeros(frame.shape[:2], np.uint8)                                      # cut edge
    cv2.ellipse(ring, (int((x1 + x2) / 2), int((y1 + y2) / 2)),
                (int((x2 - x1) * 0.62), int((y2 - y1) * 0.72)), 0, 0, 360, 1, 3)
    edges = [np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[ring > 0]
             .mean() for img in (live, mask)]
    assert edges[1] > 1.5 * edges[0], edges


def test_unknown_species_is_refused(portraits):
    frame, box = portraits["biden.jpg"]
    with pytest.raises(ValueError, match="unknown species"):
        render_attack("hologram", frame, box, seed=1)
