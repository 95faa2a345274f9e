"""`liveness-sdk capture --base-url URL --biz-token TOKEN --scenario live --face IMAGE --out FILE`

Plays the mobile SDK: fetches the session's challenge, renders the capture with the simulator
(or reads --frames DIR), and writes meglive_data to --out for the client server's verify.
The package carries the SDK's device report: no risk, unless --simulate-risk names one
(emulator, rooted, hooked, debugger; repeatable) to play a risky device.
Prints one JSON line: the challenge, the instructions shown (meglive: a neutral face first,
then the actions), the device report and what was written.
"""

import argparse
import json
import sys
from pathlib import Path

import httpx

from .capture import SCENARIOS, instructions
from .client import RISK_FLAGS, capture, device_report, frames_from_dir, start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liveness-sdk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("capture", help="start a session and write its meglive_data")
    run.add_argument("--base-url", required=True)
    run.add_argument("--biz-token", required=True)
    run.add_argument("--scenario", choices=SCENARIOS, default="live")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--face", type=Path, help="a photo of the face to animate")
    source.add_argument("--frames", type=Path, help="a folder of the user's own frames")
    run.add_argument("--other-face", type=Path, help="the second person of the swap scenario")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--simulate-risk", action="append", choices=RISK_FLAGS, default=[],
                     help="report this device risk (repeatable)")
    run.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from ml.image import load_rgb

    with httpx.Client(base_url=args.base_url, timeout=60) as http:
        try:
            started = start(http, args.biz_token)
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    device = device_report(started["challenge"], risks=tuple(args.simulate_risk))
    try:
        data = capture(started, scenario=args.scenario, device=device,
                       face=load_rgb(args.face) if args.face else None,
                       other_face=load_rgb(args.other_face) if args.other_face else None,
                       frames=frames_from_dir(args.frames) if args.frames else None,
                       seed=args.seed)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    args.out.write_bytes(data)
    print(json.dumps({"challenge": started["challenge"],
                      "instructions": instructions(started["challenge"]), "device": device,
                      "bytes": len(data),
                      "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
