"""What keeping pictures for the operator's review costs a worker (ml/review_images.py).

    .venv/bin/python bench/review_images.py [--repeat 20]

Times, on frames already decoded (as the worker has them): the frame strip of a 45-frame
640x480 clip (a flash or meglive capture) and of a 5-frame burst (a still capture), and the
face crop of a 640x480 reference photo (get_biz_token). Also the strip's and the crop's JPEG
sizes, which travel back through Celery and are stored encrypted. Median milliseconds of
`--repeat` runs at one thread. Prints the figures as one JSON line; writes
bench/results/review_images.json.
"""

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _harness import photo_jpeg, write_result  # noqa: E402


def median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    from ml.image import load_rgb
    from ml.review_images import face_crop_jpeg, frame_strip

    frame = load_rgb(photo_jpeg("obama.jpg", (640, 480), canvas=True))
    clip = [np.roll(frame, n, axis=1) for n in range(45)]
    times = [33.3 * n for n in range(45)]
    height, width = frame.shape[:2]
    # a face box of the size the detector finds on this canvas (its middle third)
    box = (width * 0.35, height * 0.15, width * 0.65, height * 0.6)
    clip_strip = frame_strip(clip, times)
    assert clip_strip is not None
    crop = face_crop_jpeg(frame, box)
    figures = {
        "clip_45_frames_strip_ms": median_ms(lambda: frame_strip(clip, times), args.repeat),
        "burst_5_frames_strip_ms": median_ms(lambda: frame_strip(clip[:5], times[:5]),
                                             args.repeat),
        "reference_face_crop_ms": median_ms(lambda: face_crop_jpeg(frame, box), args.repeat),
        "clip_strip_jpeg_bytes": len(base64.b64decode(clip_strip["jpeg"])),
        "reference_crop_jpeg_bytes": len(base64.b64decode(crop)),
        "repeat": args.repeat,
    }
    write_result("review_images", figures)


if __name__ == "__main__":
    main()
