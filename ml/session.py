"""A liveness session's model work, run by workers: the reference photos when the session is
made (get_biz_token), the capture when it is verified.

Verdicts are plain keys (`outcome`): the web maps them to the contract's result codes. Every
function takes and returns JSON-ready data so the Celery tasks pass them through unchanged.
"""

import base64
import io
import time

import numpy as np

from .image import load_rgb
from .pipeline import perception
from .similarity import FAR_KEYS, comparison_of

SECURITY_LEVEL_FAR = {"1": "1e-3", "2": "1e-4", "3": "1e-5", "4": "1e-6"}
MIN_FRAMES = {"still": 1, "meglive": 10, "flash": 10}
BEST_FRAME_CANDIDATES = 8          # frames scored for quality when choosing the best one
STILL_FRAMES_JUDGED = 3            # frames of a still burst the passive decision judges
FLASH_ATTACK_REASONS = {"NO_RESPONSE", "WRONG_SEQUENCE", "LATE"}
ACTION_OUTCOMES = {"ACTION_ERROR": "ACTION_ERROR", "USER_TIMEOUT": "USER_TIMEOUT",
                   "PLANAR_ATTACK": "FAIL_LIVING_FACE_ATTACK",
                   "EYES_CLOSED": "FAIL_EYES_CLOSE_DETECTION",
                   "UNDETECTED_FACE": "UNDETECTED_FACE", "REPLACED_FACE": "REPLACED_FACE_ATTACK"}


def outcome_only(outcome: str, frames: int = 0) -> dict:
    """A verdict reached before any liveness or comparison work, in capture_verify's shape."""
    return {"outcome": outcome, "liveness": {}, "attack": None, "comparisons": {},
            "best_frame": None, "frames": frames, "model_ms": 0.0}


def _face_summary(face, quality) -> dict:
    x1, y1, x2, y2 = face.box
    return {"face_rectangle": {"left": int(x1), "top": int(y1), "width": int(x2 - x1),
                               "height": int(y2 - y1)},
            "score": round(face.score, 4), "quality": round(quality.score, 3)}


def reference_analyse(image: bytes, *, multi_oriented: bool) -> dict:
    """Faces of one reference photo (largest first) and the largest face's embedding."""
    pipeline = perception()
    analysis = pipeline.analyze(load_rgb(image), multi_oriented=multi_oriented)
    result = {"rotation": analysis.detection.rotation,
              "faces": [_face_summary(f.face, f.quality) for f in analysis.faces],
              "embedding": None, "embedder": pipeline.embedder.name}
    if analysis.largest is not None:
        vector = pipeline.embedder.embed(analysis.detection.image, analysis.largest.face)
        result["embedding"] = [round(float(v), 6) for v in vector]
    return result


def _jpeg(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _eyes_open_somewhere(frames, faces, mesher) -> bool:
    from .actions import EYES_OPEN_EAR, eye_aspect_ratio

    for frame, face in zip(frames, faces, strict=True):
        points = mesher.landmarks(frame, face)
        if points is not None and eye_aspect_ratio(points) >= EYES_OPEN_EAR:
            return True
    return False


def capture_verify(*, liveness_type: str, frames: list[bytes], times_ms: list[float],
                   challenge: dict, options: dict, references: dict[str, list[float]],
                   pad_threshold: float) -> dict:
    """Judges a capture: enough frames, a face, one face when asked, liveness by type, then
    the comparison of the best frame with every reference embedding."""
    started = time.perf_counter()
    pipeline = perception()
    out = outcome_only("SUCCESS", len(frames))

    def done(outcome: str) -> dict:
        out["outcome"] = outcome
        out["model_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return out

    needed = MIN_FRAMES.get(liveness_type, 1)
    if len(frames) < needed:
        out["liveness"] = {"reason": f"{len(frames)} frames, {needed} needed"}
        return done("VIDEO_LACK_FRAMES")
    images = [load_rgb(f) for f in frames]

    # The best frame: the highest quality face among evenly spaced candidates.
    step = max(1, len(images) // BEST_FRAME_CANDIDATES)
    best, best_quality, crowded = None, -1.0, False
    largest_faces = {}                 # frame index -> its largest face, for the still burst
    for index in range(0, len(images), step):
        analysis = pipeline.analyze(images[index])
        confident = [f for f in analysis.faces if f.face.score >= 0.97]
        crowded = crowded or len(confident) > 1
        largest_faces[index] = analysis.largest.face if analysis.largest is not None else None
        if analysis.largest is not None and analysis.largest.quality.score > best_quality:
            best, best_quality = (index, analysis.largest), analysis.largest.quality.score
    if best is None:
        return done("UNDETECTED_FACE")
    index, analysed = best
    image = images[index]
    out["best_frame"] = {"index": index, "time_ms": times_ms[index], "jpeg": _jpeg(image),
                         "quality": round(best_quality, 3)}
    if options.get("multiple_faces_detection") == "1" and crowded:
        return done("MULTIPLE_FACES")

    pad = pipeline.pad.score(image, analysed.face.box)
    burst = []
    if liveness_type == "still" and len(images) > 1:
        pad, burst = _burst_score(pipeline, images, index, pad, largest_faces)
    level = str(options.get("security_level", "2"))
    if level != "2" and hasattr(pipeline.pad, "threshold"):
        # the fused decision has one operating point per security level; the configured
        # threshold (PAD_LIVE_THRESHOLD) is the default level's
        pad_threshold = pipeline.pad.threshold(level)
    attack_passed = pad.live >= pad_threshold
    out["attack"] = {"score": round(1.0 - pad.live, 6), "threshold": round(1 - pad_threshold, 6),
                     "passed": attack_passed, "probabilities": pad.probabilities}
    if getattr(pad, "members", None):
        out["attack"]["members"] = pad.members
    if burst:
        out["attack"]["frames"] = burst
    liveness_outcome = _liveness(liveness_type, images, times_ms, challenge, options,
                                 analysed, attack_passed, out)
    if liveness_outcome != "SUCCESS" and options.get("force_compare") != "1":
        return done(liveness_outcome)

    out["comparisons"] = comparisons_of(pipeline.embedder.embed(image, analysed.face),
                                        references, model=pipeline.embedder.name)
    if liveness_outcome != "SUCCESS":     # force_compare: the comparison decides the result
        out["liveness"]["forced_past"] = liveness_outcome
    return done(comparison_outcome(out["comparisons"], options.get("security_level", "2")))


def _burst_score(pipeline, images: list[np.ndarray], best_index: int, best_pad,
                 largest_faces: dict):
    """A still capture's burst: the passive decision on the best frame and on up to
    STILL_FRAMES_JUDGED - 1 others spread over the burst, combined by the median live score
    (docs/SDK.md: one odd frame, a blink or a motion blur, can neither pass nor fail a capture
    on its own; an attack must fool most frames). Returns the best frame's score with the
    combined `live`, and each judged frame's index and score. Faces the best-frame search
    already found (`largest_faces`) are not detected again."""
    from dataclasses import replace

    others = [i for i in np.linspace(0, len(images) - 1, STILL_FRAMES_JUDGED).round().astype(int)
              if i != best_index]
    judged = [(best_index, best_pad.live)]
    for index in dict.fromkeys(int(i) for i in others):
        if len(judged) == STILL_FRAMES_JUDGED:
            break
        if index in largest_faces:
            face = largest_faces[index]
        else:  # a long burst: the best-frame search skipped this frame
            found = pipeline.detector.detect(images[index])
            face = found[0] if found else None
        if face is not None:
            judged.append((index, pipeline.pad.score(images[index], face.box).live))
    combined = float(np.median([live for _, live in judged]))
    frames = [{"index": i, "live": round(live, 6)} for i, live in sorted(judged)]
    return replace(best_pad, live=combined), frames


def comparisons_of(vector, references: dict[str, list[float]], *, model: str) -> dict:
    """{name: {confidence, thresholds}} of one embedding against each reference."""
    out = {}
    for name, reference in references.items():
        comparison = comparison_of(np.asarray(reference), np.asarray(vector), model=model)
        out[name] = {"confidence": round(comparison.confidence, 3),
                     "thresholds": {k: comparison.thresholds[k] for k in FAR_KEYS}}
    return out


def comparison_outcome(comparisons: dict, security_level) -> str:
    """SUCCESS when every reference reaches the security level's threshold."""
    far = SECURITY_LEVEL_FAR[str(security_level)]
    same = all(c["confidence"] >= c["thresholds"][far] for c in comparisons.values())
    return "SUCCESS" if same else "PASS_LIVING_NOT_THE_SAME"


def _liveness(liveness_type, images, times_ms, challenge, options, analysed, attack_passed,
              out) -> str:
    pipeline = perception()
    eyes_check = options.get("eyes_close_detection") == "1"
    if liveness_type == "still":
        out["liveness"] = {"method": "passive PAD on the best frame"}
        best_image = images[out["best_frame"]["index"]]
        if eyes_check and not _eyes_open_somewhere([best_image], [analysed.face],
                                                    pipeline.mesher):
            return "FAIL_EYES_CLOSE_DETECTION"
        return "SUCCESS" if attack_passed else "FAIL_LIVING_FACE_ATTACK"
    if liveness_type == "meglive":
        from .actions import analyse_action_clip

        verdict = analyse_action_clip(
            images, times_ms, list(challenge["actions"]),
            timeout_ms=float(challenge["action_timeout_s"]) * 1000,
            eyes_close_detection=eyes_check,
            face_replace_detection=options.get("face_replace_detection", "1") == "1",
            detector=pipeline.detector, mesher=pipeline.mesher, embedder=pipeline.embedder)
        out["liveness"] = {"method": "actions", "reason": verdict.reason,
                           "planarity": verdict.planarity,
                           "events": [[e.action, e.start_ms, e.end_ms] for e in verdict.events]}
        return "SUCCESS" if verdict.passed else ACTION_OUTCOMES[verdict.reason]
    if liveness_type == "flash":
        from .flash import FlashChallenge, FlashSegment, analyse_flash

        flash = FlashChallenge(tuple(FlashSegment(c, s, e) for c, s, e in challenge["colours"]))
        verdict = analyse_flash(images, times_ms, flash, detector=pipeline.detector)
        out["liveness"] = {"method": "flash", "reason": verdict.reason,
                           "correlation": round(verdict.correlation, 3),
                           "lag_ms": round(verdict.lag_ms, 1)}
        if verdict.reason == "NO_FACE":
            return "UNDETECTED_FACE"
        if not verdict.passed:
            return "FAIL_LIVING_FACE_ATTACK"
        if eyes_check:
            sample = images[:: max(1, len(images) // 6)]
            if not _eyes_open_somewhere(sample, [analysed.face] * len(sample), pipeline.mesher):
                return "FAIL_EYES_CLOSE_DETECTION"
        return "SUCCESS"
    raise ValueError(f"no liveness check for {liveness_type!r}")


def photos_embed(photos: dict[str, bytes]) -> tuple[dict[str, list[float]], str | None]:
    """Embeddings of reference photos that arrive at verify (the KYC data source's photo):
    ({name: embedding}, None) or ({}, "PHOTO_FORMAT_ERROR" / "NO_FACE_FOUND")."""
    pipeline = perception()
    vectors = {}
    for name, photo in photos.items():
        try:
            rgb = load_rgb(photo)
        except Exception:  # noqa: BLE001 - any undecodable picture from a data source
            return {}, "PHOTO_FORMAT_ERROR"
        analysis = pipeline.analyze(rgb, multi_oriented=True)
        if analysis.largest is None:
            return {}, "NO_FACE_FOUND"
        vectors[name] = list(pipeline.embedder.embed(analysis.detection.image,
                                                     analysis.largest.face))
    return vectors, None


def probe_compare(probe: list[float], references: dict[str, list[float]], *,
                  security_level: str) -> dict:
    """raw_image: the client's own photo (embedded at get_biz_token) against the references."""
    pipeline = perception()
    out = {**outcome_only("SUCCESS"), "liveness": {"method": "none (raw_image)"}}
    out["comparisons"] = comparisons_of(probe, references, model=pipeline.embedder.name)
    out["outcome"] = comparison_outcome(out["comparisons"], security_level)
    return out
