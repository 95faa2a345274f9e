"""The single-image APIs of seeds 000, 001, 002 and the model work they wait for."""

from .env import env_float, env_int, env_str
from .faceid import FACEID_MAX_REQUEST_BYTES

# How long a web request waits for a worker's analysis before answering "try again".
ANALYSIS_TIMEOUT_SECONDS = env_float("ANALYSIS_TIMEOUT_SECONDS", 20.0)
# How long verify waits for a worker to judge a capture (redelivery after a lost worker included).
VERIFY_TIMEOUT_SECONDS = env_float("VERIFY_TIMEOUT_SECONDS", 60.0)
# A picture waits in Redis for its task at most this long.
ANALYSIS_IMAGE_TTL_SECONDS = env_int("ANALYSIS_IMAGE_TTL_SECONDS", 120)
# Our operating points on the PAD model's probabilities: P(live) at or above PAD_LIVE_THRESHOLD
# is live; P(blend) at or above PAD_SYNTHETIC_THRESHOLD is a synthetic picture. Each API maps
# these onto its vendor's published threshold (docs/API.md, "Scores on the vendors' scales").
PAD_LIVE_THRESHOLD = env_float("PAD_LIVE_THRESHOLD", 0.5)
PAD_SYNTHETIC_THRESHOLD = env_float("PAD_SYNTHETIC_THRESHOLD", 0.5)
# x-ca-timestamp (ms) must lie within this many seconds of the server's clock.
XCA_TIMESTAMP_WINDOW_SECONDS = env_int("XCA_TIMESTAMP_WINDOW_SECONDS", 300)
# Seed 002's `url`: limits of the fetch, and networks allowed although not public (CIDRs,
# comma-separated; empty = public addresses only).
URL_FETCH_TIMEOUT_SECONDS = env_float("URL_FETCH_TIMEOUT_SECONDS", 10.0)
URL_FETCH_MAX_REDIRECTS = env_int("URL_FETCH_MAX_REDIRECTS", 3)
URL_FETCH_ALLOWED_NETWORKS = env_str("URL_FETCH_ALLOWED_NETWORKS", "")

# Seed 001 takes pictures up to 20 MB as base64 in JSON (~27 MB): Django must let such a body
# through to the view, which answers oversized ones in the contract's own format.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(FACEID_MAX_REQUEST_BYTES, 30 * 1024 * 1024) + 1024 * 1024
