"""apps/analysis: the model work on workers that web requests wait for, and the operating
points every surface reads the passive decision at."""

from .env import env_float, env_int

# How long a web request waits for a worker's analysis before answering "try again".
ANALYSIS_TIMEOUT_SECONDS = env_float("ANALYSIS_TIMEOUT_SECONDS", 20.0)
# How long verify waits for a worker to judge a capture (redelivery after a lost worker included).
VERIFY_TIMEOUT_SECONDS = env_float("VERIFY_TIMEOUT_SECONDS", 60.0)
# Each worker beats every WORKER_HEARTBEAT_SECONDS; one silent for WORKER_STALE_AFTER_SECONDS
# is not counted (apps/analysis/workers.py): without a counted worker, model work fails at once.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 5.0)
WORKER_STALE_AFTER_SECONDS = env_float("WORKER_STALE_AFTER_SECONDS", 20.0)
# A picture waits in Redis for its task at most this long.
ANALYSIS_IMAGE_TTL_SECONDS = env_int("ANALYSIS_IMAGE_TTL_SECONDS", 120)
# Our operating points on the passive decision's probabilities: P(live) at or above
# PAD_LIVE_THRESHOLD is live; P(blend) at or above PAD_SYNTHETIC_THRESHOLD is a synthetic
# picture. Each single-image API maps these onto its vendor's published threshold
# (docs/SINGLE_IMAGE.md, "Scores on the vendors' scales"); verify reads the first at security
# level 2.
PAD_LIVE_THRESHOLD = env_float("PAD_LIVE_THRESHOLD", 0.5)
PAD_SYNTHETIC_THRESHOLD = env_float("PAD_SYNTHETIC_THRESHOLD", 0.5)
