"""Limits of the FaceID-style surface (seed 003 and SPEC.md)."""

from .env import env_float, env_int, env_str

# Lifetime of a biz_token and its session in Redis.
BIZ_TOKEN_TTL_SECONDS = env_int("BIZ_TOKEN_TTL_SECONDS", 3600)
# Whole request body limit of the vendor contract (413 "Request Entity Too Large" above it), and
# of every path whose view does not limit its own body (apps/core/middleware.py).
FACEID_MAX_REQUEST_BYTES = env_int("FACEID_MAX_REQUEST_BYTES", 20 * 1024 * 1024)

# How many times the SDK may start (fetch a challenge for) one biz_token: MORE_RETRY_TIMES after.
SDK_MAX_ATTEMPTS = env_int("SDK_MAX_ATTEMPTS", 3)
# get_liveness_video media are deleted this many days after their verify.
LIVENESS_MEDIA_RETENTION_DAYS = env_int("LIVENESS_MEDIA_RETENTION_DAYS", 7)
# The KYC data source (comparison_type=1): a class with `lookup(name=, id_number=)`.
IDENTITY_DATA_SOURCE = env_str("IDENTITY_DATA_SOURCE", "apps.identity.sources.RegistryDataSource")

# FaceID Lite (the web / H5 flow, docs/WEB.md). Results are readable this long after get_token
# and at most this many times (the vendor's one day and three reads).
LITE_RESULT_RETENTION_SECONDS = env_int("LITE_RESULT_RETENTION_SECONDS", 24 * 3600)
LITE_RESULT_MAX_READS = env_int("LITE_RESULT_MAX_READS", 3)
# notify_url is called by our server, so it must lead to a public address unless it lies in
# these networks (CIDRs, comma-separated; empty = public addresses only), and its host must
# resolve within this many seconds at get_token.
LITE_NOTIFY_ALLOWED_NETWORKS = env_str("LITE_NOTIFY_ALLOWED_NETWORKS", "")
LITE_NOTIFY_RESOLVE_TIMEOUT_SECONDS = env_float("LITE_NOTIFY_RESOLVE_TIMEOUT_SECONDS", 3.0)
# The notify_url callback (docs/WEB.md): a POST waits at most LITE_NOTIFY_TIMEOUT_SECONDS in
# all; a failed one is tried again LITE_NOTIFY_FIRST_RETRY_SECONDS later, each later wait
# LITE_NOTIFY_BACKOFF_FACTOR times the one before, up to LITE_NOTIFY_MAX_ATTEMPTS attempts (6:
# at 0 s, 30 s, 2 min, 6.5 min, 20 min and 1 h after the result). LITE_NOTIFY_QUEUE names the
# Celery queue of the deliveries; empty: the deployment's one queue (CELERY_QUEUE).
LITE_NOTIFY_TIMEOUT_SECONDS = env_float("LITE_NOTIFY_TIMEOUT_SECONDS", 10.0)
LITE_NOTIFY_MAX_ATTEMPTS = env_int("LITE_NOTIFY_MAX_ATTEMPTS", 6)
LITE_NOTIFY_FIRST_RETRY_SECONDS = env_float("LITE_NOTIFY_FIRST_RETRY_SECONDS", 30.0)
LITE_NOTIFY_BACKOFF_FACTOR = env_float("LITE_NOTIFY_BACKOFF_FACTOR", 3.0)
LITE_NOTIFY_QUEUE = env_str("LITE_NOTIFY_QUEUE", "")
