"""The passive PAD model: network, checkpoints, the training command, the committed baseline
on faces it never saw, and the evaluation command."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ml.pad import PAD_CLASSES, PadModel, build_network
from ml.pad_data import pad_set
from ml.weights import weight_path

from .test_ml_perception import PHOTOS, REPO


def test_network_is_small_and_classifies_80px_crops():
    import torch

    network = build_network()
    assert network(torch.zeros(3, 3, 80, 80)).shape == (3, len(PAD_CLASSES))
    assert sum(p.numel() for p in network.parameters()) < 200_000


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("pad") / "set"
    faces = tmp_path_factory.mktemp("faces")
    (faces / "biden.jpg").write_bytes((PHOTOS / "biden.jpg").read_bytes())
    counts = pad_set(faces, out, seed=77, per_species=2)
    assert counts == dict.fromkeys(PAD_CLASSES, 2)
    return out


def test_training_command_writes_a_checkpoint_that_loads(tiny_set, tmp_path):
    checkpoint = tmp_path / "tiny.pt"
    result = subprocess.run([sys.executable, "-m", "ml.train_pad", "--data", str(tiny_set),
                             "--out", str(checkpoint), "--epochs", "1", "--seed", "3"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    recipe = json.loads(result.stdout.strip().splitlines()[-1])
    assert recipe["images_per_class"] == dict.fromkeys(PAD_CLASSES, 2)
    assert "epoch 1/1" in result.stderr  # the progress bar
    model = PadModel.load(checkpoint)
    crop = np.zeros((80, 80, 3), np.uint8)
    score = model.score_crops([crop])[0]
    assert 0.0 <= score.live <= 1.0 and set(score.probabilities) == set(PAD_CLASSES)


def test_checkpoints_of_other_formats_are_refused(tmp_path):
    import torch

    torch.save(build_network().state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="not a liveness-pad/1 checkpoint"):
        PadModel.load(tmp_path / "bare.pt")
    with pytest.raises(FileNotFoundError):
        PadModel.load(tmp_path / "absent.pt")


@pytest.fixture(scope="module")
def unseen_scores(tmp_path_factory):
    """The committed baseline on faces training never saw (trained on t1 and Tom_Hanks)."""
    faces = tmp_path_factory.mktemp("unseen")
    for name in ("obama.jpg", "obama3.jpg", "biden.jpg"):
        (faces / name).write_bytes((PHOTOS / name).read_bytes())
    out = tmp_path_factory.mktemp("unseen_set")
    pad_set(faces, out, seed=909, per_species=6)
    model = PadModel.load(weight_path("pad_baseline"))
    import cv2

    scores = {}
    for species in PAD_CLASSES:
        crops = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                 for p in sorted((out / species).glob("*.png"))]
        scores[species] = np.array([s.live for s in model.score_crops(crops)])
    return scores


def test_baseline_stops_print_replay_and_mask_on_unseen_faces(unseen_scores):
    for species in ("print", "replay", "mask"):
        apcer = float((unseen_scores[species] >= 0.5).mean())
        assert apcer <= 0.1, (species, apcer)


def test_baseline_accepts_most_live_faces_it_never_saw(unseen_scores):
    bpcer = float((unseen_scores["live"] < 0.5).mean())
    assert bpcer <= 0.5, bpcer  # measured 0.35 on 60; docs/LIVENESS.md says why it is weak
    assert unseen_scores["live"].mean() > unseen_scores["print"].mean()


def test_evaluation_command_on_a_labelled_folder(tiny_set, tmp_path):
    result = subprocess.run([sys.executable, "-m", "ml.evaluate", "--data", str(tiny_set),
                             "--out", str(tmp_path / "eval")], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["images"] == 10 and figures["bona_fide"] == 2
    assert set(figures["apcer"]) == set(PAD_CLASSES[1:])
    assert 0.0 <= figures["acer"] <= 1.0
    assert (tmp_path / "eval" / "roc.png").stat().st_size > 1000
    assert (tmp_path / "eval" / "det.png").stat().st_size > 1000
