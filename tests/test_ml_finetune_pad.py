"""Our own passive member: fine-tuned from the Silent-Face authors' weights (ml/finetune_pad.py),
its checkpoint format (ml/pad_finetuned.py FinetunedPadModel), and the benign capture variations it and
the fusion are trained and calibrated under (ml/capture.py)."""

import numpy as np
import pytest
import torch

from ml.capture import KINDS, tight_crop, vary
from ml.finetune_pad import CLASSES, base_network, crops_of, save, train
from ml.image import load_rgb
from ml.pad_finetuned import FinetunedPadModel
from ml.pad_members import SilentFaceMember
from ml.pad_models import pad_model_load
from ml.pad_split import SPLIT
from ml.silent_face import SilentFaceModel
from ml.weights import weight_path

from .test_ml_pad_members import SAMPLES, detector


def test_the_split_keeps_source_photos_apart():
    parts = [set(names) for names in SPLIT.values()]
    assert sum(len(p) for p in parts) == len(set().union(*parts))


@pytest.mark.parametrize("kind", KINDS)
def test_every_benign_variation_keeps_a_detectable_face(kind):
    rgb = load_rgb(SAMPLES / "image_T1.jpg")
    box = detector().detect(rgb)[0].box
    picture = vary(kind, rgb, box, np.random.default_rng(7))
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    assert len(detector().detect(picture)) == 1
    with pytest.raises(ValueError, match="unknown capture variation"):
        vary("recapture", rgb, box, np.random.default_rng(7))


def test_a_tight_crop_is_the_face_box_grown():
    rgb = np.zeros((400, 300, 3), np.uint8)
    assert tight_crop(rgb, (100, 100, 200, 220), 1.2).shape == (144, 120, 3)
    assert tight_crop(rgb, (250, 300, 320, 420), 1.0).shape == (100, 50, 3)  # kept inside


def test_the_widened_head_starts_as_the_authors_decision():
    """Before any training the five-class network gives the live class the authors' live
    logit, so it says what the authors' MiniFASNetV2 says."""
    network, crop = base_network()
    authors = SilentFaceModel.load(weight_path("silent_face_v2"))
    rgb = load_rgb(SAMPLES / "image_T1.jpg")
    box = detector().detect(rgb)[0].box
    crops, _, _ = crops_of([("live", "T1", rgb)], crop)
    with torch.inference_mode():
        ours = network.eval()(torch.from_numpy(crops.astype(np.float32)).permute(0, 3, 1, 2))[0]
        theirs = authors.network(torch.from_numpy(
            authors.patch(rgb, box)[:, :, ::-1].astype(np.float32).copy()).permute(2, 0, 1)[None])[0]
    assert float(ours[CLASSES.index("live")]) == pytest.approx(float(theirs[1]), abs=1e-4)
    assert float(ours[CLASSES.index("print")]) == pytest.approx(float(theirs[0]), abs=1e-4)


def test_a_short_fine_tune_saves_a_checkpoint_that_scores_like_the_network(tmp_path):
    rgb = load_rgb(SAMPLES / "image_T1.jpg")
    network, crop = base_network()
    items = [("live", "T1", rgb), ("print", "F1", load_rgb(SAMPLES / "image_F1.jpg")),
             ("replay", "F2", load_rgb(SAMPLES / "image_F2.jpg"))]
    crops, labels, sources = crops_of(items, crop)
    assert list(labels) == [0, 1, 2] and sources == ["T1", "F1", "F2"]
    before = {k: v.clone() for k, v in network.state_dict().items()}
    history = train(np.concatenate([crops] * 4), np.concatenate([labels] * 4), network,
                    epochs=1, seed=0, batch_size=4)
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    assert any(not torch.equal(before[k], v) for k, v in network.state_dict().items())
    path = tmp_path / "own.pt"
    save(network.eval(), crop, path, {"test": True})
    model = pad_model_load(path)
    assert isinstance(model, FinetunedPadModel) and model.classes == CLASSES
    box = detector().detect(rgb)[0].box
    with torch.inference_mode():
        expected = torch.softmax(network(torch.from_numpy(
            model.crop(rgb, box).astype(np.float32)).permute(2, 0, 1)[None]), 1)[0]
    assert model.score(rgb, box).live == pytest.approx(float(expected[0]), abs=1e-5)
    # the crop is the Silent-Face authors' (their member sees the same pixels, in BGR)
    member_patch = SilentFaceMember.load().models[0].patch(rgb, box)
    assert np.array_equal(model.crop(rgb, box), member_patch[:, :, ::-1])


def test_jpeg_augmentation_recompresses_about_half_the_crops_reproducibly():
    from ml.finetune_pad import _jpeg_noise

    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (200, 80, 80, 3), dtype=np.uint8)
    first = _jpeg_noise(crops, np.random.default_rng(5))
    again = _jpeg_noise(crops, np.random.default_rng(5))
    assert np.array_equal(first, again) and first.shape == crops.shape
    changed = [not np.array_equal(a, b) for a, b in zip(first, crops, strict=True)]
    assert 70 <= sum(changed) <= 130


def test_frame_jpeg_sends_every_odd_render_as_a_session_frame(tmp_path):
    """--frame-jpeg: the odd renders of each class reach the crop as a JPEG of the whole
    frame, the even ones exactly as rendered; real photos are untouched."""
    from ml.capture import SESSION_JPEG_QUALITIES, jpeg_roundtrip
    from ml.finetune_pad import presentations

    (tmp_path / "face.jpg").write_bytes((SAMPLES / "image_T1.jpg").read_bytes())
    common = {"seed": 3, "real_variations": 0, "live_variations": 2, "attack_seeds": 2}
    plain = list(presentations(tmp_path, ["face.jpg"], None, **common))
    sent = list(presentations(tmp_path, ["face.jpg"], None, frame_jpeg=True, **common))
    assert [(c, s) for c, s, _ in plain] == [(c, s) for c, s, _ in sent]
    assert len(plain) == 1 + 2 + 4 * 2    # the photo, two live renders, two of each species
    assert np.array_equal(plain[0][2], sent[0][2])          # the real photo as it is
    renders = list(zip(plain[1:], sent[1:], strict=True))
    for n, ((species, _, before), (_, _, after)) in enumerate(renders):
        if n % 2 == 0:   # each class's first render, n = 0
            assert np.array_equal(before, after), species
        else:
            assert any(np.array_equal(jpeg_roundtrip(before, q), after)
                       for q in SESSION_JPEG_QUALITIES), species


def test_texture_windows_are_cut_at_the_cameras_resolution_from_the_inner_face():
    """The texture member's windows (ml/pad_finetuned.py texture_patches): pixels of the
    picture itself, not resized, from the middle of the box; the same five every call; a face
    too small for one window gives one window, enlarged."""
    from ml.pad_finetuned import TEXTURE_PATCHES, texture_patches, texture_region

    rng = np.random.default_rng(4)
    picture = rng.integers(0, 256, (600, 500, 3), dtype=np.uint8)
    box = (100, 150, 400, 500)                     # 300 x 350: inner region 180 x 210
    left, top, right, bottom = texture_region(box, (500, 600))
    assert (left, top, right, bottom) == (160, 220, 340, 430)
    windows = texture_patches(picture, box, 80)
    assert len(windows) == TEXTURE_PATCHES and all(w.shape == (80, 80, 3) for w in windows)
    assert np.array_equal(windows[0], picture[220:300, 160:240])        # top-left, untouched
    assert np.array_equal(windows[3], picture[350:430, 260:340])        # bottom-right
    again = texture_patches(picture, box, 80)
    assert all(np.array_equal(a, b) for a, b in zip(windows, again, strict=True))
    drawn = texture_patches(picture, box, 80, count=3, rng=np.random.default_rng(1))
    region = picture[top:bottom, left:right]
    for window in drawn:    # each drawn window is somewhere inside the region, unresized
        hits = [(y, x) for y in range(region.shape[0] - 79) for x in range(region.shape[1] - 79)
                if np.array_equal(region[y:y + 80, x:x + 80], window)]
        assert hits
    small = texture_patches(picture, (10, 10, 90, 90), 80)             # region 48 x 48
    assert len(small) == 1 and small[0].shape == (80, 80, 3)
    # a box running past the picture's edge keeps its region inside the picture
    assert texture_region((450, 550, 650, 750), (500, 600))[2:] == (500, 600)
    with pytest.raises(ValueError, match="no inner region"):
        texture_region((600, 700, 800, 900), (500, 600))


def test_a_texture_checkpoint_scores_the_average_of_its_windows(tmp_path):
    """--crop-mode texture: the checkpoint says so, the member averages its windows'
    probabilities, weighs live against print and replay (TEXTURE_SPECIES) and answers a margin like the real-trained members; a context checkpoint is
    refused as a texture member."""
    from ml.pad_finetuned import TextureMember, texture_patches

    rgb = load_rgb(SAMPLES / "image_T1.jpg")
    box = detector().detect(rgb)[0].box
    network, crop = base_network()
    crops, labels, _ = crops_of([("live", "T1", rgb), ("print", "F1", rgb)], crop,
                                mode="texture", seed=2)
    assert crops.shape[1:] == (80, 80, 3) and list(labels) == [0, 0, 1, 1]
    path = tmp_path / "texture.pt"
    save(network.eval(), crop, path, {"test": True}, mode="texture")
    member = TextureMember.load(path)
    windows = [w[:, :, ::-1] for w in texture_patches(rgb, box, 80)]
    with torch.inference_mode():
        batch = torch.from_numpy(np.stack(windows).astype(np.float32)).permute(0, 3, 1, 2)
        mean = torch.softmax(network(batch), 1).mean(dim=0)
    # the member speaks for print and replay only: live against live + print + replay
    expected = float(mean[0] / (mean[0] + mean[1] + mean[2]))
    score = member.score(rgb, box)
    assert score.score == pytest.approx(expected, abs=1e-5)
    assert score.member == "texture" and score.context == 1.0 and score.threshold == 0.5
    assert score.margin == pytest.approx(np.log(expected / (1 - expected)), abs=1e-4)
    assert score.live is (expected >= 0.5)
    context = tmp_path / "context.pt"
    save(network.eval(), crop, context, {"test": True})
    with pytest.raises(ValueError, match="texture-mode checkpoint"):
        TextureMember.load(context)
