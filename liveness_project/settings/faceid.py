"""Limits of the FaceID-style surface (seed 003 and SPEC.md)."""

from .env import env_int, env_str

# Lifetime of a biz_token and its session in Redis.
BIZ_TOKEN_TTL_SECONDS = env_int("BIZ_TOKEN_TTL_SECONDS", 3600)
# A signature whose current_time lies further than this in the future is refused (clock skew).
SIGN_CLOCK_SKEW_SECONDS = env_int("SIGN_CLOCK_SKEW_SECONDS", 300)
# A one-time signature (expire_time=0) is accepted only this long after its current_time; its
# use is remembered for at least as long so that a replay is always recognised.
ONE_TIME_SIGN_MAX_AGE_SECONDS = env_int("ONE_TIME_SIGN_MAX_AGE_SECONDS", 300)
# Whole request body limit of the vendor contract (413 "Request Entity Too Large" above it).
FACEID_MAX_REQUEST_BYTES = env_int("FACEID_MAX_REQUEST_BYTES", 20 * 1024 * 1024)
# Longest side of an accepted image (INVALID_IMAGE_SIZE above it).
IMAGE_MAX_SIDE = env_int("IMAGE_MAX_SIDE", 4096)
# An in-flight request holds a concurrency slot at most this long, even if its process died.
CONCURRENCY_SLOT_TTL_SECONDS = env_int("CONCURRENCY_SLOT_TTL_SECONDS", 120)

# How many times the SDK may start (fetch a challenge for) one biz_token: MORE_RETRY_TIMES after.
SDK_MAX_ATTEMPTS = env_int("SDK_MAX_ATTEMPTS", 3)
# get_liveness_video media are deleted this many days after their verify.
LIVENESS_MEDIA_RETENTION_DAYS = env_int("LIVENESS_MEDIA_RETENTION_DAYS", 7)
# The KYC data source (comparison_type=1): a class with `lookup(name=, id_number=)`.
IDENTITY_DATA_SOURCE = env_str("IDENTITY_DATA_SOURCE", "apps.identity.sources.RegistryDataSource")

# Django must not refuse a 20 MB form before our own limit answers in the contract's shape.
DATA_UPLOAD_MAX_MEMORY_SIZE = FACEID_MAX_REQUEST_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
