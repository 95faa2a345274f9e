"""bench/worker_scaling.py: worker processes each on its own core, doing a worker's verifies.
Its figures are only worth recording if its layouts mean what they say: a pinned process runs
on its own cores, every process answers the live captures as the service would."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from worker_scaling import layout_parse  # noqa: E402


def test_a_layout_names_processes_threads_and_whether_they_are_pinned():
    assert layout_parse("2x1") == (2, 1, True)
    assert layout_parse("1x2") == (1, 2, True)
    assert layout_parse("2x1-free") == (2, 1, False)
    for wrong in ("2", "0x1", "2x0", "axb", "2x1-loose", "-1x2"):
        with pytest.raises(argparse.ArgumentTypeError):
            layout_parse(wrong)


@pytest.mark.slow
def test_two_pinned_processes_run_on_their_own_cores_and_answer_the_live_captures(tmp_path):
    run = subprocess.run(
        [sys.executable, "bench/worker_scaling.py", "--seconds", "1", "--rounds", "1",
         "--seeds", "1", "--layouts", "1x1", "2x1", "--results-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads((tmp_path / "worker_scaling.json").read_text())
    cpus = sorted(os.sched_getaffinity(0))
    one, two = figures["rounds"][0]["1x1"], figures["rounds"][0]["2x1"]
    for kind in ("still", "meglive", "flash"):
        assert one[kind]["answers"] == two[kind]["answers"] == ["same_person"], kind
        assert len(two[kind]["per_process"]) == 2 and min(two[kind]["per_process"]) > 0
        assert one[kind]["cores"] == [cpus[:1]]
        if len(cpus) >= 2:
            assert two["pinned"] and two[kind]["cores"] == [cpus[:1], cpus[1:2]]
        else:      # one core: nothing to pin them apart on
            assert not two["pinned"]
        share = figures["added_process_share"]["2x1"][kind]["per_round"][0]
        expected = (two[kind]["total"] - one[kind]["total"]) / one[kind]["total"]
        assert share == pytest.approx(expected, abs=1e-3)
