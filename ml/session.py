"""A liveness session's model work, run by workers: the reference photos when the session is
made (get_biz_token), the capture when it is verified (`session_verify`).

Verification takes a typed `VerifyJob` and returns a typed `VerifyResult` whose `Reason` is
ml's own (ml/jobs.py); the web maps reasons to the contract's result names and codes.
"""

import time
from collections.abc import Sequence
from concurrent.futures import Future, wait

import numpy as np

from .consistency import CONSISTENCY_STEP
from .detection import box_iou
from .device import beside
from .image import DecodedFrames, load_rgb
from .jobs import FAILED, FAR_LEVELS, PASSED, Check, LivenessCheck, Reason, VerifyJob, VerifyResult
from .pad_fusion import PassiveDecision
from .pad_score import score_faces
from .pipeline import perception
from .review_images import face_crop_jpeg, frame_strip, jpeg_b64
from .similarity import comparison_of

MIN_FRAMES = {LivenessCheck.STILL: 1, LivenessCheck.ACTIONS: 10, LivenessCheck.FLASH: 10}
BEST_FRAME_CANDIDATES = 8          # frames scored for quality when choosing the best one
STILL_FRAMES_JUDGED = 3            # frames of a still burst the passive decision judges
CONFIDENT_FACE = 0.97              # a face this sure counts towards "several faces"
# The detector's face on a clip's best frame is the tracked one when their boxes overlap this
# much (tracked boxes measured IoU >= 0.84 against the detector's: tests/test_ml_tracking.py).
SAME_FACE_IOU = 0.5
ACTION_REASONS = {"ACTION_MISSING": Reason.ACTION_MISSING, "ACTION_LATE": Reason.ACTION_LATE,
                  "PLANAR_ATTACK": Reason.PRESENTATION_ATTACK,
                  "EYES_CLOSED": Reason.EYES_CLOSED, "NO_FACE": Reason.NO_FACE,
                  "FACE_REPLACED": Reason.FACE_REPLACED}
# The check behind each failing verdict of ml/actions.py's analyse_action_clip.
ACTION_FAILED_CHECKS = {"FACE_REPLACED": Check.FACE_REPLACE, "EYES_CLOSED": Check.EYES,
                        "PLANAR_ATTACK": Check.PLANARITY, "ACTION_MISSING": Check.ACTIONS,
                        "ACTION_LATE": Check.ACTIONS}


def session_verify(job: VerifyJob) -> VerifyResult:
    """The one entry point of verification: embeds references that came as photos, then
    compares the client's own photo (no capture) or judges the capture."""
    references = dict(job.references)
    if job.photos:
        embedded, failure = photos_embed(job.photos)
        if failure is not None:
            return VerifyResult(failure, frames=len(job.frames))
        references.update(embedded)
    if job.check == LivenessCheck.NONE:
        return probe_compare(job.probe or [], references, far=job.far)
    return capture_verify(job, references)


def _face_summary(face, quality) -> dict:
    x1, y1, x2, y2 = face.box
    return {"face_rectangle": {"left": int(x1), "top": int(y1), "width": int(x2 - x1),
                               "height": int(y2 - y1)},
            "score": round(face.score, 4), "quality": round(quality.score, 3)}


def reference_analyse(image: bytes, *, multi_oriented: bool) -> dict:
    """Faces of one reference photo (largest first), the largest face's embedding and a small
    crop of it for a person's review (ml/review_images.py). The faces are proposed by YuNet and
    confirmed by MTCNN (get_biz_token's cost: docs/BENCHMARKS.md)."""
    pipeline = perception()
    analysis = pipeline.analyze(load_rgb(image), multi_oriented=multi_oriented, proposed=True)
    result = {"rotation": analysis.detection.rotation,
              "faces": [_face_summary(f.face, f.quality) for f in analysis.faces],
              "embedding": None, "embedder": pipeline.embedder.name}
    if analysis.largest is not None:
        vector = pipeline.embedder.embed(analysis.detection.image, analysis.largest.face)
        result["embedding"] = [round(float(v), 6) for v in vector]
        result["face_jpeg"] = face_crop_jpeg(analysis.detection.image, analysis.largest.face.box)
    return result


def _eyes_open_somewhere(frames, faces, mesher) -> bool:
    from .actions import EYES_OPEN_EAR, eye_aspect_ratio

    for frame, face in zip(frames, faces, strict=True):
        points = mesher.landmarks(frame, face)
        if points is not None and eye_aspect_ratio(points) >= EYES_OPEN_EAR:
            return True
    return False


def capture_verify(job: VerifyJob, references: dict[str, list[float]]) -> VerifyResult:
    """Judges a capture: enough frames, a face, one face when asked, liveness by its check,
    then the comparison of the best frame with every reference embedding.

    Work that does not feed the main line runs beside it (ml/device.py `beside`): the review
    strip, and on an action clip the face-replace embeddings of the tracked faces, started as
    FaceMesh (one core's work, most of the clip's time) reaches each fifth frame. The results
    are those of doing it all in order; whatever was started is settled before returning."""
    started: list[Future] = []
    try:
        return _capture_verify(job, references, started)
    finally:
        for future in started:
            future.cancel()           # not begun: not needed (a verdict came first)
        wait(started)


def _capture_verify(job: VerifyJob, references: dict[str, list[float]],
                    started: list[Future]) -> VerifyResult:
    began = time.perf_counter()
    pipeline = perception()
    frames, times_ms = job.frames, list(job.times_ms)
    out = VerifyResult(Reason.SAME_PERSON, frames=len(frames))
    strip: Future | None = None

    def done(reason: Reason) -> VerifyResult:
        out.reason = reason
        if strip is not None:
            out.strip = strip.result()         # whatever the verdict: for the review
        out.model_ms = round((time.perf_counter() - began) * 1000, 1)
        return out

    needed = MIN_FRAMES.get(job.check, 1)
    if len(frames) < needed:
        out.liveness = {"reason": f"{len(frames)} frames, {needed} needed"}
        return done(Reason.TOO_FEW_FRAMES)
    images = DecodedFrames(frames)
    strip = beside(frame_strip, images, times_ms)
    started.append(strip)

    embeddings: dict[int, Future] = {}        # frame index -> its tracked face's embedding
    on_face = None
    if job.check == LivenessCheck.ACTIONS and job.face_replace_check:
        def on_face(index: int, face) -> None:
            if index % CONSISTENCY_STEP == 0:
                embeddings[index] = beside(pipeline.embedder.embed, images[index], face)
                started.append(embeddings[index])

    # The best frame: the highest quality face among evenly spaced candidates.
    candidates = list(range(0, len(images), max(1, len(images) // BEST_FRAME_CANDIDATES)))
    track, largest_faces = None, {}
    if job.check in (LivenessCheck.ACTIONS, LivenessCheck.FLASH):
        track, best, crowded = _best_in_clip(pipeline, images, candidates, job.check,
                                             crowd_matters=job.single_face_required,
                                             on_face=on_face)
    else:
        best, crowded, largest_faces = _best_by_detection(pipeline, images, candidates)
    if best is None:
        return done(Reason.NO_FACE)
    index, analysed = best
    image = images[index]
    out.best_frame = {"index": index, "time_ms": times_ms[index], "jpeg": jpeg_b64(image),
                      "quality": round(analysed.quality.score, 3)}
    if job.single_face_required and crowded:
        return done(Reason.SEVERAL_FACES)

    passive_passed = None
    clip_pad: Future | None = None
    if job.check == LivenessCheck.STILL:
        burst = []
        if len(images) > 1:
            pad, burst = _burst_score(pipeline, images, index, analysed.face, largest_faces)
        else:
            pad = pipeline.pad.score(image, analysed.face.box)
        passive_passed = _passive_record(out, job, pipeline, pad, burst)
    else:
        # a clip's liveness is its actions or its flash, which do not read the passive
        # decision (kept for the record): it runs beside them and the comparison's embedding
        clip_pad = beside(pipeline.pad.score, image, analysed.face.box)
        started.append(clip_pad)
    liveness_failure = _liveness(job, images, times_ms, analysed, passive_passed, out, track,
                                 embeddings)
    refused = liveness_failure is not None and not job.compare_when_not_live
    vector = None if refused else pipeline.embedder.embed(image, analysed.face)
    if clip_pad is not None:
        _passive_record(out, job, pipeline, clip_pad.result(), [])
    if liveness_failure is not None and refused:
        return done(liveness_failure)

    out.comparisons = comparisons_of(vector, references, model=pipeline.embedder.name)
    if liveness_failure is not None:     # compared anyway: the comparison decides the result
        out.liveness["forced_past"] = liveness_failure.value
    return done(comparison_reason(out.comparisons, job.far))


def _passive_record(out: VerifyResult, job: VerifyJob, pipeline, pad, burst: list) -> bool:
    """Writes the passive decision into `out.passive` at the job's level; whether it passed."""
    pad_threshold = job.pad_threshold
    if job.pad_level != 2 and hasattr(pipeline.pad, "threshold"):
        # the fused decision has one operating point per level; the configured threshold
        # (PAD_LIVE_THRESHOLD) is the default level's
        pad_threshold = pipeline.pad.threshold(str(job.pad_level))
    passive_passed = pad.live >= pad_threshold
    out.passive = {"score": round(1.0 - pad.live, 6), "threshold": round(1 - pad_threshold, 6),
                   "passed": passive_passed, "probabilities": pad.probabilities}
    if getattr(pad, "members", None):
        out.passive["members"] = pad.members
    if getattr(pad, "veto", None):
        out.passive["veto"] = pad.veto
    if burst:
        out.passive["frames"] = burst
    return passive_passed


def _confident(faces) -> int:
    return sum(1 for f in faces if f.score >= CONFIDENT_FACE)


def _best_by_detection(pipeline, images, candidates):
    """A still burst: the detector on every candidate (YuNet proposing, MTCNN confirming:
    FaceDetector.detect_proposed, ~6 ms a 640x480 frame against ~25 for MTCNN's batched
    search). Returns the best (index, AnalyzedFace)
    or None, whether any candidate held several confident faces, and each candidate's largest
    face (the burst's other judged frames reuse them)."""
    best, best_quality, crowded = None, -1.0, False
    largest_faces = {}                 # frame index -> its largest face, for the still burst
    analyses = pipeline.analyze_frames([images[index] for index in candidates], proposed=True)
    for index, analysis in zip(candidates, analyses, strict=True):
        crowded = crowded or _confident(f.face for f in analysis.faces) > 1
        largest_faces[index] = analysis.largest.face if analysis.largest is not None else None
        if analysis.largest is not None and analysis.largest.quality.score > best_quality:
            best, best_quality = (index, analysis.largest), analysis.largest.quality.score
    return best, crowded, largest_faces


def _best_in_clip(pipeline, images, candidates, check, *, crowd_matters: bool = True,
                  on_face=None):
    """A clip: the face detected on the first frame and tracked (ml/tracking.py) through every
    frame for actions (their landmarks are needed anyway) or through the candidates for flash;
    the candidates ranked by the quality of their tracked faces, and the detector run once more,
    on the best one, for the face the passive decision and the comparison use (calibrated on the
    detector's boxes): its face that is the tracked one (box_iou >= SAME_FACE_IOU), else the
    tracked face itself. Returns the track, the best (index, AnalyzedFace) or None, and whether
    the first, the best or the last frame held several confident faces (the detector runs on
    those three only: a second face that comes and goes between them is not seen). The last
    frame is looked at only when `crowd_matters` (the session asked for one face: otherwise
    nobody reads the answer, and the detection is a tenth of a flash verify's time).
    `on_face` is told of each tracked face (track_faces)."""
    from .pipeline import AnalyzedFace
    from .quality import face_quality
    from .tracking import track_faces

    indices = list(range(len(images))) if check == LivenessCheck.ACTIONS else candidates
    track = track_faces(images, indices, detector=pipeline.detector, mesher=pipeline.mesher,
                        proposer=pipeline.proposer, on_face=on_face)
    if track is None:
        return None, None, False
    ranked = [(face_quality(images[i], track.faces[i]).score, -i) for i in candidates
              if i in track.faces]
    if not ranked:
        return track, None, False
    index = -max(ranked)[1]
    last_faces = None
    if crowd_matters and index != len(images) - 1:
        # a second person who joins during the clip: the last frame is looked at too, beside
        # the best frame's analysis (its answer is waited for even when that one is crowded)
        last_faces = beside(pipeline.detector.detect_proposed, images[-1], pipeline.proposer)
    analysis = pipeline.analyze(images[index], proposed=True)
    crowded = _confident(track.first_faces) > 1 or _confident(f.face for f in analysis.faces) > 1
    if last_faces is not None:
        crowded = _confident(last_faces.result()) > 1 or crowded
    tracked = track.faces[index]
    # The detector's face that is the tracked one, not merely the largest: a bigger face that
    # enters the clip (a bystander, a photo held up) is not the person who did the challenge,
    # and face-replace detection, which follows the track, would never see it judged.
    overlaps = [(box_iou(f.face.box, tracked.box), n) for n, f in enumerate(analysis.faces)]
    if overlaps and max(overlaps)[0] >= SAME_FACE_IOU:
        return track, (index, analysis.faces[max(overlaps)[1]]), crowded
    # the mesh follows a face the detector misses on this frame (turned, blurred): its face
    return track, (index, AnalyzedFace(tracked, face_quality(images[index], tracked))), crowded


def _burst_score(pipeline, images: Sequence[np.ndarray], best_index: int, best_face,
                 largest_faces: dict):
    """A still capture's burst: the passive decision on the best frame and on up to
    STILL_FRAMES_JUDGED - 1 others spread over the burst, combined by the median live score
    (docs/SDK.md: one odd frame, a blink or a motion blur, can neither pass nor fail a capture
    on its own; an attack must fool most frames). Returns the best frame's score with the
    combined `live`, and each judged frame's index and score. Faces the best-frame search
    already found (`largest_faces`) are not detected again; the judged frames are scored in one
    call (the decision's own networks run once over all of them). The real-trained members'
    veto (ml/pad_fusion.py) is consulted on the best frame only, and refuses the capture when
    it fires there."""
    from dataclasses import replace

    others = [i for i in np.linspace(0, len(images) - 1, STILL_FRAMES_JUDGED).round().astype(int)
              if i != best_index]
    judged = [(best_index, best_face)]
    for index in dict.fromkeys(int(i) for i in others):
        if len(judged) == STILL_FRAMES_JUDGED:
            break
        if index in largest_faces:
            face = largest_faces[index]
        else:  # a long burst: the best-frame search skipped this frame
            found = pipeline.detector.detect_proposed(images[index], pipeline.proposer)
            face = found[0] if found else None
        if face is not None:
            judged.append((index, face))
    pictures = [(images[i], face.box) for i, face in judged]
    if isinstance(pipeline.pad, PassiveDecision):
        # the real-trained members' veto judges the best frame only (their ~20 ms a frame
        # are spent once a capture), and when it fires the capture is refused whatever the
        # other frames say: the median alone would outvote one vetoed frame
        scores = pipeline.pad.score_many(pictures, veto_on=0)
    else:
        scores = score_faces(pipeline.pad, pictures)
    combined = float(np.median([score.live for score in scores]))
    if getattr(scores[0], "veto", {}).get("fired"):
        combined = min(combined, scores[0].live)
    frames = [{"index": i, "live": round(score.live, 6)}
              for (i, _), score in sorted(zip(judged, scores, strict=True), key=lambda x: x[0][0])]
    return replace(scores[0], live=combined), frames


def comparisons_of(vector, references: dict[str, list[float]], *, model: str) -> dict:
    """{name: {confidence, thresholds}} of one embedding against each reference."""
    out = {}
    for name, reference in references.items():
        comparison = comparison_of(np.asarray(reference), np.asarray(vector), model=model)
        out[name] = {"confidence": round(comparison.confidence, 3),
                     "thresholds": {k: comparison.thresholds[k] for k in FAR_LEVELS}}
    return out


def comparison_reason(comparisons: dict, far: str) -> Reason:
    """SAME_PERSON when every reference reaches the threshold of the FAR level."""
    same = all(c["confidence"] >= c["thresholds"][far] for c in comparisons.values())
    return Reason.SAME_PERSON if same else Reason.OTHER_PERSON


def _liveness(job: VerifyJob, images, times_ms, analysed, passive_passed,
              out: VerifyResult, track, embeddings: dict[int, Future]) -> Reason | None:
    """The capture's liveness by its check: None when live, else why not. `embeddings`: the
    face-replace embeddings started while an action clip was tracked."""
    pipeline = perception()
    if job.check == LivenessCheck.STILL:
        out.liveness = {"method": "passive PAD on the best frame"}
        assert out.best_frame is not None          # chosen before any liveness check
        best_image = images[out.best_frame["index"]]
        if job.eyes_open_required:
            eyes_open = _eyes_open_somewhere([best_image], [analysed.face], pipeline.mesher)
            out.checks[Check.EYES.value] = PASSED if eyes_open else FAILED
            if not eyes_open:
                return Reason.EYES_CLOSED
        out.checks[Check.PASSIVE.value] = PASSED if passive_passed else FAILED
        return None if passive_passed else Reason.PRESENTATION_ATTACK
    if job.check == LivenessCheck.ACTIONS:
        return _actions_liveness(job, images, times_ms, out, pipeline, track, embeddings)
    if job.check == LivenessCheck.FLASH:
        return _flash_liveness(job, images, times_ms, out, track)
    raise ValueError(f"no liveness check for {job.check!r}")


def capture_pacing(times_ms) -> dict:
    """How the client paced its frames: how many, the median and the longest gap (ms). Kept
    with a clip's record so that an operator can tell a capture filmed too sparsely (a slow
    device: quick nods and shakes fall between frames more than ~150 ms apart,
    docs/LIVENESS.md) from a person who did not do the actions."""
    gaps = np.diff(np.asarray(times_ms, dtype=float))
    if not len(gaps):
        return {"frames": len(times_ms), "median_gap_ms": None, "max_gap_ms": None}
    return {"frames": len(times_ms), "median_gap_ms": round(float(np.median(gaps)), 1),
            "max_gap_ms": round(float(gaps.max()), 1)}


def _actions_liveness(job: VerifyJob, images, times_ms, out: VerifyResult,
                      pipeline, track, embeddings: dict[int, Future]) -> Reason | None:
    from .actions import analyse_action_clip

    assert job.actions is not None                 # VerifyJob refuses an actions job without
    verdict = analyse_action_clip(
        images, times_ms, list(job.actions.actions), timeout_ms=job.actions.timeout_ms,
        eyes_open_required=job.eyes_open_required, face_replace_check=job.face_replace_check,
        detector=pipeline.detector, mesher=pipeline.mesher, embedder=pipeline.embedder,
        track=track, embedded={index: future.result() for index, future in embeddings.items()})
    out.liveness = {"method": "actions", "reason": verdict.reason,
                    "planarity": verdict.planarity,
                    "events": [[e.action, e.start_ms, e.end_ms] for e in verdict.events],
                    "pacing": capture_pacing(times_ms)}
    out.checks = _action_checks(job, verdict.reason)
    return None if verdict.passed else ACTION_REASONS[verdict.reason]


def _action_checks(job: VerifyJob, reason: str) -> dict:
    """The checks an action clip's verdict reached, in analyse_action_clip's order (face
    replacement and eyes when asked, planarity, the actions), up to the one that failed.
    A clip without a face reached none."""
    if reason == "NO_FACE":
        return {}
    order = ([Check.FACE_REPLACE] if job.face_replace_check else []) + (
        [Check.EYES] if job.eyes_open_required else []) + [Check.PLANARITY, Check.ACTIONS]
    failed = ACTION_FAILED_CHECKS.get(reason)
    checks = {}
    for check in order:
        checks[check.value] = FAILED if check == failed else PASSED
        if check == failed:
            break
    return checks


def _flash_liveness(job: VerifyJob, images, times_ms, out: VerifyResult,
                    track) -> Reason | None:
    from .actions import EYES_OPEN_EAR, eye_aspect_ratio
    from .flash import FlashChallenge, FlashSegment, analyse_flash

    assert job.flash is not None                   # VerifyJob refuses a flash job without
    flash = FlashChallenge(tuple(FlashSegment(c, s, e) for c, s, e in job.flash.colours))
    # the face is still during a flash clip: the first frame's box (the detector's) holds
    verdict = analyse_flash(images, times_ms, flash, box=track.first.box)
    out.liveness = {"method": "flash", "reason": verdict.reason,
                    "correlation": round(verdict.correlation, 3),
                    "lag_ms": round(verdict.lag_ms, 1), "pacing": capture_pacing(times_ms)}
    if "trace" in verdict.details:        # absent when no face was found
        out.liveness["trace"] = verdict.details["trace"]
    if verdict.reason == "NO_FACE":
        return Reason.NO_FACE
    out.checks[Check.FLASH.value] = PASSED if verdict.passed else FAILED
    if not verdict.passed:
        return Reason.PRESENTATION_ATTACK
    # eyes open on some tracked frame (the best-frame candidates, spread over the clip)
    if job.eyes_open_required:
        eyes_open = any(eye_aspect_ratio(points) >= EYES_OPEN_EAR
                        for points in track.landmarks.values())
        out.checks[Check.EYES.value] = PASSED if eyes_open else FAILED
        if not eyes_open:
            return Reason.EYES_CLOSED
    return None


def photos_embed(photos: dict[str, bytes]) -> tuple[dict[str, list[float]], Reason | None]:
    """Embeddings of reference photos that arrive at verify (the KYC data source's photo):
    ({name: embedding}, None), or ({}, why not)."""
    pipeline = perception()
    vectors = {}
    for name, photo in photos.items():
        try:
            rgb = load_rgb(photo)
        except Exception:  # noqa: BLE001 - any undecodable picture from a data source
            return {}, Reason.REFERENCE_UNREADABLE
        analysis = pipeline.analyze(rgb, multi_oriented=True, proposed=True)
        if analysis.largest is None:
            return {}, Reason.REFERENCE_WITHOUT_FACE
        vectors[name] = list(pipeline.embedder.embed(analysis.detection.image,
                                                     analysis.largest.face))
    return vectors, None


def probe_compare(probe: list[float], references: dict[str, list[float]], *,
                  far: str) -> VerifyResult:
    """No capture: the client's own photo (embedded when the session began) against the
    references."""
    pipeline = perception()
    comparisons = comparisons_of(probe, references, model=pipeline.embedder.name)
    return VerifyResult(comparison_reason(comparisons, far), comparisons=comparisons,
                        liveness={"method": "none (the client's own photo)"})
