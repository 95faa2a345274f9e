"""ml/ on real photos: detection, orientation, quality, comparison, loaders, CLIs."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.detection import FACE_SCORE_MIN
from ml.image import load_rgb, rotate_ccw
from ml.pipeline import perception
from ml.similarity import thresholds_for
from ml.weights import WEIGHT_FILES, WeightFile, WeightsError, resolve

from .worker_process import warmed_worker_prints

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO / "fixtures" / "photos"


@pytest.fixture(scope="module")
def pipeline():
    return perception()


def photo(name: str) -> np.ndarray:
    path = PHOTOS / name
    assert path.is_file(), f"{path} is missing: run `make setup` (fixtures/fetch_photos.py)"
    return load_rgb(path)


def test_every_face_of_the_six_person_photo_is_found(pipeline):
    analysis = pipeline.analyze(photo("t1.jpg"))
    assert len(analysis.faces) == 6
    for analysed in analysis.faces:
        face = analysed.face
        assert face.score >= FACE_SCORE_MIN and len(face.landmarks) == 5
        x1, y1, x2, y2 = face.box
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)
    areas = [f.face.area for f in analysis.faces]
    assert areas == sorted(areas, reverse=True)  # largest first


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "Tom_Hanks_54745.png"])
def test_single_person_photos_have_one_face(pipeline, name):
    assert len(pipeline.analyze(photo(name)).faces) == 1


@pytest.fixture(scope="module")
def embeddings(pipeline):
    found = {}
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "Tom_Hanks_54745.png"]:
        found[name] = pipeline.analyze(photo(name), embeddings=True).largest.embedding
    for index, face in enumerate(pipeline.analyze(photo("t1.jpg"), embeddings=True).faces):
        found[f"t1#{index}"] = face.embedding
    return found


def test_same_man_scores_above_the_1e3_threshold(embeddings):
    from ml.similarity import comparison_of

    threshold = thresholds_for("sface")["1e-3"]
    for a, b in [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama3.jpg"),
                 ("obama2.jpg", "obama3.jpg")]:
        result = comparison_of(embeddings[a], embeddings[b], model="sface")
        assert result.confidence > threshold, (a, b, result)


def test_different_people_score_below_the_1e3_threshold(embeddings):
    from ml.similarity import comparison_of

    threshold = thresholds_for("sface")["1e-3"]
    people = ["obama.jpg", "biden.jpg", "Tom_Hanks_54745.png"] + [
        k for k in embeddings if k.startswith("t1#")]
    for i, a in enumerate(people):
        for b in people[i + 1:]:
            result = comparison_of(embeddings[a], embeddings[b], model="sface")
            assert result.confidence < threshold, (a, b, result)


def test_sface_runs_on_onnxruntime_as_it_runs_on_opencv(pipeline):
    """The derived graph (ml/sface_graph.py) and our preprocessing give the embeddings OpenCV's
    own FaceRecognizerSF gives from the shipped file, on every face of the test photos: the
    calibrated thresholds (ml/calibration.json) were measured with those."""
    from ml.detection import aligned_crop
    from ml.weights import weight_path

    opencv = cv2.FaceRecognizerSF.create(str(weight_path("sface")), "")
    compared = 0
    for name in ["obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg", "Tom_Hanks_54745.png"]:
        detection = pipeline.detector.detect_oriented(photo(name), multi_oriented=False)
        for face in detection.faces:
            ours = pipeline.embedder.embed(detection.image, face)
            crop = cv2.cvtColor(aligned_crop(detection.image, face, 112), cv2.COLOR_RGB2BGR)
            theirs = opencv.feature(crop).reshape(-1)
            assert float(ours @ theirs) / float(np.linalg.norm(theirs)) > 0.99999, name
            compared += 1
    assert compared >= 10


def test_sface_runtime_graph_has_one_input_and_no_prelu():
    import onnx

    from ml.sface_graph import PICTURE_INPUT, runtime_graph
    from ml.weights import weight_path

    shipped = onnx.load(str(weight_path("sface")))
    derived = onnx.load_from_string(runtime_graph(weight_path("sface")))
    assert len(shipped.graph.input) > 100          # the file lists its weights as inputs
    assert [value.name for value in derived.graph.input] == [PICTURE_INPUT]
    assert "PRelu" in {node.op_type for node in shipped.graph.node}
    assert "PRelu" not in {node.op_type for node in derived.graph.node}
    # the shipped weights are all there, untouched (the PRelu slopes' scales are added)
    derived_weights = {tensor.name: tensor for tensor in derived.graph.initializer}
    for tensor in shipped.graph.initializer:
        assert derived_weights[tensor.name] == tensor, tensor.name


def test_thresholds_grow_with_strictness():
    values = [thresholds_for("sface")[k] for k in ("1e-3", "1e-4", "1e-5", "1e-6")]
    assert values == sorted(values) and len(set(values)) == 4 and 0 < values[0] < 100


@pytest.mark.parametrize("degrees", [90, 270])
def test_rotated_photo_is_found_only_with_multi_oriented_detection(pipeline, degrees):
    rotated = rotate_ccw(photo("obama.jpg"), degrees)
    assert pipeline.analyze(rotated).faces == []
    found = pipeline.analyze(rotated, multi_oriented=True)
    assert len(found.faces) == 1
    assert (degrees + found.detection.rotation) % 360 == 0  # turned back upright


def test_blur_score_rises_with_gaussian_blur(pipeline):
    rgb = photo("obama.jpg")
    scores = [pipeline.analyze(rgb if s == 0 else cv2.GaussianBlur(rgb, (0, 0), s))
              .largest.quality.blur for s in (0, 1, 2, 4, 8)]
    assert all(a < b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_illumination_follows_brightness(pipeline):
    rgb = photo("obama.jpg").astype(np.float32)
    values = [pipeline.analyze(np.clip(rgb * gain, 0, 255).astype(np.uint8))
              .largest.quality.illumination for gain in (0.4, 0.7, 1.0, 1.3)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values


def test_completeness_drops_when_the_frame_cuts_the_face(pipeline):
    rgb = photo("obama.jpg")
    x1, _, x2, _ = pipeline.analyze(rgb).largest.face.box
    values = [pipeline.analyze(rgb).largest.quality.completeness]
    for fraction in (0.1, 0.2, 0.3):  # the frame's left edge moves into the face
        left = int(x1 + fraction * (x2 - x1))
        values.append(pipeline.analyze(np.ascontiguousarray(rgb[:, left:]))
                      .largest.quality.completeness)
    assert values[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(values, values[1:], strict=False)), values


def test_quality_score_ranks_a_cut_face_below_a_whole_one(pipeline):
    whole = pipeline.analyze(photo("obama.jpg")).largest.quality.score
    cut = pipeline.analyze(photo("obama_partial_face.jpg")).largest.quality.score
    assert 0 <= cut < 30 < whole <= 100


def test_missing_weight_file_is_named_with_its_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_WEIGHTS_DIR", str(tmp_path))
    ghost = WeightFile("ghost", "no_such_package_here", "models/ghost.onnx", "0" * 64, 1,
                       "pip install ghost-weights==1.0", "MIT")
    with pytest.raises(WeightsError, match=r"ghost\.onnx.*pip install ghost-weights==1\.0"):
        resolve(ghost)


def test_altered_weight_file_is_refused(monkeypatch, tmp_path):
    sface = WEIGHT_FILES["sface"]
    (tmp_path / Path(sface.relative_path).name).write_bytes(b"not the model")
    monkeypatch.setenv("ML_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="not the expected sface weights"):
        resolve(sface)


def test_jpegs_decoded_by_opencv_have_pillows_pixels():
    """load_rgb decodes upright plain JPEGs with OpenCV (faster) and everything else with
    Pillow: on the offline photos and on JPEGs saved every way a client may (4:2:0 and 4:4:4
    chroma, progressive, grey, low and high quality), OpenCV's pixels are Pillow's exactly; a
    JPEG that EXIF says to turn, and a PNG, are still turned and read by Pillow."""
    import io

    from PIL import Image, ImageOps

    from ml.image import _upright_plain_jpeg

    def pillow_pixels(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as opened:
            return np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))

    def saved(image: Image.Image, **options) -> bytes:
        out = io.BytesIO()
        image.save(out, **options)
        return out.getvalue()

    pictures = [path.read_bytes() for path in sorted(PHOTOS.glob("*.jpg"))]
    face = Image.open(PHOTOS / "obama.jpg").convert("RGB")
    for options in ({"quality": 85}, {"quality": 95, "subsampling": 0},
                    {"quality": 40, "subsampling": 2}, {"quality": 85, "progressive": True}):
        pictures.append(saved(face, format="JPEG", **options))
    pictures.append(saved(face.convert("L"), format="JPEG", quality=85))
    by_opencv = 0
    for data in pictures:
        with Image.open(io.BytesIO(data)) as opened:
            by_opencv += _upright_plain_jpeg(opened)     # (some offline photos carry EXIF)
        assert np.array_equal(load_rgb(data), pillow_pixels(data))
    assert by_opencv >= 10                                # the OpenCV path is what is tested

    exif = Image.Exif()
    exif[0x0112] = 6                                      # "turn a quarter clockwise"
    turned = saved(face, format="JPEG", quality=85, exif=exif.tobytes())
    png = saved(face, format="PNG")
    for data in (turned, png):
        with Image.open(io.BytesIO(data)) as opened:
            assert not _upright_plain_jpeg(opened)
        assert np.array_equal(load_rgb(data), pillow_pixels(data))
    assert load_rgb(turned).shape[:2] == (face.width, face.height)
    # a cut-off JPEG is refused as Pillow refuses it, not read half grey
    with pytest.raises(OSError, match="truncated"):
        load_rgb(pictures[-2][: len(pictures[-2]) * 2 // 3])


def test_facenet_loader_reads_a_user_weight_file(tmp_path, pipeline):
    import torch
    from facenet_pytorch import InceptionResnetV1

    from ml.embedding import FacenetEmbedder

    torch.manual_seed(7)
    path = tmp_path / "inception_resnet_v1.pt"
    torch.save(InceptionResnetV1(pretrained=None, classify=False).eval().state_dict(), path)
    rgb = photo("obama.jpg")
    face = pipeline.analyze(rgb).largest.face
    first, second = FacenetEmbedder(path), FacenetEmbedder(path)
    vector = first.embed(rgb, face)
    assert vector.shape == (512,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(vector, second.embed(rgb, face), atol=1e-5)  # the file, not chance

    torch.save({"not": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(RuntimeError):
        FacenetEmbedder(tmp_path / "wrong.pt")
    with pytest.raises(FileNotFoundError):
        FacenetEmbedder(tmp_path / "absent.pt")


def _run_module(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_analyze_command_prints_every_face():
    result = _run_module("ml.analyze", str(PHOTOS / "t1.jpg"))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert len(output["faces"]) == 6 and output["rotation"] == 0
    assert {"box", "score", "landmarks", "quality"} <= set(output["faces"][0])


def test_analyze_command_multi_oriented(tmp_path):
    from PIL import Image

    Image.fromarray(rotate_ccw(photo("obama2.jpg"), 90)).save(tmp_path / "sideways.jpg")
    plain = json.loads(_run_module("ml.analyze", str(tmp_path / "sideways.jpg")).stdout)
    turned = json.loads(_run_module("ml.analyze", str(tmp_path / "sideways.jpg"),
                                    "--multi-oriented").stdout)
    assert plain["faces"] == [] and len(turned["faces"]) == 1 and turned["rotation"] == 270


def test_compare_command():
    same = _run_module("ml.compare", str(PHOTOS / "obama.jpg"), str(PHOTOS / "obama3.jpg"))
    other = _run_module("ml.compare", str(PHOTOS / "obama.jpg"), str(PHOTOS / "biden.jpg"))
    same_out, other_out = json.loads(same.stdout), json.loads(other.stdout)
    assert set(same_out) == {"confidence", "thresholds"}
    assert same_out["confidence"] > same_out["thresholds"]["1e-3"]
    assert other_out["confidence"] < other_out["thresholds"]["1e-3"]


def test_commands_refuse_unreadable_images(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    assert _run_module("ml.analyze", str(tmp_path / "bad.jpg")).returncode == 2
    assert _run_module("ml.compare", str(tmp_path / "bad.jpg"),
                       str(PHOTOS / "obama.jpg")).returncode == 2


def test_pictures_too_thin_for_any_face_have_none(pipeline):
    for shape in ((16, 4096, 3), (4096, 8, 3), (30, 30, 3)):
        assert pipeline.detector.detect(np.full(shape, 128, np.uint8)) == []


def test_frames_detected_as_one_batch_find_the_faces_one_at_a_time_finds(pipeline):
    """detect_many (a still burst's frames through MTCNN at once) against detect, frame by
    frame: the same faces, boxes and landmarks within a hundredth of a pixel; frames of
    different sizes, a frame without a face and the six-person photo among them."""
    t1, obama = photo("t1.jpg"), photo("obama.jpg")
    shifted = np.roll(t1, (9, -13), axis=(0, 1))
    blank = np.full_like(t1, 90)
    for frames in ([t1, shifted, blank, t1[:, ::-1].copy()], [obama, t1, blank]):
        batched = pipeline.detector.detect_many(frames)
        single = [pipeline.detector.detect(frame) for frame in frames]
        assert [len(faces) for faces in batched] == [len(faces) for faces in single]
        for together, alone in zip(batched, single, strict=True):
            for a, b in zip(together, alone, strict=True):
                assert np.abs(np.subtract(a.box, b.box)).max() < 0.01
                assert np.abs(np.subtract(a.landmarks, b.landmarks)).max() < 0.01
                assert abs(a.score - b.score) < 1e-4
    assert [len(faces) for faces in pipeline.detector.detect_many([t1, shifted, blank])] == \
        [6, 6, 0]
    assert pipeline.detector.detect_many([]) == []
    analyses = pipeline.analyze_frames([t1, blank])
    assert [len(a.faces) for a in analyses] == [6, 0]
    assert analyses[0].faces[0].quality == pipeline.analyze(t1).faces[0].quality


PROPOSAL_PHOTOS = ["t1.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg",
                   "Tom_Hanks_54745.png", "obama_partial_face.jpg", "mask_black.jpg",
                   "mask_blue.jpg", "mask_green.jpg", "mask_white.jpg"]


def selfie(rgb: np.ndarray) -> np.ndarray:
    """The photo shrunk into a 640x480 grey canvas, as a phone's reference picture."""
    scale = min(640 / rgb.shape[1], 480 / rgb.shape[0])
    small = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    left = (640 - small.shape[1]) // 2
    canvas[:small.shape[0], left:left + small.shape[1]] = small
    return canvas


@pytest.mark.parametrize("name", PROPOSAL_PHOTOS)
def test_proposed_detection_finds_the_faces_mtcnn_finds(pipeline, name):
    """YuNet proposing and MTCNN confirming (the reference photos' path) against MTCNN's own
    search: the same number of faces, each overlapping its counterpart, and none in the
    pictures of masks alone; at the photo's own size and in a 640x480 selfie."""
    from ml.detection import box_iou

    for rgb in (photo(name), selfie(photo(name))):
        searched = pipeline.detector.detect(rgb)
        proposed = pipeline.analyze(rgb, proposed=True).faces
        assert len(proposed) == len(searched), name
        for face in searched:
            assert max(box_iou(face.box, p.face.box) for p in proposed) > 0.65, name
        if name.startswith("mask_"):
            assert proposed == []


def test_references_found_by_proposal_keep_every_same_and_different_verdict(pipeline,
                                                                            embeddings):
    """A reference embedded from the proposed path, compared with the same photos embedded
    from MTCNN's search (what a capture's frame gets): the same man still scores above the
    1e-3 threshold and different people below it."""
    from ml.similarity import comparison_of

    threshold = thresholds_for("sface")["1e-3"]
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "Tom_Hanks_54745.png"]:
        reference = pipeline.analyze(selfie(photo(name)), proposed=True,
                                     embeddings=True).largest.embedding
        for other, vector in embeddings.items():
            if other == name:
                continue
            same = name.startswith("obama") and other.startswith("obama")
            result = comparison_of(reference, vector, model="sface")
            assert (result.confidence > threshold) == same, (name, other, result)


def test_only_mtcnn_decides_a_proposed_box_is_a_face(pipeline):
    """A box over the grey canvas beside the face is refused by MTCNN's later stages; the
    face's own box is confirmed with MTCNN's score."""
    rgb = selfie(photo("obama.jpg"))
    face = pipeline.detector.detect(rgb)[0]
    assert pipeline.detector.confirm(rgb, [(10.0, 300.0, 150.0, 440.0)]) == []
    assert pipeline.detector.confirm(rgb, []) == []
    confirmed = pipeline.detector.confirm(rgb, [face.box])
    assert len(confirmed) == 1 and confirmed[0].score >= FACE_SCORE_MIN
    # and YuNet's own proposals are what gets confirmed here (no fallback to the search)
    for picture, faces in ((rgb, 1), (photo("t1.jpg"), 6)):
        assert len(pipeline.detector.confirm(picture, pipeline.proposer.propose(picture))) == faces


@pytest.mark.parametrize("name", ["t1.jpg", "obama.jpg", "biden.jpg", "mask_blue.jpg",
                                  "Tom_Hanks_54745.png", "obama_partial_face.jpg"])
def test_yunet_on_onnxruntime_finds_what_opencv_finds(name):
    """ml/yunet.py's graph and decoding against OpenCV's own FaceDetectorYN on the shipped
    file, at three sizes (sizes that are and are not multiples of 32, where both pad): the
    same boxes in the same order, to float rounding, and the same scores."""
    from ml.weights import weight_path
    from ml.yunet import YuNet

    ours = YuNet(weight_path("yunet"), score_min=0.5)
    bgr = cv2.cvtColor(photo(name), cv2.COLOR_RGB2BGR)
    found = 0
    for scale in (1.0, 0.5, 0.37):
        picture = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        height, width = picture.shape[:2]
        opencv = cv2.FaceDetectorYN.create(str(weight_path("yunet")), "", (width, height),
                                           0.5, 0.3, 5000)
        _, rows = opencv.detect(picture)
        theirs = np.zeros((0, 15), np.float32) if rows is None else rows
        boxes, scores = ours.detect(picture)
        assert len(boxes) == len(theirs), (name, scale)
        assert np.abs(boxes - theirs[:, :4]).max(initial=0.0) < 0.01, (name, scale)
        assert np.abs(scores - theirs[:, 14]).max(initial=0.0) < 1e-4, (name, scale)
        found += len(boxes)
    assert found >= (0 if name.startswith("mask_") else 2)


def test_mtcnn_later_stages_run_in_onnxruntime_with_torch_outputs(pipeline):
    """R-Net and O-Net are onnxruntime sessions (ml/onnx_modules.py) whose outputs equal
    facenet-pytorch's own torch networks (fresh ones, from the same files) on real face crops
    and noise, and on an empty batch; MTCNN's whole search with them finds the faces a
    torch-only MTCNN finds, boxes and landmarks within 0.01 px."""
    import torch
    from facenet_pytorch import MTCNN
    from PIL import Image

    from ml.detection import MIN_FACE_SIZE, _detection_size

    ours = pipeline.detector._mtcnn
    torch_only = MTCNN(keep_all=True, min_face_size=MIN_FACE_SIZE, device="cpu").eval()
    assert type(ours.rnet).__name__ == type(ours.onet).__name__ == "OnnxModule"
    rgb = photo("t1.jpg")
    faces = pipeline.detector.detect(rgb)
    for stage, reference, side in ((ours.rnet, torch_only.rnet, 24),
                                   (ours.onet, torch_only.onet, 48)):
        crops = [cv2.resize(rgb[int(f.box[1]):int(f.box[3]), int(f.box[0]):int(f.box[2])],
                            (side, side)) for f in faces]
        batch = (torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() - 127.5) / 128
        batch = torch.cat([batch, torch.randn(3, 3, side, side)])
        with torch.inference_mode():
            for got, expected in zip(stage(batch), reference(batch), strict=True):
                assert got.shape == expected.shape
                assert float((got - expected).abs().max()) < 1e-4
            assert [tuple(t.shape) for t in stage(batch[:0])] == [
                (0, t.shape[1]) for t in reference(batch[:1])]
    for name in ("t1.jpg", "obama.jpg", "Tom_Hanks_54745.png"):
        picture = photo(name)
        scale, size = _detection_size(*picture.shape[:2])
        image = Image.fromarray(picture)
        if scale < 1.0:
            image = image.resize(size, Image.Resampling.BILINEAR)
        with torch.inference_mode():
            boxes, probs, points = torch_only.detect([image], landmarks=True)
        expected = [p for p in probs[0] if p >= pipeline.detector.score_min]
        found = pipeline.detector.detect(picture)
        assert len(found) == len(expected), name
        for face in found:
            distance = np.abs(boxes[0][:, :4] / scale - np.asarray(face.box)).max(axis=1)
            nearest = int(distance.argmin())
            assert distance[nearest] < 0.01, name
            assert np.abs(points[0][nearest] / scale - np.asarray(face.landmarks)).max() < 0.01


def test_a_face_the_proposer_misses_is_still_found_by_mtcnn(pipeline):
    """With nothing proposed (a YuNet asking for an impossible score), the whole MTCNN search
    runs: the same faces as without a proposer; a rotated photo still turns upright."""
    from ml.detection import FaceProposer

    blind = FaceProposer(score_min=1.01)
    t1 = photo("t1.jpg")
    assert blind.propose(t1) == []
    assert pipeline.detector.detect_proposed(t1, blind) == pipeline.detector.detect(t1)
    rotated = rotate_ccw(photo("obama.jpg"), 90)
    found = pipeline.detector.detect_oriented(rotated, multi_oriented=True,
                                              proposer=pipeline.proposer)
    assert len(found.faces) == 1 and found.rotation == 270


def test_freed_heap_goes_back_to_the_system():
    """A worker trims its heap once the models are loaded (liveness_project/celery.py): pages
    freed by loading stop counting in its RSS. Here, in a fresh interpreter, ~120 MiB of small
    buffers are allocated and 99 in 100 freed (the survivors keep glibc from trimming on its
    own); release_free_heap must give most of those pages back."""
    import subprocess
    import sys

    script = """
from ml.device import release_free_heap

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

chunks = [bytearray(1200) for _ in range(100_000)]
kept = chunks[::100]
del chunks
before = rss()
trimmed = release_free_heap()
print(trimmed, before, rss())
"""
    answer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1])
    trimmed, before, after = answer.stdout.split()
    assert trimmed == "True"
    assert float(before) - float(after) > 60, answer.stdout


def test_frames_decoded_on_threads_are_load_rgbs_in_order(monkeypatch):
    """DecodedFrames (a clip's frames, decoded on the ML_THREADS background threads while the
    verify starts on the first ones) gives load_rgb's pixels at every index, slices and
    negative indices included; a frame that cannot be read raises as load_rgb does when it is
    used, and the frames before it are still there."""
    import io

    from PIL import Image

    from ml.image import DecodedFrames

    monkeypatch.setenv("ML_THREADS", "2")
    face = Image.open(PHOTOS / "obama.jpg").convert("RGB")
    frames = []
    for angle in range(0, 40, 2):         # twenty different frames, as a clip sends them
        out = io.BytesIO()
        face.rotate(angle).save(out, format="JPEG", quality=85)
        frames.append(out.getvalue())
    decoded = DecodedFrames(frames)
    assert len(decoded) == len(frames)
    for data, rgb in zip(frames, decoded, strict=True):
        assert np.array_equal(rgb, load_rgb(data))
    assert np.array_equal(decoded[-1], load_rgb(frames[-1]))
    assert [r.shape for r in decoded[3:6]] == [load_rgb(f).shape for f in frames[3:6]]
    broken = DecodedFrames(frames[:5] + [frames[5][: len(frames[5]) // 2]] + frames[6:])
    assert np.array_equal(broken[4], load_rgb(frames[4]))
    with pytest.raises(OSError, match="truncated"):
        broken[5]


def test_onnx_sessions_keep_no_memory_arena_but_sfaces(pipeline):
    """Every onnxruntime session a worker holds runs without a CPU memory arena (each kept its
    intermediate tensors' high-water mark for good: ~65 MiB of a worker's RSS together,
    docs/BENCHMARKS.md), except SFace's, measured faster with one; a model run without an
    arena gives the same outputs as with one."""
    import onnxruntime

    from ml.device import onnx_session_options
    from ml.weights import weight_path
    from ml.yunet import runtime_graph

    sessions = {"yunet": pipeline.proposer._yunet._session,
                "rnet": pipeline.detector._mtcnn.rnet._session,
                "onet": pipeline.detector._mtcnn.onet._session,
                "own": pipeline.pad.own._inference._session,
                "celeba_spoof": pipeline.pad.veto_members["celeba_spoof"].session}
    for name, session in sessions.items():
        assert not session.get_session_options().enable_cpu_mem_arena, name
    assert pipeline.embedder._session.get_session_options().enable_cpu_mem_arena
    picture = cv2.resize(cv2.cvtColor(photo("t1.jpg"), cv2.COLOR_RGB2BGR), (640, 480))  # 32s
    picture = picture.astype(np.float32)
    feed = {sessions["yunet"].get_inputs()[0].name: picture.transpose(2, 0, 1)[None]}
    with_arena = onnx_session_options()
    with_arena.enable_cpu_mem_arena = True
    arena = onnxruntime.InferenceSession(runtime_graph(weight_path("yunet")), with_arena,
                                         providers=["CPUExecutionProvider"])
    for got, expected in zip(sessions["yunet"].run(None, feed), arena.run(None, feed),
                             strict=True):
        assert np.array_equal(got, expected)


def test_a_process_that_loads_the_models_maps_no_triton():
    """torchvision's import would load triton (a GPU kernel compiler nothing here uses; ~95 MiB
    of a worker's RSS): importing ml keeps it out, and the detector, whose non-maximum
    suppression is torchvision's, still finds the face. Run in a fresh process, as a worker
    starts."""
    script = (
        "import sys\n"
        "from ml.image import load_rgb\n"
        "from ml.pipeline import perception\n"
        "import torchvision\n"
        f"faces = perception().detector.detect(load_rgb({str(PHOTOS / 'obama.jpg')!r}))\n"
        "maps = open('/proc/self/maps').read()\n"
        "print(len(faces), 'libtriton' in maps, 'triton.' in ' '.join(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.split()[-3:] == ["1", "False", "False"], done.stdout + done.stderr


def test_a_worker_loads_its_models_without_the_packages_they_do_not_need():
    """A worker's models, loaded and warmed as a worker does it, import neither facenet-pytorch's
    code nor torchvision's package, and so neither torch._dynamo nor sympy (~77 MiB of a
    worker process), nor mediapipe's other solutions, its tasks API or matplotlib (~28 MiB;
    docs/BENCHMARKS.md, Perception); the detector still finds the face and confirms YuNet's
    proposal, and FaceMesh its 478 points. Run in a fresh process, as a worker starts."""
    printed = warmed_worker_prints(
        "faces = models.detector.detect_proposed(picture, models.proposer)\n"
        "points = models.mesher.landmarks(picture, faces[0])\n"
        "loaded = [name for name in ('torchvision', 'facenet_pytorch', 'torch._dynamo',\n"
        "                            'sympy', 'matplotlib', 'mediapipe.tasks',\n"
        "                            'mediapipe.python.solutions.hands') if name in sys.modules]\n"
        "print(len(faces), points.shape, loaded)\n")
    assert printed == "1 (478, 3) []"


def test_warming_runs_every_model_once_and_changes_no_answer():
    """Perception.warm (a worker process runs it before its first task) runs each model once
    on a generated picture, FaceMesh's graph included; a warmed pipeline's answers on a real
    photo equal those of a pipeline whose first call it is: faces, embeddings, attributes,
    landmarks and the passive decision."""
    from ml.pipeline import Perception

    picture = photo("obama.jpg")
    cold = Perception()
    cold_analysis = cold.analyze(picture, embeddings=True, attributes=True)
    warmed = Perception()
    times = warmed.warm()
    assert set(times) == {"detector", "confirm", "proposer", "embedder", "mesher", "pad",
                          "attributes"}
    assert "_mesh" in warmed.mesher.__dict__           # FaceMesh's graph is built
    warm_analysis = warmed.analyze(picture, embeddings=True, attributes=True)
    assert len(cold_analysis.faces) == len(warm_analysis.faces) == 1
    before, after = cold_analysis.faces[0], warm_analysis.faces[0]
    assert before.face == after.face and before.attributes == after.attributes
    assert np.array_equal(before.embedding, after.embedding)
    assert np.array_equal(cold.mesher.landmarks(picture, before.face),
                          warmed.mesher.landmarks(picture, after.face))
    assert cold.pad.score(picture, before.face.box) == warmed.pad.score(picture,
                                                                         after.face.box)


def test_our_mtcnn_finds_what_facenet_pytorchs_finds_to_the_last_bit():
    """ml/mtcnn.py runs facenet-pytorch's weights without its code (which imports torchvision's
    package: ~77 MiB a worker process): on every offline photo, upright and turned, and on a
    batch of six equal-size frames, its boxes, probabilities and landmarks equal facenet-
    pytorch's MTCNN's exactly."""
    import torch
    from facenet_pytorch import MTCNN
    from PIL import Image

    from ml.detection import MIN_FACE_SIZE
    from ml.mtcnn import Mtcnn
    from ml.weights import weight_path

    ours = Mtcnn(weight_path("mtcnn_pnet"), weight_path("mtcnn_rnet"), weight_path("mtcnn_onet"),
                 min_face_size=MIN_FACE_SIZE)
    theirs = MTCNN(keep_all=True, min_face_size=MIN_FACE_SIZE, device="cpu").eval()

    def equal(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))

    pictures = []
    for path in sorted(PHOTOS.iterdir()):
        picture = Image.open(path).convert("RGB")
        picture.thumbnail((1024, 1024))
        pictures += [picture, picture.rotate(90, expand=True)]
    faces = 0
    for picture in pictures:
        with torch.inference_mode():
            boxes, probs, points = (found[0] for found in
                                    theirs.detect([picture], landmarks=True))
            (our_boxes, our_probs, our_points), = ours.detect([np.asarray(picture)])
        assert equal(boxes, our_boxes) and equal(points, our_points), picture
        assert our_boxes is None or equal(probs, our_probs)
        faces += 0 if our_boxes is None else len(our_boxes)
    assert faces >= len(pictures) // 2          # the photos' faces, found upright at least
    frames = [np.asarray(picture.resize((640, 480))) for picture in pictures[:12:2]]
    with torch.inference_mode():
        boxes, probs, points = theirs.detect([Image.fromarray(f) for f in frames],
                                             landmarks=True)
        ours_found = ours.detect(frames)
    for k, (our_boxes, our_probs, our_points) in enumerate(ours_found):
        assert equal(boxes[k], our_boxes) and equal(points[k], our_points), k
        assert our_boxes is None or equal(probs[k], our_probs), k


def test_our_mtcnn_answers_no_face_where_none_can_fit():
    """Pictures smaller than the smallest face MTCNN looks for, or blank: no face, no error."""
    from ml.detection import MIN_FACE_SIZE
    from ml.mtcnn import Mtcnn
    from ml.weights import weight_path

    ours = Mtcnn(weight_path("mtcnn_pnet"), weight_path("mtcnn_rnet"), weight_path("mtcnn_onet"),
                 min_face_size=MIN_FACE_SIZE)
    tiny = np.full((MIN_FACE_SIZE - 1, 300, 3), 128, np.uint8)
    blank = np.zeros((480, 640, 3), np.uint8)
    assert ours.detect([tiny, tiny]) == [(None, None, None)] * 2
    assert ours.detect([blank]) == [(None, None, None)]


def test_our_suppressions_keep_what_torchvisions_and_facenets_keep():
    """The batched suppressions of ml/mtcnn.py against the ones facenet-pytorch calls, on
    random boxes of two images: torchvision's batched_nms on both of its paths (below and above
    4,000 coordinates) and facenet-pytorch's numpy "Min" suppression."""
    import torch
    from facenet_pytorch.models.utils.detect_face import batched_nms_numpy
    from torchvision.ops import (  # type: ignore[import-untyped]
        batched_nms as torchvision_batched_nms,
    )

    from ml.mtcnn import batched_nms, batched_nms_by_smaller

    generator = torch.Generator().manual_seed(7)
    for count in (0, 1, 40, 900, 1500):
        corners = torch.rand(count, 2, generator=generator) * 500
        sizes = torch.rand(count, 2, generator=generator) * 80 + 5
        boxes = torch.cat([corners, corners + sizes], dim=1)
        scores = torch.rand(count, generator=generator)
        groups = torch.randint(0, 2, (count,), generator=generator)
        for iou in (0.5, 0.7):
            assert torch.equal(batched_nms(boxes, scores, groups, iou),
                               torchvision_batched_nms(boxes, scores, groups, iou)), count
        assert torch.equal(batched_nms_by_smaller(boxes, scores, groups, 0.7),
                           batched_nms_numpy(boxes, scores, groups, 0.7, "Min")), count
