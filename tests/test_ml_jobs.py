"""ml/ speaks its own language: verification takes a typed job and returns a typed result with
ml's own reasons; the one table in apps/faceid/results.py names each reason in the contract's
words, and no module of ml/ names a vendor result."""

import base64
import json
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from apps.faceid.results import (
    LIVENESS_CHECKS,
    LIVENESS_LEVEL_STEPS,
    REASON_RESULTS,
    RESULT_CODES,
    SECURITY_LEVEL_FAR,
    pad_level_of,
)
from ml.jobs import (
    FAR_LEVELS,
    JOB_WIRE_MAGIC,
    PAD_LEVELS,
    ActionChallenge,
    FlashSequence,
    LivenessCheck,
    Reason,
    VerifyJob,
    VerifyResult,
)

ML = Path(__file__).resolve().parent.parent / "ml"


def test_every_reason_has_one_contract_result_with_a_code():
    assert set(REASON_RESULTS) == set(Reason)
    assert all(name in RESULT_CODES for name in REASON_RESULTS.values())
    assert set(LIVENESS_CHECKS.values()) == set(LivenessCheck)
    assert set(SECURITY_LEVEL_FAR.values()) == set(FAR_LEVELS)


def test_no_ml_module_names_a_vendor_result_or_form_value():
    vendor_words = set(RESULT_CODES) | {"raw_image", "meglive", "security_level",
                                        "force_compare", "eyes_close_detection",
                                        "liveness_level", "device_risk", "maximum_brightness"}
    found = {}
    for path in ML.rglob("*.py"):
        words = set(re.findall(r"[A-Za-z_]+", path.read_text()))
        if hit := sorted(words & vendor_words):
            found[str(path.relative_to(ML))] = hit
    assert found == {}


@pytest.mark.parametrize("security_level, liveness_level, pad_level", [
    ("1", "0", 1), ("2", "0", 2), ("3", "0", 3), ("4", "0", 4),      # strict: today's point
    ("1", "1", 1), ("2", "1", 1), ("3", "1", 2), ("4", "1", 3),      # standard: one lower
    ("1", "2", 1), ("2", "2", 1), ("3", "2", 1), ("4", "2", 2),      # fast: two, never below 1
])
def test_liveness_level_moves_only_the_passive_operating_point(security_level, liveness_level,
                                                              pad_level):
    assert set(LIVENESS_LEVEL_STEPS) == {"0", "1", "2"}
    assert pad_level_of(security_level, liveness_level) == pad_level
    assert pad_level in PAD_LEVELS


def test_a_job_travels_as_bytes_unchanged():
    job = VerifyJob(check=LivenessCheck.ACTIONS, references={"ref1": [0.1, -0.2]},
                    far="1e-5", pad_level=3, pad_threshold=0.4,
                    frames=(b"\xff\xd8one", b"\xff\xd8two"), times_ms=(0.0, 33.5),
                    photos={"idcard": b"\x89PNG", "image_ref2": b""},
                    actions=ActionChallenge(("blink", "turn_left"), 10000.0),
                    eyes_open_required=True, single_face_required=True)
    assert VerifyJob.from_bytes(job.to_bytes()) == job
    flash = VerifyJob(check=LivenessCheck.FLASH, references={}, frames=(b"x",), times_ms=(1.0,),
                      flash=FlashSequence((("red", 0, 400), ("blue", 400, 900))))
    assert VerifyJob.from_bytes(flash.to_bytes()) == flash
    # the pictures travel as they are, not as base64 text
    assert len(job.to_bytes()) < len(json.dumps(asdict(job), default=str)) + 64
    assert b"\xff\xd8one\xff\xd8two\x89PNG" in job.to_bytes()
    result = VerifyResult(Reason.ACTION_LATE, frames=2, liveness={"method": "actions"})
    assert VerifyResult.from_dict(result.as_dict()) == result
    assert result.as_dict()["reason"] == "action_late"


@pytest.mark.parametrize("bad,message", [
    ({"far": "1e-2"}, "far"), ({"pad_level": 5}, "pad_level"),
    ({"times_ms": (1.0, 2.0)}, "one time per frame"),
    ({"check": LivenessCheck.ACTIONS}, "ActionChallenge"),
    ({"check": LivenessCheck.FLASH}, "FlashSequence"),
    ({"check": LivenessCheck.NONE}, "probe"),
])
def test_a_job_that_cannot_be_judged_is_refused_when_made(bad, message):
    fields = {"check": LivenessCheck.STILL, "references": {}, "frames": (b"x",),
              "times_ms": (0.0,), **bad}
    with pytest.raises(ValueError, match=message):
        VerifyJob(**fields)


def test_the_job_types_load_without_numpy_torch_or_django():
    """The web imports them to build jobs: they must not pull a model library in."""
    code = ("import sys, ml.jobs; "
            "print(sorted(m for m in ('numpy', 'torch', 'cv2', 'django') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ML.parent, check=True)
    assert out.stdout.strip() == "[]"


def test_a_worker_reads_the_json_job_an_older_web_queued():
    """Until 2026-12-07 the web wrote a job as JSON with base64 pictures: a worker upgraded
    before the web still reads one."""
    job = VerifyJob(check=LivenessCheck.ACTIONS, references={"ref1": [0.5]},
                    frames=(b"\xff\xd8one",), times_ms=(12.0,), photos={"idcard": b"\x89PNG"},
                    actions=ActionChallenge(("nod", "blink"), 8000.0))
    older = asdict(job)
    older["frames"] = [base64.b64encode(f).decode() for f in job.frames]
    older["photos"] = {k: base64.b64encode(v).decode() for k, v in job.photos.items()}
    assert VerifyJob.from_bytes(json.dumps(older).encode()) == job


def test_bytes_that_are_not_a_whole_job_are_refused():
    whole = VerifyJob(check=LivenessCheck.STILL, references={}, frames=(b"abc", b"defg"),
                      times_ms=(0.0, 1.0)).to_bytes()
    def wire(header, tail: bytes = b"") -> bytes:
        text = json.dumps(header).encode()
        return JOB_WIRE_MAGIC + len(text).to_bytes(4, "big") + text + tail

    header = json.loads(whole[10:10 + int.from_bytes(whole[6:10], "big")])
    assert VerifyJob.from_bytes(wire(header, b"abcdefg")).frames == (b"abc", b"defg")
    for broken in (whole[:-1], whole + b"x", b"VJOB2\n" + whole[6:], b"", b"not a job",
                   JOB_WIRE_MAGIC + (10**6).to_bytes(4, "big") + b"{}",   # header past the end
                   wire([1, 2]),                                          # not an object
                   wire({**header, "frame_sizes": [-3, 10]}, b"abcdefg"),  # a negative size
                   wire({**header, "frame_sizes": ["3", 4]}, b"abcdefg"),
                   wire({**header, "frame_sizes": [3.0, 4]}, b"abcdefg"),
                   wire({k: v for k, v in header.items() if k != "frame_sizes"}, b"abcdefg"),
                   wire({**header, "photo_sizes": [0]}, b"abcdefg"),
                   wire({**header, "unknown": 1}, b"abcdefg"),
                   json.dumps({"frames": 1}).encode()):                   # the older JSON, broken
        with pytest.raises(ValueError):
            VerifyJob.from_bytes(broken)
