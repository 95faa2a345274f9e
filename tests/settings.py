"""Test settings: the real services of this machine, isolated by name.

PostgreSQL (pytest-django creates and drops its own test database) and the shared Redis,
with a key prefix unique to this run. The values go into the environment before the project
settings load, so servers the tests start as subprocesses inherit them.
"""

import os
import uuid

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("REDIS_KEY_PREFIX", f"test:{uuid.uuid4().hex[:12]}:")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 30)
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_QUEUE", f"test-{uuid.uuid4().hex[:12]}")
# Every test calls from 127.0.0.1 and many send wrong credentials on purpose: the per-source
# throttle (apps/tenants/throttle.py) is tested with its own small limit in test_throttle.py.
os.environ.setdefault("AUTH_FAILURES_PER_WINDOW", "1000000")

from liveness_project.settings import *  # noqa: E402,F401,F403
