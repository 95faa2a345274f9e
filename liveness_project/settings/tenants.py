"""apps/tenants: how API apps prove who they are, and how long their limits hold."""

from .env import env_int, env_list

# A FaceID signature whose current_time lies further than this in the future is refused (clock
# skew).
SIGN_CLOCK_SKEW_SECONDS = env_int("SIGN_CLOCK_SKEW_SECONDS", 300)
# A one-time signature (expire_time=0) is accepted only this long after its current_time; its
# use is remembered for at least as long so that a replay is always recognised.
ONE_TIME_SIGN_MAX_AGE_SECONDS = env_int("ONE_TIME_SIGN_MAX_AGE_SECONDS", 300)
# x-ca-timestamp (ms, the single-image APIs) must lie within this many seconds of our clock.
XCA_TIMESTAMP_WINDOW_SECONDS = env_int("XCA_TIMESTAMP_WINDOW_SECONDS", 300)
# An in-flight request holds a concurrency slot at most this long, even if its process died.
CONCURRENCY_SLOT_TTL_SECONDS = env_int("CONCURRENCY_SLOT_TTL_SECONDS", 120)
# Failed authentication per source (apps/tenants/throttle.py): this many INVALID_SIGN refusals
# from one address within one window, and the address is refused until the window ends.
AUTH_FAILURES_PER_WINDOW = env_int("AUTH_FAILURES_PER_WINDOW", 20)
AUTH_FAILURE_WINDOW_SECONDS = env_int("AUTH_FAILURE_WINDOW_SECONDS", 60)
# Addresses never throttled (an app's own servers behind a NAT shared with untrusted callers).
AUTH_THROTTLE_EXEMPT_NETWORKS = env_list("AUTH_THROTTLE_EXEMPT_NETWORKS", "")
