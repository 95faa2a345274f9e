"""Model time of a clip verify (meglive and flash), in one process as one worker process runs it.

    .venv/bin/python bench/clip_verify.py [--repeat 7] [--seeds 3]

For each seed, the SDK mock renders a live capture of obama.jpg for a meglive challenge (two
actions, about 30 frames of 480 x 533) and for a flash challenge (six colours, about 50 frames),
sealed frames as JPEG quality 85 as the SDK sends them; `ml.session.session_verify` judges each
against obama3.jpg's embedding, `--repeat` times after one warm run. The models are loaded and
warmed first (Perception.warm, as a worker process does at start), and the model time of each
type's very first verify in the process is reported too. Reports the median model
time per type (the time a worker records as VerificationRecord.model_ms), the answers, and how
many times the face detector ran per verify (issue 13: a clip is detected once and tracked),
and this process's memory after serving them (every model a clip uses, warm).
Library threads: ML_THREADS (default: every core, as one worker process alone on the machine
gets). Prints one JSON line last; writes bench/results/clip_verify.json (or --results-dir).
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
os.environ.setdefault("ML_THREADS", str(os.cpu_count() or 1))

from _harness import REPO, RESULTS, write_result  # noqa: E402


def captures(seeds: int) -> dict[str, list]:
    """{type: [VerifyJob, ...]}: one live capture per seed and type."""
    from liveness_sdk.capture import render
    from liveness_sdk.client import jpeg
    from ml.image import load_rgb
    from ml.jobs import ActionChallenge, LivenessCheck, VerifyJob, flash_sequence_new
    from ml.session import reference_analyse

    photos = REPO / "fixtures" / "photos"
    face = load_rgb(photos / "obama.jpg")
    reference = reference_analyse((photos / "obama3.jpg").read_bytes(),
                                  multi_oriented=False)["embedding"]
    assert reference is not None, "no face in the reference photo"
    jobs: dict[str, list] = {"meglive": [], "flash": []}
    for seed in range(seeds):
        draw = random.Random(seed)
        actions = tuple(draw.sample(["blink", "mouth_open", "turn_left", "turn_right"], 2))
        meglive = {"liveness_type": "meglive", "challenge_id": f"bench-m{seed}",
                   "actions": list(actions), "action_timeout_s": 10}
        sequence = flash_sequence_new(draw.randrange)
        flash = {"liveness_type": "flash", "challenge_id": f"bench-f{seed}",
                 "colours": [list(c) for c in sequence.colours]}
        for kind, challenge in (("meglive", meglive), ("flash", flash)):
            frames = render(challenge, "live", face, seed=seed)
            jobs[kind].append(VerifyJob(
                check=LivenessCheck.ACTIONS if kind == "meglive" else LivenessCheck.FLASH,
                actions=ActionChallenge(actions, 10_000.0) if kind == "meglive" else None,
                flash=sequence if kind == "flash" else None,
                references={"image_ref1": reference},
                frames=tuple(jpeg(rgb) for _, rgb in frames),
                times_ms=tuple(t for t, _ in frames)))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    from ml.pipeline import perception
    from ml.session import session_verify

    pipeline = perception()
    detections = {"count": 0, "confirmed": 0}
    detect, confirm = pipeline.detector.detect, pipeline.detector.confirm

    def counted(*a, **k):
        detections["count"] += 1
        return detect(*a, **k)

    def counted_confirm(*a, **k):
        detections["confirmed"] += 1
        return confirm(*a, **k)

    # counts calls (MTCNN's whole search; its confirmation of YuNet's proposals); the detector
    # itself runs unchanged
    pipeline.detector.detect = counted
    pipeline.detector.confirm = counted_confirm
    jobs = captures(args.seeds)
    figures = {"bench": "clip_verify", "machine": f"{platform.machine()} {os.cpu_count()} cpu",
               "ml_threads": int(os.environ["ML_THREADS"]), "repeat": args.repeat,
               "warm_ms": pipeline.warm()}     # as a worker process does before its first task
    for kind, kind_jobs in jobs.items():
        first_ms = session_verify(kind_jobs[0]).model_ms   # this kind's first in the process
        for job in kind_jobs[1:]:
            session_verify(job)
        times, answers, frames = [], [], []
        detections.update(count=0, confirmed=0)
        started = time.perf_counter()
        for _ in range(args.repeat):
            for job in kind_jobs:
                result = session_verify(job)
                times.append(result.model_ms)
                answers.append(result.reason.value)
                frames.append(len(job.frames))
        wall = time.perf_counter() - started
        runs = args.repeat * len(kind_jobs)
        figures[kind] = {
            "frames": round(statistics.mean(frames), 1),
            "first_model_ms": first_ms,
            "model_ms_p50": round(statistics.median(times), 1),
            "model_ms_max": round(max(times), 1),
            "verifies_per_s": round(runs / wall, 2),
            "detections_per_verify": round(detections["count"] / runs, 2),
            "confirmations_per_verify": round(detections["confirmed"] / runs, 2),
            "answers": {a: answers.count(a) for a in sorted(set(answers))},
        }
        print(kind, figures[kind], flush=True)
    figures["process_memory_mib"] = process_memory_mib()
    print("memory", figures["process_memory_mib"], flush=True)
    write_result("clip_verify", figures, args.results_dir)


def process_memory_mib() -> dict:
    """This process's RSS and peak RSS now, after serving the clips: what a worker process
    holds once it has served (the models' working memory included: an onnxruntime arena, say,
    grows on first use, so the figure after loading alone misses it). The heap is not trimmed,
    as a worker does not trim between tasks."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status
              if line.startswith(("VmRSS", "VmHWM"))}
    return {"rss": round(fields["VmRSS"], 1), "peak_rss": round(fields["VmHWM"], 1)}


if __name__ == "__main__":
    main()
