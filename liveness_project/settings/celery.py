from .base import REDIS_URL
from .env import env_bool, env_int, env_str

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Model tasks are heavy: a worker takes one at a time and acknowledges it only when done, so a
# task of a worker that dies is delivered again.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Keep Django's LOGGING (JSON lines with request_id) in worker processes too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# One queue name per deployment, so two deployments (or a test run) can share a Redis.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "liveness")
# A message taken by a worker that then vanished entirely (machine lost, SIGKILL of the whole
# worker) is handed out again after this many seconds. A pool process killed mid-task is
# noticed by its parent at once (CELERY_TASK_REJECT_ON_WORKER_LOST) and needs no wait.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 300)}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
# Media kept for get_liveness_video are purged by this periodic task (the worker's beat).
CELERY_BEAT_SCHEDULE = {
    "liveness-media-purge": {"task": "faceid.media_purge", "schedule": 3600.0},
    "spent-signatures-purge": {"task": "tenants.spent_signatures_purge", "schedule": 3600.0},
    "lost-sessions-settle": {"task": "faceid.lost_sessions_settle", "schedule": 300.0},
}
# A pool process loads every model before it reports up (worker_process_init); Celery's default
# 4 s is less than that on a busy machine, and a replacement process (after a crash) would be
# killed and replaced again forever. Seen in CI after a pool process was killed mid-task.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env_int("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 180)
