"""`python -m ml.analyze IMAGE [--multi-oriented]`: every face found (box, score, landmarks,
quality, attributes), as JSON."""

import argparse
import json
import sys

from .image import load_rgb
from .pipeline import perception


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.analyze", description=__doc__)
    parser.add_argument("image")
    parser.add_argument("--multi-oriented", action="store_true",
                        help="retry at 90/180/270 degrees when no upright face is found")
    args = parser.parse_args(argv)
    try:
        rgb = load_rgb(args.image)
    except (OSError, ValueError) as exc:
        print(json.dumps({"error": f"cannot read image: {exc}"}), file=sys.stderr)
        return 2
    analysis = perception().analyze(rgb, multi_oriented=args.multi_oriented, attributes=True)
    print(json.dumps(analysis.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
