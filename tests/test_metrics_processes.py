"""/metrics under gunicorn: every web process writes its own file (PROMETHEUS_MULTIPROC_DIR),
and a scrape may land on any of them."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SET_GAUGES = """
import sys
from apps.core.metrics import QUEUE_DEPTH, WORKERS_ALIVE
QUEUE_DEPTH.set(float(sys.argv[1]))
WORKERS_ALIVE.set(float(sys.argv[2]))
"""

EXPOSE = """
from apps.core.metrics import metrics_exposition
print(metrics_exposition()[0].decode())
"""


def _python(code: str, *args: str, metrics_dir: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True).stdout


def _value(exposition: str, name: str) -> float:
    return next(float(line.split()[1]) for line in exposition.splitlines()
                if line.startswith(name + " "))


def test_queue_depth_and_workers_are_those_of_the_latest_scrape_whichever_process_served_it(
        tmp_path):
    """One web process scraped while 40 tasks waited and two workers beat; it is gone (as a
    gunicorn worker recycled after max_requests), and another process scraped the drained
    queue with one worker left. /metrics says 0 and 1, not the 40 and 2 the dead file holds."""
    _python(SET_GAUGES, "40", "2", metrics_dir=tmp_path)
    _python(SET_GAUGES, "0", "1", metrics_dir=tmp_path)
    exposition = _python(EXPOSE, metrics_dir=tmp_path)
    assert _value(exposition, "liveness_queue_depth") == 0
    assert _value(exposition, "liveness_workers_alive") == 1
