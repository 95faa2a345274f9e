"""verify's result codes: the SPEC's families, numbered within each (docs/SDK.md lists them),
and the one table that names the models' reasons (ml/jobs.py Reason) in the contract's words."""

from ml.jobs import PAD_LEVELS, LivenessCheck, Reason

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
