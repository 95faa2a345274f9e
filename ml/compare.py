"""`python -m ml.compare IMAGE_A IMAGE_B`: {confidence, thresholds} of the largest faces."""

import argparse
import json
import sys

from .image import load_rgb
from .pipeline import perception


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.compare", description=__doc__)
    parser.add_argument("image_a")
    parser.add_argument("image_b")
    parser.add_argument("--multi-oriented", action="store_true")
    args = parser.parse_args(argv)
    try:
        images = [load_rgb(path) for path in (args.image_a, args.image_b)]
    except (OSError, ValueError) as exc:
        print(json.dumps({"error": f"cannot read image: {exc}"}), file=sys.stderr)
        return 2
    result = perception().compare(*images, multi_oriented=args.multi_oriented)
    if result is None:
        print(json.dumps({"error": "no face found"}))
        return 1
    print(json.dumps(result.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
