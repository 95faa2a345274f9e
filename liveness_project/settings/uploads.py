"""How much of a request Django itself will hold, and the largest picture, set once for every
surface.

The FaceID surface (FACEID_MAX_REQUEST_BYTES, 20 MB forms) and the single-image APIs (seed 001
takes a 20 MB picture as base64 in JSON, ~27 MB) answer oversized bodies themselves, in their
contracts' formats; Django must let their largest legal body through to them rather than
refuse it first with its own page.
"""

from .env import env_int
from .faceid import FACEID_MAX_REQUEST_BYTES
from .single_image import SINGLE_IMAGE_MAX_REQUEST_BYTES

DATA_UPLOAD_MAX_MEMORY_SIZE = (max(FACEID_MAX_REQUEST_BYTES, SINGLE_IMAGE_MAX_REQUEST_BYTES)
                               + 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
# Longest side of an accepted image on every surface (FaceID: INVALID_IMAGE_SIZE above it).
IMAGE_MAX_SIDE = env_int("IMAGE_MAX_SIDE", 4096)
# What the web process still reads of a body its view left unread (apps/core/transport.py), so
# that a client sending its whole body before reading gets the answer rather than a broken pipe.
UNREAD_BODY_DRAIN_BYTES = env_int("UNREAD_BODY_DRAIN_BYTES", 64 * 1024 * 1024)
UNREAD_BODY_DRAIN_SECONDS = 5.0
