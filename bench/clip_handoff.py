"""A clip's way from the HTTP form to the models, without the models: milliseconds of CPU.

    .venv/bin/python bench/clip_handoff.py [--repeat 30]

A verify's end-to-end time is its model time plus what the web and the worker do around it
(docs/BENCHMARKS.md, verify: ~90-130 ms for a clip). This times the parts of that which grow
with the clip, on the captures the SDK mock renders (obama.jpg live; meglive: two actions,
~30 frames; flash: six colours, ~45 frames), sealed as the SDK seals them:

- web: opening the package (its MAC, its base64url payload, its JSON), reading its frames
  (base64 and the picture check of each: apps/core/images.py), and the job handed to the
  worker through Redis, as bytes;
- worker: the job read back from those bytes.

Medians of `--repeat` runs, one thread. Prints one JSON line last; writes
bench/results/clip_handoff.json (or --results-dir).
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveness_project.settings")

from _harness import REPO, RESULTS, write_result  # noqa: E402


def packages(seed: int) -> dict[str, tuple[bytes, dict]]:
    """{type: (meglive_data, challenge)}: one live capture of each clip type."""
    from apps.faceid.meglive import package_key
    from liveness_sdk.capture import render
    from liveness_sdk.client import device_report, jpeg
    from liveness_sdk.package import seal
    from ml.image import load_rgb
    from ml.jobs import flash_sequence_new

    face = load_rgb(REPO / "fixtures" / "photos" / "obama.jpg")
    draw = random.Random(seed)
    sequence = flash_sequence_new(draw.randrange)
    challenges: dict[str, dict] = {
        "meglive": {"liveness_type": "meglive", "challenge_id": f"handoff-m{seed}",
                    "actions": sorted(draw.sample(["blink", "mouth_open", "turn_left",
                                                   "turn_right"], 2)),
                    "action_timeout_s": 10},
        "flash": {"liveness_type": "flash", "challenge_id": f"handoff-f{seed}",
                  "colours": [list(c) for c in sequence.colours]},
    }
    sealed = {}
    for kind, challenge in challenges.items():
        token = f"handoff-token-{kind}"
        frames = [(t, jpeg(rgb)) for t, rgb in render(challenge, "live", face, seed=seed)]
        sealed[kind] = (seal(biz_token=token, challenge_id=challenge["challenge_id"],
                             frames=frames, device=device_report(challenge),
                             key=package_key(token, challenge["challenge_id"])),
                        challenge)
    return sealed


def handoff_functions():
    """(read a package's frames, a job to bytes, a job from bytes) of this checkout; for a
    checkout before 2026-12-07's change (frames checked, then decoded again; the job as JSON
    with base64 frames), the same steps by its names, so the two can be measured alike."""
    from apps.faceid import meglive
    from ml.jobs import VerifyJob

    if hasattr(meglive, "package_frames_read"):
        return meglive.package_frames_read, VerifyJob.to_bytes, VerifyJob.from_bytes
    import base64

    def frames_read(payload, *, max_side):
        meglive.package_frames_check(payload, max_side=max_side)
        return tuple(base64.b64decode(f["jpeg"]) for f in payload["frames"])

    return (frames_read, lambda job: job.to_json().encode(),
            lambda wire: VerifyJob.from_json(wire))


def median_ms(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        function()
        samples.append((time.process_time() - started) * 1000)
    return round(statistics.median(samples), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings

    from apps.faceid.meglive import package_open
    from ml.device import threads_limit
    from ml.jobs import ActionChallenge, FlashSequence, LivenessCheck, VerifyJob

    package_frames_read, to_bytes, from_bytes = handoff_functions()
    threads_limit(1)
    figures: dict = {"bench": "clip_handoff",
                     "machine": f"{platform.machine()} {os.cpu_count()} cpu",
                     "repeat": args.repeat}
    for kind, (blob, challenge) in packages(seed=0).items():
        token, challenge_id = f"handoff-token-{kind}", challenge["challenge_id"]
        payload = package_open(blob, biz_token=token, challenge_id=challenge_id)
        frames = package_frames_read(payload, max_side=settings.IMAGE_MAX_SIDE)
        job = VerifyJob(
            check=LivenessCheck.ACTIONS if kind == "meglive" else LivenessCheck.FLASH,
            references={"image_ref1": [0.01] * 128}, frames=frames,
            times_ms=tuple(float(f["t"]) for f in payload["frames"]),
            actions=ActionChallenge(tuple(challenge["actions"]), 10_000.0)
            if kind == "meglive" else None,
            flash=FlashSequence(tuple((c, int(s), int(e)) for c, s, e in challenge["colours"]))
            if kind == "flash" else None)
        wire = to_bytes(job)
        assert from_bytes(wire) == job
        steps = {
            "package_open": median_ms(partial(package_open, blob, biz_token=token,
                                              challenge_id=challenge_id), args.repeat),
            "frames_read": median_ms(partial(package_frames_read, payload,
                                             max_side=settings.IMAGE_MAX_SIDE), args.repeat),
            "job_to_bytes": median_ms(partial(to_bytes, job), args.repeat),
            "job_from_bytes": median_ms(partial(from_bytes, wire), args.repeat),
        }
        figures[kind] = {"frames": len(frames), "package_kib": round(len(blob) / 1024),
                         "job_kib": round(len(wire) / 1024), "ms": steps,
                         "web_ms": round(sum(v for k, v in steps.items()
                                             if k != "job_from_bytes"), 2),
                         "worker_ms": steps["job_from_bytes"]}
        print(kind, figures[kind], flush=True)
    write_result("clip_handoff", figures, args.results_dir)


if __name__ == "__main__":
    main()
