"""`python scripts/still_sessions.py`: still sessions as the SDK mock sends them, judged as a
worker judges them, over many draws, for a passive decision (the committed one, or a candidate's
own-model weights and fusion file).

A still session's outcome depends on the draw: the SDK renders the capture from a seed derived
from the server's challenge id, adds per-frame sensor noise and hand shake, and sends each frame
as JPEG (quality 85); the worker judges three frames of the burst (ml/session.py). A test that
runs one session sees one draw. This script runs `--draws` of them per photo and scenario
through the same `session_verify` and prints how many were judged live, so a candidate decision
can be checked against every draw the tests might meet before it is shipped:

    python scripts/still_sessions.py --names biden.jpg,obama.jpg --draws 12 \
        --own var/pad/pad_own_candidate.pt --fusion var/pad/fusion/pad_fusion.json

Live draws should all be live; print, replay and mask draws none. Prints one JSON line per
photo and scenario and a last summary line; exits 1 when any draw went the wrong way.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def install_decision(own: Path | None, fusion: Path | None, texture: Path | None) -> None:
    """Replace this process's passive decision by the candidate's (the committed parts where
    a path is not given)."""
    from ml.pad_fusion import FUSION_FILE, PassiveDecision
    from ml.pipeline import perception

    # the members a worker runs (PassiveDecision.load), from the candidate's files
    decision = PassiveDecision.load(fusion_file=fusion or FUSION_FILE, own=own, texture=texture)
    perception().__dict__["pad"] = decision      # the cached_property's slot


def session_live(face, scenario: str, draw: int) -> tuple[bool, list[float], dict]:
    from liveness_sdk.capture import render
    from liveness_sdk.client import jpeg
    from ml.jobs import LivenessCheck, Reason, VerifyJob
    from ml.session import session_verify

    challenge = {"liveness_type": "still", "challenge_id": f"still-draw-{draw}"}
    frames = render(challenge, scenario, face, seed=draw)
    job = VerifyJob(check=LivenessCheck.STILL, references={},
                    frames=tuple(jpeg(rgb) for _, rgb in frames),
                    times_ms=tuple(ms for ms, _ in frames))
    result = session_verify(job)
    judged = [f["live"] for f in result.passive.get("frames", [])]
    margins = {name: member.get("margin") for name, member
               in result.passive.get("members", {}).items()}
    return result.reason != Reason.PRESENTATION_ATTACK, judged, margins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT / "fixtures" / "photos")
    parser.add_argument("--names", default="biden.jpg,obama.jpg,obama2.jpg,obama3.jpg")
    parser.add_argument("--scenarios", default="live,print,replay,mask")
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--first-draw", type=int, default=0,
                        help="draws first-draw .. first-draw + draws - 1 (more draws, no repeats)")
    parser.add_argument("--own", type=Path, help="our member's candidate weights")
    parser.add_argument("--fusion", type=Path, help="a candidate pad_fusion.json")
    parser.add_argument("--texture", type=Path, help="the texture member's candidate weights")
    args = parser.parse_args(argv)

    import numpy as np

    from ml.image import load_rgb

    if args.own or args.fusion or args.texture:
        install_decision(args.own, args.fusion, args.texture)
    wrong, total, started = 0, 0, time.perf_counter()
    for name in args.names.split(","):
        face = load_rgb((args.photos / name).read_bytes())
        for scenario in args.scenarios.split(","):
            draws = range(args.first_draw, args.first_draw + args.draws)
            outcomes = [session_live(face, scenario, draw) for draw in draws]
            live = sum(ok for ok, _, _ in outcomes)
            expected_live = scenario == "live"
            misses = args.draws - live if expected_live else live
            wrong, total = wrong + misses, total + args.draws
            medians = [float(np.median(j)) if j else 0.0 for _, j, _ in outcomes]
            # the best frame's member margins of each draw that went the wrong way
            wrong_draws = {draw: margins
                           for draw, (ok, _, margins) in zip(draws, outcomes, strict=True)
                           if ok != expected_live}
            print(json.dumps({"photo": name, "scenario": scenario, "live": live,
                              "draws": args.draws, "wrong": misses,
                              "median_live": [round(min(medians), 4), round(max(medians), 4)],
                              "wrong_draws": wrong_draws}),
                  flush=True)
    print(json.dumps({"wrong": wrong, "sessions": total,
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
