"""The SDK's conversation with the server: start (challenge), capture, seal."""

import io
import platform
from pathlib import Path

import httpx
import numpy as np

from .capture import render
from .package import key_from_text, seal

# The device report (docs/SDK.md): what the SDK knows of the device it runs on. The mock runs on
# no phone: it reports its host's OS and no risk; `risks` simulates a risky device.
RISK_FLAGS = ("emulator", "rooted", "hooked", "debugger")
# The seed applies maximum_brightness to action and silent liveness; flash drives the screen.
BRIGHTNESS_TYPES = ("meglive", "still")


def device_report(challenge: dict | None = None, *, risks: tuple[str, ...] = ()) -> dict:
    """The `device` object sealed into meglive_data: platform, SDK version, model, OS version,
    every risk flag (True for those in `risks`) and whether the screen's brightness was raised
    to its maximum for this challenge (maximum_brightness=1)."""
    unknown = set(risks) - set(RISK_FLAGS)
    if unknown:
        raise ValueError(f"unknown device risk {sorted(unknown)}; one of {', '.join(RISK_FLAGS)}")
    raised = challenge is not None and challenge.get("maximum_brightness") == "1" and (
        challenge.get("liveness_type") in BRIGHTNESS_TYPES)
    return {"platform": "liveness-sdk-mock", "version": "2", "model": "simulator",
            "os_version": f"{platform.system()} {platform.release()}".strip(),
            **{flag: flag in risks for flag in RISK_FLAGS}, "brightness_raised": raised}


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, "JPEG",
                                                                    quality=quality)
    return buffer.getvalue()


def start(http: httpx.Client, biz_token: str) -> dict:
    response = http.post("/faceid/v3/sdk/start", data={"biz_token": biz_token})
    body = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"start refused: HTTP {response.status_code} {body.get('error')}")
    return body


def frames_from_dir(folder: Path, fps: float = 10.0) -> list[tuple[float, bytes]]:
    """A user's own frames (JPEG/PNG files, in name order) at a steady frame rate."""
    from ml.image import load_rgb

    paths = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise ValueError(f"no .jpg or .png frames in {folder}")
    return [(i * 1000.0 / fps, jpeg(load_rgb(p))) for i, p in enumerate(paths)]


def capture(started: dict, *, scenario: str = "live", face: np.ndarray | None = None,
            other_face: np.ndarray | None = None, frames: list[tuple[float, bytes]] | None = None,
            seed: int = 0, device: dict | None = None) -> bytes:
    """meglive_data for the challenge of a `start` answer; `device`: the device report sealed
    with it (device_report(challenge) when not given)."""
    challenge = started["challenge"]
    if frames is None:
        if face is None:
            raise ValueError("a face picture or frames are needed")
        frames = [(t, jpeg(rgb)) for t, rgb in render(challenge, scenario, face, seed=seed,
                                                      other_face=other_face)]
    return seal(biz_token=started["biz_token"], challenge_id=challenge["challenge_id"],
                frames=frames, device=device if device is not None else device_report(challenge),
                key=key_from_text(started["package_key"]))
