"""Synthetic identities (ml/simulator/identities.py) with the real detector, FaceMesh and SFace:
each is one detected face of good quality, made only from the photos it was given, the same
for a seed, and a new person (further from each of its sources than two photos of one man)."""

from itertools import islice

import numpy as np
import pytest

from ml.image import load_rgb
from ml.pipeline import perception
from ml.quality import face_quality
from ml.similarity import cosine
from ml.simulator.identities import HEIGHT, WIDTH, SyntheticIdentity, synthetic_identities

from .test_ml_perception import PHOTOS

NAMES = ["biden.jpg", "t1.jpg"]


def _made(count: int, seed: int) -> list[SyntheticIdentity]:
    return list(synthetic_identities(PHOTOS, NAMES, count=count, seed=seed))


@pytest.fixture(scope="module")
def made() -> list[SyntheticIdentity]:
    return _made(3, seed=5)


def _embedding(rgb):
    pipeline = perception()
    faces = pipeline.detector.detect(rgb)
    return pipeline.embedder.embed(rgb, faces[0])


def test_each_identity_is_one_detected_face_from_the_given_photos(made):
    assert len(made) == 3
    assert len({identity.label for identity in made}) == 3
    for identity in made:
        assert identity.frame.shape == (HEIGHT, WIDTH, 3) and identity.frame.dtype == np.uint8
        faces = perception().detector.detect(identity.frame)
        assert len(faces) == 1
        assert np.allclose(faces[0].box, identity.box)
        assert 2 <= len(identity.sources) <= 3
        photos = [source.split("#")[0] for source in identity.sources]
        assert set(photos) <= set(NAMES)
        assert len(set(identity.sources)) == len(identity.sources)


def test_same_seed_same_identities_other_seed_other_ones(made):
    again = _made(2, seed=5)
    for first, second in zip(made, again, strict=False):
        assert first.label == second.label and first.sources == second.sources
        assert np.array_equal(first.frame, second.frame)
    other = next(iter(synthetic_identities(PHOTOS, NAMES, count=1, seed=6)))
    assert all(not np.array_equal(other.frame, identity.frame) for identity in made)


def test_an_identity_is_a_new_face_of_good_quality(made):
    pipeline = perception()
    same_man = cosine(_embedding(load_rgb(PHOTOS / "obama.jpg")),
                      _embedding(load_rgb(PHOTOS / "obama2.jpg")))
    sources = {}
    for name in NAMES:
        rgb = load_rgb(PHOTOS / name)
        for index, face in enumerate(pipeline.detector.detect(rgb)):
            sources[f"{name}#{index}"] = pipeline.embedder.embed(rgb, face)
    for identity in made:
        faces = pipeline.detector.detect(identity.frame)
        embedding = pipeline.embedder.embed(identity.frame, faces[0])
        for source in identity.sources:
            assert cosine(embedding, sources[source]) < same_man
        assert face_quality(identity.frame, faces[0]).score >= 50


def test_a_single_photo_of_one_person_makes_no_identity():
    assert list(islice(synthetic_identities(PHOTOS, ["biden.jpg"], count=2, seed=1), 2)) == []
