"""The operator's review of one verification (docs/ADMIN.md): what the page shows of a record,
the face picture served under its own permission with an audit row, the operator's verdict,
and the CSV rows of the record list. The admin (apps/faceid/admin.py) only calls these."""

import base64
import json
from dataclasses import dataclass
from html import escape

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery

from apps.core.crypto import DecryptionError, decrypt_bytes
from apps.core.net import ip_or_none
from ml.jobs import FAR_LEVELS, FLASH_COLOURS

from .models import BizTokenRecord, FaceImageView, OperatorVerdict, VerificationRecord
from .results import SECURITY_LEVEL_FAR, checks_in_order

FACE_IMAGES_PERMISSION = "faceid.view_face_images"
VERDICT_PERMISSION = "faceid.add_operatorverdict"
BEST_FRAME = "best_frame"
FRAME_STRIP = "frame_strip"
# get_biz_token's photos, whose face crops the token record keeps (not the photos themselves)
REFERENCE_IMAGES = ("image_ref1", "image_ref2", "image")
# The pictures of a record that the review may serve, each by this name in its URL and in the
# audit log.
FACE_IMAGES = (BEST_FRAME, FRAME_STRIP, *REFERENCE_IMAGES)


class NoSuchImage(Exception):
    """The record keeps no such picture (or it cannot be decrypted with this key)."""


def may_view_face_images(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(FACE_IMAGES_PERMISSION))


def may_set_verdict(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(VERDICT_PERMISSION))


def face_image_serve(*, user, record: VerificationRecord, image: str,
                     client_ip: str | None) -> bytes:
    """The picture's JPEG bytes for a user holding the permission, after its audit row is
    written (in that order: a picture that leaves is always in the log)."""
    if not may_view_face_images(user):
        raise PermissionDenied
    jpeg = _face_image(record, image)
    FaceImageView.objects.create(user=user, username=user.get_username(), record=record,
                                 image=image, client_ip=ip_or_none(client_ip))
    return jpeg


def _face_image(record: VerificationRecord, image: str) -> bytes:
    """The JPEG bytes of one of the record's FACE_IMAGES, decrypted; NoSuchImage when it keeps
    none by that name."""
    if image in REFERENCE_IMAGES:
        face = reference_faces(record).get(image)
        if face is None:
            raise NoSuchImage(image)
        return base64.b64decode(face)
    sealed = {BEST_FRAME: record.best_frame_encrypted,
              FRAME_STRIP: record.frame_strip_encrypted}.get(image)
    if not sealed:
        raise NoSuchImage(image)
    try:
        return decrypt_bytes(bytes(sealed))
    except DecryptionError:
        raise NoSuchImage(image) from None


def reference_faces(record: VerificationRecord) -> dict[str, str]:
    """{reference name: base64 JPEG} of the face crops the record's token record keeps; empty
    when none (a token issued before they were kept, no photo sent, or a key that no longer
    opens them)."""
    token = BizTokenRecord.objects.filter(biz_token=record.biz_token).only(
        "reference_faces_encrypted").first()
    if token is None or not token.reference_faces_encrypted:
        return {}
    try:
        return json.loads(decrypt_bytes(bytes(token.reference_faces_encrypted)))
    except DecryptionError:
        return {}


def verdict_set(*, user, record: VerificationRecord, verdict: str,
                note: str) -> OperatorVerdict:
    """A new verdict on the record by this user (the earlier ones are kept)."""
    if not may_set_verdict(user):
        raise PermissionDenied
    if verdict not in OperatorVerdict.Verdict.values:
        raise ValueError(f"verdict must be one of {OperatorVerdict.Verdict.values}")
    return OperatorVerdict.objects.create(record=record, verdict=verdict, note=note.strip(),
                                          user=user, username=user.get_username())


def verdict_current(record: VerificationRecord) -> OperatorVerdict | None:
    return record.operator_verdicts.order_by("-created_at", "-id").first()


# --- what the review page shows ---------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    reference: str
    confidence: float
    words: str            # "passes 1e-3, 1e-4; fails 1e-5, 1e-6"
    passes_own_level: bool


def comparisons_in_words(record: VerificationRecord) -> list[Comparison]:
    """Each comparison's confidence against each FAR threshold, said in words; and whether it
    reaches the threshold of the record's own security level (the one verify applied)."""
    own = SECURITY_LEVEL_FAR.get(record.security_level, "1e-4")
    out = []
    for name, comparison in sorted((record.confidences or {}).items()):
        confidence, thresholds = comparison.get("confidence"), comparison.get("thresholds", {})
        if confidence is None:
            continue
        passes = [far for far in FAR_LEVELS if far in thresholds and confidence >= thresholds[far]]
        fails = [far for far in FAR_LEVELS if far in thresholds and far not in passes]
        words = "; ".join(part for part in (
            "passes " + ", ".join(passes) if passes else "",
            "fails " + ", ".join(fails) if fails else "") if part)
        out.append(Comparison(name, confidence, words, own in passes))
    return out


@dataclass(frozen=True)
class ActionStep:
    asked: str
    detected: str         # the action seen, or "-"
    start_ms: float | None
    end_ms: float | None
    outcome: str          # "done", "late", "not seen"


def action_steps(liveness: dict) -> list[ActionStep]:
    """The actions asked, in order, each with the detected event that answered it: the first
    event of that action starting after the previous answer ended, as ml/actions.py
    verify_actions pairs them; late when it started more than the time limit after."""
    asked = (liveness.get("challenge") or {}).get("actions") or []
    timeout_s = (liveness.get("challenge") or {}).get("action_timeout_s")
    events = [(a, float(s), float(e)) for a, s, e in liveness.get("events") or []]
    steps, previous_end = [], None
    for action in asked:
        found = [(a, s, e) for a, s, e in events
                 if a == action and (previous_end is None or s >= previous_end)]
        if not found:
            steps.append(ActionStep(action, "-", None, None, "not seen"))
            continue
        _, start, end = found[0]
        late = (previous_end is not None and timeout_s is not None
                and start - previous_end > float(timeout_s) * 1000)
        steps.append(ActionStep(action, action, start, end, "late" if late else "done"))
        previous_end = end
    return steps


def pad_frames(record: VerificationRecord) -> list[dict]:
    """The passive decision per judged frame, when it judged several (a still burst):
    [{index, live}] from the record's `passive`."""
    return list((record.passive or {}).get("frames") or [])


def flash_plot_svg(liveness: dict, *, width: int = 560, height: int = 180) -> str | None:
    """The flash colours asked (bands, shifted by the lag the analyser found) against the
    face's observed colour trace (log R/G and log B/G, mean removed): a small inline SVG made
    here, no script. None when the record holds no trace or no colours."""
    colours = (liveness.get("challenge") or {}).get("colours") or []
    trace = liveness.get("trace") or []
    if not colours or not trace:
        return None
    lag = float(liveness.get("lag_ms") or 0)
    end = max(max(float(c[2]) + lag for c in colours), max(float(p[0]) for p in trace), 1.0)
    left, top, plot_w, plot_h = 40, 10, width - 50, height - 40
    span = max(max(abs(float(p[1])), abs(float(p[2]))) for p in trace) or 1.0

    def x(t: float) -> float:
        return left + plot_w * t / end

    def y(v: float) -> float:
        return top + plot_h / 2 - (plot_h / 2) * v / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" class="flash-plot"><title>flash colours asked against the face\'s '
             f'observed colour</title>']
    for name, start, stop in colours:
        # the challenge's colour names are CSS colour names too (ml/jobs.py FLASH_COLOURS)
        fill = name if name in FLASH_COLOURS else "grey"
        parts.append(f'<rect x="{x(float(start) + lag):.1f}" y="{top}" '
                     f'width="{x(float(stop) + lag) - x(float(start) + lag):.1f}" '
                     f'height="{plot_h}" fill="{fill}" fill-opacity="0.25">'
                     f'<title>{escape(str(name))} {start}-{stop} ms (+{lag:.0f} ms lag)</title>'
                     '</rect>')
    parts.append(f'<line x1="{left}" y1="{y(0):.1f}" x2="{left + plot_w}" y2="{y(0):.1f}" '
                 'stroke="#999" stroke-dasharray="3,3"/>')
    for column, stroke, label in ((1, "#c0392b", "log R/G"), (2, "#2c3e91", "log B/G")):
        points = " ".join(f"{x(float(p[0])):.1f},{y(float(p[column])):.1f}" for p in trace)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{stroke}" '
                     f'stroke-width="1.5"><title>{label}</title></polyline>')
    parts.append(f'<text x="{left}" y="{height - 12}" font-size="11">0 ms</text>'
                 f'<text x="{left + plot_w - 50}" y="{height - 12}" font-size="11">'
                 f'{end:.0f} ms</text>'
                 f'<text x="{left + 60}" y="{height - 12}" font-size="11" fill="#c0392b">'
                 'log R/G</text>'
                 f'<text x="{left + 120}" y="{height - 12}" font-size="11" fill="#2c3e91">'
                 'log B/G</text></svg>')
    return "".join(parts)


def reference_summaries(record: VerificationRecord) -> dict:
    """What the token record keeps of the reference photos (format, size, sha256); their face
    crops are served apart (reference_faces), to those allowed."""
    token = BizTokenRecord.objects.filter(biz_token=record.biz_token).only(
        "reference_images").first()
    return dict(token.reference_images) if token is not None else {}


# An action clip whose frames came further apart than this (median) was filmed too sparsely
# to be sure of a quick nod or shake: 6 of 40 live three-action challenges failed at 150 ms,
# none at 100 (bench/action_draws.py --frame-gap-ms, docs/LIVENESS.md).
SPARSE_ACTION_GAP_MS = 140.0


def review_of(record: VerificationRecord, *, user) -> dict:
    """Everything the review page shows, for this user (the face only with the permission)."""
    liveness = record.liveness or {}
    views = record.face_image_views.order_by("-viewed_at", "-id")
    may_view_face = may_view_face_images(user)
    return {
        "may_view_face": may_view_face,
        "has_best_frame": bool(record.best_frame_encrypted),
        "references": reference_summaries(record),
        # only names leave here; the pictures are served (and audited) one by one
        "reference_faces": sorted(reference_faces(record)) if may_view_face else [],
        "has_strip": bool(record.frame_strip_encrypted),
        "strip": [{"index": index, "time_ms": time_ms, "width": width}
                  for index, time_ms, width in record.frame_strip or []],
        "method": liveness.get("method", ""),
        "liveness_reason": liveness.get("reason", ""),
        "challenge": liveness.get("challenge") or {},
        "action_steps": action_steps(liveness),
        "all_events": liveness.get("events") or [],
        "planarity": liveness.get("planarity"),
        "pacing": liveness.get("pacing") or {},
        "pacing_sparse": liveness.get("method") == "actions" and (
            (liveness.get("pacing") or {}).get("median_gap_ms") or 0) > SPARSE_ACTION_GAP_MS,
        "flash": {"correlation": liveness.get("correlation"), "lag_ms": liveness.get("lag_ms"),
                  "colours": (liveness.get("challenge") or {}).get("colours") or []},
        "flash_plot": flash_plot_svg(liveness),
        "attack_result": record.attack_result or {},
        "checks": checks_in_order((record.attack_result or {}).get("checks") or {}),
        "passive": record.passive or {},
        # only a still capture is decided by the passive decision (docs/SDK.md, verify)
        "passive_decides": record.liveness_type == "still",
        "pad_frames": pad_frames(record),
        "comparisons": comparisons_in_words(record),
        "security_far": SECURITY_LEVEL_FAR.get(record.security_level, ""),
        "verdict": verdict_current(record),
        "verdicts": list(record.operator_verdicts.order_by("-created_at", "-id")),
        "verdict_choices": OperatorVerdict.Verdict.choices,
        "may_set_verdict": may_set_verdict(user),
        "face_views": list(views[:20]),
        "face_view_count": views.count(),
    }


# --- the CSV of the record list -------------------------------------------------------------

def with_current_verdict(queryset):
    """The records with their latest verdict's fields annotated (one query for the list)."""
    latest = OperatorVerdict.objects.filter(record=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.select_related("app").annotate(
        verdict_now=Subquery(latest.values("verdict")[:1]),
        verdict_by=Subquery(latest.values("username")[:1]),
        verdict_at=Subquery(latest.values("created_at")[:1]),
        verdict_note=Subquery(latest.values("note")[:1]))


def _attack_result(field: str):
    return lambda record: (record.attack_result or {}).get(field)


def _passive(field: str):
    return lambda record: (record.passive or {}).get(field)


def _best_confidence(record: VerificationRecord) -> float | None:
    values = [c.get("confidence") for c in (record.confidences or {}).values()
              if c.get("confidence") is not None]
    return max(values) if values else None


def _comparisons(record: VerificationRecord) -> str:
    return " | ".join(f"{c.reference} {c.confidence}: {c.words}"
                      for c in comparisons_in_words(record))


# Scores, codes, times and ids: never a face picture, the secret of an app, or the KYC data
# (the record holds none of these in clear anyway). biz_token is listed: a record exists only
# once its session was consumed, after which the token opens nothing.
VERIFICATION_CSV_COLUMNS = [
    ("created_at", lambda r: r.created_at),
    ("app", lambda r: r.app.name),
    ("biz_token", lambda r: r.biz_token),
    ("biz_no", lambda r: r.biz_no),
    ("request_id", lambda r: r.request_id),
    ("liveness_type", lambda r: r.liveness_type),
    ("comparison_type", lambda r: r.comparison_type),
    ("security_level", lambda r: r.security_level),
    ("result_code", lambda r: r.result_code),
    ("result_message", lambda r: r.result_message),
    ("liveness_reason", lambda r: (r.liveness or {}).get("reason", "")),
    ("attack", _attack_result("result")),
    ("failed_check", _attack_result("failed_check")),
    ("passive_score", _passive("score")),
    ("passive_threshold", _passive("threshold")),
    ("passive_passed", _passive("passed")),
    ("best_confidence", _best_confidence),
    ("comparisons", _comparisons),
    ("frames", lambda r: r.frames),
    ("time_used_ms", lambda r: r.time_used_ms),
    ("model_ms", lambda r: r.model_ms),
    ("operator_verdict", lambda r: r.verdict_now),
    ("operator_verdict_by", lambda r: r.verdict_by),
    ("operator_verdict_at", lambda r: r.verdict_at),
    ("operator_note", lambda r: r.verdict_note),
]
