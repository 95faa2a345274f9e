"""ml.device.malloc_arenas_limit: a worker's processes keep to a few malloc arenas (glibc gives
each allocating thread one of its own by default, and keeps their pages), unless the operator
set MALLOC_ARENA_MAX, which glibc reads itself."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="arenas and malloc_stats are glibc's")

# eight threads that each allocate from malloc at once (4 KiB: above pymalloc's small objects,
# under malloc's mmap threshold), then glibc's own count of its arenas (malloc_stats, stderr)
PROBE = """
import ctypes, sys, threading
from ml.device import malloc_arenas_limit
if sys.argv[1] == "limit":
    print("limited", malloc_arenas_limit(2), flush=True)
barrier = threading.Barrier(8)
def allocate():
    barrier.wait()
    kept = [bytearray(4096) for _ in range(200)]
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def arenas(mode: str, **env: str) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    run = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**environment, **env})
    assert run.returncode == 0, run.stderr
    return sum(line.startswith("Arena ") for line in run.stderr.splitlines()), run.stdout


def test_the_limit_keeps_eight_threads_to_two_arenas():
    unlimited, _ = arenas("none")
    limited, said = arenas("limit")
    assert unlimited >= 8          # glibc's default: one a thread, up to 8 a core
    assert limited == 2 and "limited True" in said


def test_malloc_arena_max_set_by_the_operator_wins():
    counted, said = arenas("limit", MALLOC_ARENA_MAX="3")
    assert counted == 3 and "limited False" in said
    counted, said = arenas("limit", GLIBC_TUNABLES="glibc.malloc.arena_max=4")
    assert counted == 4 and "limited False" in said
