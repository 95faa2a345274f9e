"""The single-image APIs of seeds 000, 001 and 002."""

from .env import env_float, env_int, env_str

# The largest body a single-image API reads (seed 001: a 20 MB picture as base64 in JSON); each
# contract refuses more in its own format (apps/single_image/contracts.py max_body_bytes).
SINGLE_IMAGE_MAX_REQUEST_BYTES = 30 * 1024 * 1024
# Seed 002's `url`: limits of the fetch, and networks allowed although not public (CIDRs,
# comma-separated; empty = public addresses only).
URL_FETCH_TIMEOUT_SECONDS = env_float("URL_FETCH_TIMEOUT_SECONDS", 10.0)
URL_FETCH_MAX_REDIRECTS = env_int("URL_FETCH_MAX_REDIRECTS", 3)
URL_FETCH_ALLOWED_NETWORKS = env_str("URL_FETCH_ALLOWED_NETWORKS", "")
