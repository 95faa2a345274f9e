"""A fresh Python process that loads and warms every model as a worker process does at start
(liveness_project/celery.py), then runs a few lines: for what only a new process shows (which
packages a worker imports, what it finds on disk)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OBAMA = REPO / "fixtures" / "photos" / "obama.jpg"


def warmed_worker_prints(lines: str, *, env: dict[str, str] | None = None) -> str:
    """The last line `lines` printed, run after `models` (the process's Perception, loaded
    and warmed) and `picture` (obama.jpg) are set; `sys` is imported."""
    script = ("import sys\n"
              "from ml.image import load_rgb\n"
              "from ml.pipeline import perception\n"
              "models = perception()\n"
              "models.warm()\n"
              f"picture = load_rgb({str(OBAMA)!r})\n" + lines)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=300, check=True)
    return done.stdout.splitlines()[-1]
