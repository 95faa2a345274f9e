"""What the SDK must show or do in a session: made when the SDK starts (POST .../sdk/start).

The web draws challenges with `secrets`; the vocabulary (actions, colours) and the flash
sequence generator are the analysers' own (ml/jobs.py, standard library only: no model code).
"""

import secrets
import time
import uuid

from ml.jobs import ACTIONS, POSE_ACTIONS, flash_sequence_new

FLASH_SEGMENTS = 6
FLASH_SEGMENT_MS = (350, 650)
# After the capture's own time, how long the SDK has to upload and the server to be called.
VERIFY_GRACE_SECONDS = 600


def challenge_new(meta: dict) -> dict:
    """A fresh challenge for the session's liveness type and options."""
    options = meta["options"]
    liveness_type = meta["liveness_type"]
    challenge = {
        "challenge_id": uuid.uuid4().hex,
        "liveness_type": liveness_type,
        "issued_at": int(time.time()),
        "liveness_timeout_s": int(options.get("liveness_timeout", 60)),
        "eyes_close_detection": options.get("eyes_close_detection", "0"),
        "multiple_faces_detection": options.get("multiple_faces_detection", "0"),
        "liveness_level": options.get("liveness_level", "0"),
        "maximum_brightness": options.get("maximum_brightness", "0"),
        "get_liveness_video": options.get("get_liveness_video", "0"),
    }
    if liveness_type == "meglive":
        count = int(options.get("liveness_action_count", 3))
        actions = [secrets.choice(POSE_ACTIONS)]
        pool = [a for a in ACTIONS if a not in actions]
        while len(actions) < count:  # distinct actions
            actions.append(pool.pop(secrets.randbelow(len(pool))))
        for i in range(len(actions) - 1, 0, -1):  # in random order
            j = secrets.randbelow(i + 1)
            actions[i], actions[j] = actions[j], actions[i]
        challenge.update(actions=actions, action_timeout_s=challenge["liveness_timeout_s"])
        capture_s = count * challenge["liveness_timeout_s"]
    elif liveness_type == "flash":
        sequence = flash_sequence_new(secrets.randbelow, count=FLASH_SEGMENTS,
                                      min_ms=FLASH_SEGMENT_MS[0], max_ms=FLASH_SEGMENT_MS[1])
        challenge.update(colours=[list(segment) for segment in sequence.colours],
                         flash_timeout_s=int(options.get("flash_liveness_timeout", 120)))
        capture_s = challenge["flash_timeout_s"]
    else:
        capture_s = challenge["liveness_timeout_s"]
    challenge["verify_by"] = challenge["issued_at"] + capture_s + VERIFY_GRACE_SECONDS
    return challenge
