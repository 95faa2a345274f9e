"""Throughput per added worker process where the cores allow it: each process on its own core.

    .venv/bin/python bench/worker_scaling.py [--seconds 20] [--rounds 2] [--layouts 1x1 2x1 1x2]

Issue 13 asks that each added worker process give at least 0.8 x the first's throughput "where
cores allow". Through HTTP on this 2-core machine the cores do not allow it: the web, Redis,
PostgreSQL and the load client share the two cores with the workers (bench/verify.py). This
bench takes those away and measures the worker processes alone, doing what a worker process
does for a verify (`ml.session.session_verify`: decode, detect, track, the liveness checks,
embed, compare), on captures the SDK mock renders (obama.jpg live, judged against obama3.jpg).

A layout "PxT" is P processes of T library threads each (ML_THREADS, as a Celery worker gives
its pool processes); process i is pinned to cores [i*T, (i+1)*T) when P*T fits the machine, so
no two processes share a core. Every process loads and warms its models (Perception.warm, as a
worker process does before its first task), then all start together and each runs one type's
verifies back to back for `--seconds`; verifies a second are counted per process. Layouts
alternate over `--rounds` rounds, since this VM's speed moves between minutes.

For each type it reports verifies a second of every layout and round, and the added-process
ratio: (throughput of 2x1 - throughput of 1x1) / throughput of 1x1, the second process's
share against the first's, in the same round; the same for 2x1-free, two processes the kernel
places (as Celery's pool processes run: nothing pins them). 1x2 is one worker process on both
cores (bench/verify.py's "one worker process"), for comparison.
Prints one JSON line last; writes bench/results/worker_scaling.json (or --results-dir).
"""

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from _harness import REPO, RESULTS, write_result  # noqa: E402

TYPES = ("still", "meglive", "flash")


def captures(seeds: int) -> dict[str, list]:
    """{type: [VerifyJob, ...]}: one live capture per seed and type, as the SDK sends them
    (meglive and flash as bench/clip_verify.py makes them, and a still burst)."""
    from clip_verify import captures as clip_captures

    from liveness_sdk.capture import render
    from liveness_sdk.client import jpeg
    from ml.image import load_rgb
    from ml.jobs import LivenessCheck, VerifyJob

    jobs = clip_captures(seeds)
    reference = jobs["meglive"][0].references
    face = load_rgb(REPO / "fixtures" / "photos" / "obama.jpg")
    jobs["still"] = []
    for seed in range(seeds):
        frames = render({"liveness_type": "still", "challenge_id": f"scale-s{seed}"}, "live",
                        face, seed=seed)
        jobs["still"].append(VerifyJob(check=LivenessCheck.STILL, references=reference,
                                       frames=tuple(jpeg(rgb) for _, rgb in frames),
                                       times_ms=tuple(t for t, _ in frames)))
    return jobs


def layout_parse(text: str) -> tuple[int, int, bool]:
    """"PxT" (pinned when it fits) or "PxT-free" (never pinned: where the kernel puts them,
    as a Celery worker's pool processes run) -> (P, T, pin)."""
    shape, _, mode = text.lower().partition("-")
    try:
        processes, threads = (int(part) for part in shape.split("x"))
    except ValueError:
        processes = threads = 0
    if processes < 1 or threads < 1 or mode not in ("", "free"):
        raise argparse.ArgumentTypeError(f"a layout is PxT or PxT-free, P, T >= 1, not {text!r}")
    return processes, threads, mode != "free"


def serve(index: int, threads: int, cores: list[int] | None, jobs: dict, seconds: float,
          start, ready, results) -> None:
    """One worker process: pin, cap threads, load and warm the models, then at each start
    signal run one type's verifies for `seconds` and report how many finished."""
    if cores is not None:
        os.sched_setaffinity(0, cores)
    os.environ["ML_THREADS"] = str(threads)
    from ml.device import threads_limit
    from ml.pipeline import perception
    from ml.session import session_verify

    threads_limit(threads)
    pipeline = perception()
    pipeline.warm()
    for kind in TYPES:       # each type's first verify in a process builds what it needs
        session_verify(jobs[kind][0])
    ready.put(index)
    for kind in TYPES:
        start.wait()
        done, answers = 0, set()
        started = time.perf_counter()
        deadline = started + seconds
        finished = started
        while time.perf_counter() < deadline:
            answers.add(session_verify(jobs[kind][done % len(jobs[kind])]).reason.value)
            done += 1
            finished = time.perf_counter()
        results.put((index, kind, done, finished - started, sorted(answers),
                     sorted(os.sched_getaffinity(0))))


def run_layout(processes: int, threads: int, pin: bool, jobs: dict, seconds: float) -> dict:
    """{type: {"per_process": [v/s, ...], "total": v/s, "answers": [...]}} of one layout."""
    context = multiprocessing.get_context("spawn")
    cpus = sorted(os.sched_getaffinity(0))
    pinned = pin and processes * threads <= len(cpus)
    start = context.Barrier(processes + 1)
    ready, results = context.Queue(), context.Queue()
    children = [context.Process(
        target=serve,
        args=(i, threads, cpus[i * threads:(i + 1) * threads] if pinned else None, jobs,
              seconds, start, ready, results)) for i in range(processes)]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=600)
    figures = {}
    for kind in TYPES:
        start.wait()
        rows = [results.get(timeout=seconds + 600) for _ in children]
        rows.sort()
        rates = [done / elapsed for _, _, done, elapsed, _, _ in rows]
        figures[kind] = {"per_process": [round(rate, 2) for rate in rates],
                         "total": round(sum(rates), 2),
                         "answers": sorted({a for row in rows for a in row[4]}),
                         "cores": [row[5] for row in rows]}
    for child in children:
        child.join(timeout=60)
    return {"pinned": pinned, **figures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--layouts", nargs="+", type=layout_parse,
                        default=[layout_parse(name) for name in ("1x1", "2x1", "2x1-free", "1x2")])
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    jobs = captures(args.seeds)
    names = [f"{p}x{t}" + ("" if pin else "-free") for p, t, pin in args.layouts]
    rounds = []
    for round_index in range(args.rounds):
        measured = {}
        for name, (processes, threads, pin) in zip(names, args.layouts, strict=True):
            measured[name] = run_layout(processes, threads, pin, jobs, args.seconds)
            print(f"round {round_index + 1} {name}",
                  {kind: measured[name][kind]["per_process"] for kind in TYPES}, flush=True)
        rounds.append(measured)
    added: dict = {}
    for second in ("2x1", "2x1-free"):
        if "1x1" not in names or second not in names:
            continue
        for kind in TYPES:
            shares = [round((r[second][kind]["total"] - r["1x1"][kind]["total"])
                            / r["1x1"][kind]["total"], 3) for r in rounds]
            added.setdefault(second, {})[kind] = {"per_round": shares,
                                                  "median": statistics.median(shares)}
    figures = {"bench": "worker_scaling",
               "machine": f"{platform.machine()} {os.cpu_count()} cpu",
               "seconds": args.seconds, "seeds": args.seeds, "layouts": names,
               "rounds": rounds, "added_process_share": added}
    print("added process share (2 processes - 1x1) / 1x1:", added, flush=True)
    write_result("worker_scaling", figures, args.results_dir)


if __name__ == "__main__":
    main()
