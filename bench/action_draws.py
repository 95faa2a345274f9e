"""Does every action challenge the server may draw pass for a live face? (issue 20 material)

Renders obama.jpg live (the SDK mock's simulator) for every 3-action challenge the server can
draw (one pose action and two others), in a shuffled order and under a random challenge id (the
render's seed), and runs the action check on each. Prints and writes the failures
(bench/results/action_draws.json).

    .venv/bin/python bench/action_draws.py [--repeat 2]
"""

import argparse
import itertools
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import REPO, write_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2, help="passes over every draw")
    parser.add_argument("--face", default="obama.jpg")
    args = parser.parse_args()
    from liveness_sdk.capture import render
    from ml.actions import analyse_action_clip
    from ml.image import load_rgb
    from ml.jobs import ACTIONS, POSE_ACTIONS
    from ml.pipeline import perception

    pipeline = perception()
    face = load_rgb(REPO / "fixtures" / "photos" / args.face)
    draws = [[pose, *others] for pose in POSE_ACTIONS
             for others in itertools.combinations([a for a in ACTIONS if a != pose], 2)]
    rng = random.Random(7)
    failures, judged, started = [], 0, time.time()
    for _ in range(args.repeat):
        for draw in draws:
            actions = rng.sample(draw, 3)
            challenge = {"challenge_id": f"{rng.getrandbits(64):x}", "liveness_type": "meglive",
                         "actions": actions, "action_timeout_s": 10, "liveness_timeout_s": 10}
            frames = render(challenge, "live", face, seed=4)
            verdict = analyse_action_clip([f for _, f in frames], [t for t, _ in frames],
                                          actions, timeout_ms=10_000,
                                          detector=pipeline.detector, mesher=pipeline.mesher)
            judged += 1
            if not verdict.passed:
                failures.append({"actions": actions, "challenge_id": challenge["challenge_id"],
                                 "reason": verdict.reason})
    write_result("action_draws", {"face": args.face, "draws": judged, "failed": len(failures),
                                  "failures": failures,
                                  "seconds": round(time.time() - started, 1)})


if __name__ == "__main__":
    main()
