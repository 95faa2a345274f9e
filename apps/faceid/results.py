"""verify's result codes: the SPEC's families, numbered within each (docs/SDK.md lists them),
and the one table that names the models' reasons (ml/jobs.py Reason) in the contract's words."""

from ml.jobs import FAILED, PAD_LEVELS, Check, LivenessCheck, Reason

RESULT_CODES = {
    "SUCCESS": 1000,
    "PASS_LIVING_NOT_THE_SAME": 2000,
    "NO_ID_CARD_NUMBER": 3000,
    "ID_NUMBER_NAME_NOT_MATCH": 3100,
    "NO_FACE_FOUND": 3200,
    "NO_ID_PHOTO": 3300,
    "PHOTO_FORMAT_ERROR": 3400,
    "DATA_SOURCE_ERROR": 3500,
    "FAIL_LIVING_FACE_ATTACK": 4100,
    "VIDEO_LACK_FRAMES": 4110,
    "FAIL_EYES_CLOSE_DETECTION": 4111,
    "REPLACED_FACE_ATTACK": 4112,
    "BIZ_TOKEN_DENIED": 4200,
    "USER_TIMEOUT": 4201,
    "ACTION_ERROR": 4202,
    "UNDETECTED_FACE": 4203,
    "MULTIPLE_FACES": 4204,
    "LIVING_NOT_START": 9000,
    "LIVING_IN_PROGRESS": 9100,
    "LIVING_OVERTIME": 9200,
}

# Why the models ended a verification -> the contract's result name. Every Reason has one.
REASON_RESULTS = {
    Reason.SAME_PERSON: "SUCCESS",
    Reason.OTHER_PERSON: "PASS_LIVING_NOT_THE_SAME",
    Reason.TOO_FEW_FRAMES: "VIDEO_LACK_FRAMES",
    Reason.NO_FACE: "UNDETECTED_FACE",
    Reason.SEVERAL_FACES: "MULTIPLE_FACES",
    Reason.PRESENTATION_ATTACK: "FAIL_LIVING_FACE_ATTACK",
    Reason.EYES_CLOSED: "FAIL_EYES_CLOSE_DETECTION",
    Reason.ACTION_MISSING: "ACTION_ERROR",
    Reason.ACTION_LATE: "USER_TIMEOUT",
    Reason.FACE_REPLACED: "REPLACED_FACE_ATTACK",
    Reason.REFERENCE_UNREADABLE: "PHOTO_FORMAT_ERROR",
    Reason.REFERENCE_WITHOUT_FACE: "NO_FACE_FOUND",
}

# The contract's options in ml's words (apps/faceid/verification.py builds the job with them).
LIVENESS_CHECKS = {"still": LivenessCheck.STILL, "meglive": LivenessCheck.ACTIONS,
                   "flash": LivenessCheck.FLASH, "raw_image": LivenessCheck.NONE}
SECURITY_LEVEL_FAR = {"1": "1e-3", "2": "1e-4", "3": "1e-5", "4": "1e-6"}
# liveness_level (seed 003: 0 strict, the default; 1 standard; 2 fast) -> how many of the
# passive decision's operating points (ml/jobs.py PAD_LEVELS, lenient 1 to strict 4) below the
# security level's own it sits. Only the passive operating point moves, never the FAR.
LIVENESS_LEVEL_STEPS = {"0": 0, "1": 1, "2": 2}


def pad_level_of(security_level: str, liveness_level: str) -> int:
    """The passive decision's operating point for a session's security_level and liveness_level:
    the security level's, made LIVENESS_LEVEL_STEPS more lenient, never below the lowest."""
    return max(min(PAD_LEVELS), int(security_level) - LIVENESS_LEVEL_STEPS[liveness_level])


# The web's own liveness check, judged before any model runs when a session asked for
# device_risk=1 (docs/API.md): it sits beside ml's (ml/jobs.py Check) in attack_result.
DEVICE_CHECK = "device"
# The checks whose failure is evidence of an attack, answered FAIL_LIVING_FACE_ATTACK (4100) or
# REPLACED_FACE_ATTACK (4112). A failed actions or eyes check is a person who did not do what was
# asked (USER_TIMEOUT, ACTION_ERROR, FAIL_EYES_CLOSE_DETECTION): not live, and not an attack.
# Every check in the order they are judged (the device report comes before any model): a
# record's checks are shown in it, since the database's JSON need not keep a mapping's order.
CHECK_ORDER = (DEVICE_CHECK, *(check.value for check in Check))
ATTACK_CHECKS = frozenset({Check.PASSIVE.value, Check.PLANARITY.value, Check.FLASH.value,
                           Check.FACE_REPLACE.value, DEVICE_CHECK})


def attack_result_of(checks: dict[str, str]) -> dict | None:
    """attack_result, in the answer and in the record alike: `checks`, each liveness check
    judged with "passed" or "failed" (in CHECK_ORDER; judging stops at the first failure);
    `failed_check`, the one that failed (else null); `result`, true when that check's failure
    means an attack (ATTACK_CHECKS), which is exactly when the result is 4100 or 4112 (or would
    have been, under force_compare). No score: the verdict is the contract, and a number would
    tell a device how close an attack came. None when no liveness check reached a verdict (too
    few frames, no face, several faces, no capture)."""
    if not checks:
        return None
    ordered = checks_in_order(checks)
    failed = next((name for name, outcome in ordered if outcome == FAILED), None)
    return {"result": failed in ATTACK_CHECKS, "failed_check": failed, "checks": dict(ordered)}


def checks_in_order(checks: dict[str, str]) -> list[tuple[str, str]]:
    """(check, outcome) in CHECK_ORDER, the order they were judged."""
    return sorted(checks.items(), key=lambda item: CHECK_ORDER.index(item[0]))
