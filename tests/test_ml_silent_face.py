"""The loader for Silent-Face-Anti-Spoofing checkpoints, on checkpoints these tests write, and
the shipped MiniFASNets run by onnxruntime."""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.silent_face import (
    CropSpec,
    SilentFaceEnsemble,
    SilentFaceError,
    SilentFaceModel,
    build_network,
    crop_box,
    parse_name,
)

REPO = Path(__file__).resolve().parent.parent


def trained_looking(variant: str, seed: int, input_size=(80, 80)):
    """A network of the format with random weights and non-trivial batch-norm statistics, so that
    a loader that dropped or misplaced any tensor would change the output."""
    generator = torch.Generator().manual_seed(seed)
    network = build_network(variant, input_size=input_size)
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            if tensor.dtype.is_floating_point:
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(0.5 + noise if "running_var" in name else (noise - 0.5) * 0.4)
    return network.eval()


def save_as_published(network, path, *, data_parallel: bool):
    prefix = "module." if data_parallel else ""
    torch.save(OrderedDict((prefix + k, v) for k, v in network.state_dict().items()), path)
    return path


def test_layout_has_the_format_keys_and_shapes():
    state = build_network("MiniFASNetV2SE").state_dict()
    expected = {
        "conv1.conv.weight": (32, 3, 3, 3), "conv1.prelu.weight": (32,),
        "conv2_dw.conv.weight": (32, 1, 3, 3),
        "conv_23.conv.conv.weight": (103, 32, 1, 1), "conv_23.conv_dw.conv.weight": (103, 1, 3, 3),
        "conv_23.project.conv.weight": (64, 103, 1, 1),
        "conv_3.model.3.se_module.fc1.weight": (16, 64, 1, 1),
        "conv_4.model.5.se_module.bn2.running_mean": (128,),
        "conv_5.model.1.project.bn.weight": (128,),
        "conv_6_sep.conv.weight": (512, 128, 1, 1), "conv_6_dw.conv.weight": (512, 1, 5, 5),
        "linear.weight": (128, 512), "bn.running_var": (128,), "prob.weight": (3, 128)}
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "conv_3.model.2.se_module.fc1.weight" not in state  # SE only on a stage's last block
    assert "conv_6_dw.prelu.weight" not in state and "conv_23.project.prelu.weight" not in state
    # the published sizes: V1 0.41 M and V2 0.43 M parameters (without the unused SE blocks)
    sizes = {v: sum(p.numel() for p in build_network(v).parameters()) / 1e6
             for v in ("MiniFASNetV1", "MiniFASNetV2")}
    assert round(sizes["MiniFASNetV1"], 2) == 0.41 and round(sizes["MiniFASNetV2"], 2) == 0.43


def test_names_carry_the_crop():
    assert parse_name("2.7_80x80_MiniFASNetV2.pth") == ("MiniFASNetV2", CropSpec(80, 80, 2.7))
    assert parse_name("4_0_0_80x80_MiniFASNetV1SE.pth") == (
        "MiniFASNetV1SE", CropSpec(80, 80, 4.0, 0.0, 0.0))
    assert parse_name("org_1_80x60_MiniFASNetV1.pth") == ("MiniFASNetV1", CropSpec(80, 60, None))
    for bad in ("model.pth", "2.7_80x80_ResNet50.pth", "2.7_80_MiniFASNetV2.pth"):
        with pytest.raises(SilentFaceError, match="naming"):
            parse_name(bad)


def test_crop_is_scaled_about_the_box_and_kept_inside_the_picture():
    """The authors' rule: a float box (x1, y1, x2, y2) is their (x, y, w, h) with w = x2 - x1 + 1;
    the crop's corners are inclusive and never pass the last pixel (width - 1)."""
    # 41 x 51 box, scale 2: 82 x 102 about the centre (120.5, 125.5)
    assert crop_box((100, 100, 140, 150), (640, 480), CropSpec(80, 80, 2.0)) == (79, 74, 161, 176)
    # near the left edge: moved right, same size
    assert crop_box((0, 200, 40, 250), (640, 480), CropSpec(80, 80, 2.0)) == (0, 174, 82, 276)
    # near the right edge: moved left so that its right corner is the last pixel
    assert crop_box((600, 200, 639, 250), (640, 480), CropSpec(80, 80, 2.0)) == (559, 174, 639, 276)
    # a scale larger than the picture allows is reduced to fit
    left, top, right, bottom = crop_box((200, 100, 400, 400), (640, 480), CropSpec(80, 80, 4.0))
    assert top >= 0 and bottom <= 479 and right - left == pytest.approx(201 * 479 / 301, abs=1)


@pytest.mark.parametrize("variant", ["MiniFASNetV1", "MiniFASNetV2", "MiniFASNetV1SE",
                                     "MiniFASNetV2SE"])
def test_a_published_style_checkpoint_scores_like_the_network_that_wrote_it(tmp_path, variant):
    network = trained_looking(variant, seed=len(variant))
    path = save_as_published(network, tmp_path / f"2.7_80x80_{variant}.pth",
                             data_parallel=variant.endswith("SE"))
    model = SilentFaceModel.load(path)
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    box = (300, 200, 340, 250)                      # 40 x 50, far from the edges
    # the format's preprocessing done by hand: 2.7 x the box about its centre, BGR, 0..255 floats
    import cv2
    # box centre (320, 225); crop 108 x 135 -> x 266..374, y 157.5..292.5 (truncated)
    patch = rgb[157:292, 266:374]
    patch = cv2.resize(patch, (80, 80))[:, :, ::-1].astype(np.float32)
    with torch.no_grad():
        logits = network(torch.from_numpy(patch.copy()).permute(2, 0, 1)[None])
    expected = torch.softmax(logits, 1)[0].numpy()
    got = model.probabilities(rgb, box)
    assert type(model._inference).__name__ == "OnnxModule"   # run by onnxruntime
    np.testing.assert_allclose(got, expected, atol=1e-5)
    score = model.score(rgb, box)
    assert score.live == pytest.approx(float(expected[1]), abs=1e-5)
    assert set(score.probabilities) == {"attack_0", "live", "attack_2"}


def test_an_org_checkpoint_sees_the_whole_picture_at_its_own_size(tmp_path):
    network = trained_looking("MiniFASNetV1", seed=9, input_size=(80, 60))
    model = SilentFaceModel.load(save_as_published(
        network, tmp_path / "org_1_80x60_MiniFASNetV1.pth", data_parallel=False))
    rgb = np.random.default_rng(1).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    assert model.patch(rgb, (10, 10, 50, 50)).shape == (80, 60, 3)
    assert 0.0 <= model.score(rgb, (10, 10, 50, 50)).live <= 1.0


def test_wrong_files_are_refused_with_a_clear_error(tmp_path):
    v1 = trained_looking("MiniFASNetV1", seed=1)
    with pytest.raises(SilentFaceError, match="does not match the MiniFASNetV2 layout"):
        SilentFaceModel.load(save_as_published(v1, tmp_path / "2.7_80x80_MiniFASNetV2.pth",
                                               data_parallel=False))
    (tmp_path / "2.7_80x80_MiniFASNetV1.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(SilentFaceError, match="not a readable PyTorch state dict"):
        SilentFaceModel.load(tmp_path / "2.7_80x80_MiniFASNetV1.pth")
    with pytest.raises(FileNotFoundError):
        SilentFaceModel.load(tmp_path / "2.7_80x80_MiniFASNetV2SE.pth")
    # a pickle that would run code when read is refused, not executed
    torch.save({"prob.weight": torch.zeros(3, 128), "payload": PicklesCode(tmp_path / "pwned")},
               tmp_path / "1_80x80_MiniFASNetV1.pth")
    with pytest.raises(SilentFaceError, match="not a readable"):
        SilentFaceModel.load(tmp_path / "1_80x80_MiniFASNetV1.pth")
    assert not (tmp_path / "pwned").exists()


class PicklesCode:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.target}",))


def test_a_folder_of_checkpoints_averages_its_models(tmp_path):
    first = trained_looking("MiniFASNetV2", seed=3)
    second = trained_looking("MiniFASNetV1SE", seed=4)
    save_as_published(first, tmp_path / "2.7_80x80_MiniFASNetV2.pth", data_parallel=True)
    save_as_published(second, tmp_path / "4_0_0_80x80_MiniFASNetV1SE.pth", data_parallel=False)
    ensemble = SilentFaceEnsemble.load(tmp_path)
    rgb = np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    box = (280, 180, 360, 280)
    singles = [m.probabilities(rgb, box) for m in ensemble.models]
    assert len(singles) == 2 and not np.allclose(singles[0], singles[1])
    assert ensemble.score(rgb, box).live == pytest.approx((singles[0][1] + singles[1][1]) / 2)


def test_the_generic_loader_picks_the_format(tmp_path):
    from ml.pad import PadModel
    from ml.pad_models import pad_model_load
    from ml.weights import weight_path

    save_as_published(trained_looking("MiniFASNetV2", seed=8),
                      tmp_path / "2.7_80x80_MiniFASNetV2.pth", data_parallel=False)
    assert isinstance(pad_model_load(tmp_path / "2.7_80x80_MiniFASNetV2.pth"), SilentFaceModel)
    assert isinstance(pad_model_load(tmp_path), SilentFaceEnsemble)
    assert isinstance(pad_model_load(weight_path("pad_baseline")), PadModel)


def test_the_shipped_minifasnets_run_in_onnxruntime_with_torch_outputs():
    """The MiniFASNets the passive decision feeds one crop a face (its own model, the authors'
    two checkpoints of the veto) are onnxruntime sessions (ml/onnx_modules.py) whose
    probabilities equal the torch network's, loaded from the same file, on real face crops
    and noise, one crop or a few at a time; an empty batch gives no rows. The texture member,
    fed five windows a face, stays in torch (faster there), with the same probabilities."""
    from ml.image import load_rgb
    from ml.pipeline import perception

    pipeline = perception()
    decision = pipeline.pad
    own, texture = decision.own, decision.members["texture"].model
    authors = decision.veto_members["silent_face"].models
    rgb = load_rgb(REPO / "fixtures" / "photos" / "t1.jpg")
    faces = pipeline.detector.detect(rgb)
    assert len(faces) >= 2
    noise = np.random.default_rng(2).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    assert type(own._inference).__name__ == "OnnxModule"
    assert type(texture._inference).__name__ != "OnnxModule"
    for model in (own, texture):
        crops = [c for face in faces for c in model.crops(rgb, face.box)] + [noise]
        batch = torch.from_numpy(np.stack(crops).astype(np.float32)).permute(0, 3, 1, 2)
        with torch.no_grad():
            expected = torch.softmax(model.network(batch), dim=1).numpy()
        for size in (1, 3, len(crops)):
            np.testing.assert_allclose(model.probabilities(crops[-size:]), expected[-size:],
                                       atol=1e-5)
    assert own._inference(torch.zeros((0, 3, 80, 80))).shape == (0, len(own.classes))
    for model in authors:
        assert type(model._inference).__name__ == "OnnxModule"
        for face in faces:
            patch = model.patch(rgb, face.box)[:, :, ::-1].astype(np.float32)
            with torch.no_grad():
                logits = model.network(torch.from_numpy(patch.copy()).permute(2, 0, 1)[None])
            np.testing.assert_allclose(model.probabilities(rgb, face.box),
                                       torch.softmax(logits, 1)[0].numpy(), atol=1e-5)
