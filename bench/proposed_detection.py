"""YuNet proposing and MTCNN confirming (FaceDetector.detect_proposed, the reference photos'
path) against MTCNN's own search: time, faces found, and how far the embeddings move, next to
how far MTCNN's own embeddings move when the picture shifts by 3 px or is saved again as JPEG.

    .venv/bin/python bench/proposed_detection.py [--repeat 5] [--threads 1]

Every offline photo of fixtures/photos at its own size and shrunk into a 640x480 selfie.
"Moved" is the cosine between the SFace embedding of a face as MTCNN's search found it and of
the same face found the other way (1 = the same vector). Library threads are fixed (one by
default: a worker process's share when two run on two cores). Prints one line per picture and
the figures as one JSON line last; writes bench/results/proposed_detection.json.
"""

import argparse
import io
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from _harness import REPO, write_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    from ml.detection import Face, box_iou
    from ml.device import threads_limit
    from ml.image import load_rgb
    from ml.pipeline import perception

    threads_limit(args.threads)
    pipeline = perception()
    detector, proposer, embedder = pipeline.detector, pipeline.proposer, pipeline.embedder

    def pictures():
        for path in sorted((REPO / "fixtures" / "photos").iterdir()):
            photo = Image.open(path).convert("RGB")
            yield path.name, np.asarray(photo)
            small = photo.copy()
            small.thumbnail((640, 480))
            canvas = Image.new("RGB", (640, 480), (128, 128, 128))
            canvas.paste(small, ((640 - small.width) // 2, 0))
            yield f"{path.name}@640x480", np.asarray(canvas)

    def timed(function, rgb) -> float:
        function(rgb)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            function(rgb)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def moved(rgb, faces, other_rgb, others, offset=(0.0, 0.0)) -> list[float | None]:
        """Per face of `faces`: cosine to its counterpart in `others` (None: not found)."""
        result: list[float | None] = []
        for face in faces:
            shifted = [Face(box=(o.box[0] - offset[0], o.box[1] - offset[1],
                                 o.box[2] - offset[0], o.box[3] - offset[1]), score=o.score,
                            landmarks=o.landmarks) for o in others]
            best = max(range(len(others)), key=lambda i: box_iou(face.box, shifted[i].box),
                       default=None)
            if best is None or box_iou(face.box, shifted[best].box) < 0.3:
                result.append(None)
                continue
            result.append(round(float(embedder.embed(rgb, face)
                                      @ embedder.embed(other_rgb, others[best])), 4))
        return result

    rows = []
    for name, rgb in pictures():
        searched = detector.detect(rgb)
        proposals = proposer.propose(rgb)
        confirmed = detector.confirm(rgb, proposals)
        proposed = confirmed or searched    # detect_proposed's answer
        shifted_rgb = np.ascontiguousarray(np.pad(rgb, ((2, 0), (3, 0), (0, 0)), mode="edge")
                                           [:rgb.shape[0], :rgb.shape[1]])
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=75)
        resaved = load_rgb(buffer.getvalue())
        row = {
            "picture": name, "size": list(rgb.shape[1::-1]),
            "search_ms": round(timed(detector.detect, rgb), 1),
            "proposed_ms": round(timed(lambda x: detector.detect_proposed(x, proposer), rgb), 1),
            "faces_search": len(searched), "faces_proposed": len(proposed),
            "fell_back": bool(searched) and not confirmed,
            "moved_proposed": moved(rgb, searched, rgb, proposed),
            "moved_shift_3px": moved(rgb, searched, shifted_rgb, detector.detect(shifted_rgb),
                                     offset=(3.0, 2.0)),
            "moved_jpeg_q75": moved(rgb, searched, resaved, detector.detect(resaved)),
        }
        rows.append(row)
        print(f"{name:34s} search {row['search_ms']:6.1f} ms  proposed {row['proposed_ms']:6.1f} ms"
              f"  faces {row['faces_search']}/{row['faces_proposed']}"
              f"{'  (fell back)' if row['fell_back'] else ''}  moved {row['moved_proposed']}"
              f"  shift {row['moved_shift_3px']}  jpeg {row['moved_jpeg_q75']}", flush=True)

    def cosines(key):
        return [c for row in rows for c in row[key] if c is not None]

    def summary(key):
        values = cosines(key)
        return {"median": round(statistics.median(values), 4), "lowest": min(values),
                "faces": len(values),
                "not_found": sum(c is None for row in rows for c in row[key])}

    with_faces = [row for row in rows if row["faces_search"]]
    write_result("proposed_detection", {
        "bench": "proposed_detection",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "threads": args.threads, "repeat": args.repeat,
        "same_face_count": all(r["faces_search"] == r["faces_proposed"] for r in rows),
        "fell_back": sum(r["fell_back"] for r in rows),
        "pictures": len(rows),
        "search_ms_median": statistics.median(r["search_ms"] for r in with_faces),
        "proposed_ms_median": statistics.median(r["proposed_ms"] for r in with_faces),
        "search_ms_faceless_median": statistics.median(
            r["search_ms"] for r in rows if not r["faces_search"]),
        "proposed_ms_faceless_median": statistics.median(
            r["proposed_ms"] for r in rows if not r["faces_search"]),
        "moved_proposed": summary("moved_proposed"),
        "moved_shift_3px": summary("moved_shift_3px"),
        "moved_jpeg_q75": summary("moved_jpeg_q75"),
        "rows": rows,
    })


if __name__ == "__main__":
    main()
