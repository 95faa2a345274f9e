"""One still picture, analysed for the single-image APIs and for still sessions.

`still_analyse` runs detection (optionally trying rotations), then, on the largest face only,
quality, passive anti-spoofing and, when asked, the attributes and per-region occlusion. It
returns plain JSON-ready data: the Celery task sends it back to the web process as is.
"""

import numpy as np

from .pipeline import Perception, perception

# Below this eye distance the attribute models and occlusion regions have too few pixels to
# mean anything: the face is found but cannot be analysed (seed 002's code 3).
ANALYSABLE_INTER_OCULAR_PX = 20.0


def box_inside(box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height


def still_analyse(rgb: np.ndarray, *, attributes: bool = False, multi_oriented: bool = False,
                  pipeline: Perception | None = None) -> dict:
    pipeline = pipeline or perception()
    analysis = pipeline.analyze(rgb, multi_oriented=multi_oriented, proposed=True)
    image = analysis.detection.image
    height, width = image.shape[:2]
    result = {"rotation": analysis.detection.rotation, "image_size": [width, height],
              "face_count": len(analysis.faces), "face": None}
    largest = analysis.largest
    if largest is None:
        return result
    face = largest.face
    pad = pipeline.pad.score(image, face.box)
    summary = {
        **face.as_dict(),
        "inside": box_inside(face.box, width, height),
        "analysable": face.inter_ocular >= ANALYSABLE_INTER_OCULAR_PX,
        "quality": largest.quality.as_dict(),
        "pad": {"live": round(pad.live, 6), "probabilities": pad.probabilities},
    }
    if getattr(pad, "members", None):
        summary["pad"]["members"] = pad.members
    if getattr(pad, "veto", None):
        summary["pad"]["veto"] = pad.veto
    if attributes and summary["analysable"]:
        found = pipeline.attribute_models.attributes(image, face)
        if found.face_shape is None:  # the face mesh could not be fitted
            summary["analysable"] = False
        else:
            from .occlusion import occlusion_of

            summary["attributes"] = found.as_dict()
            summary["quality"]["occlusion"] = occlusion_of(image, face)
    result["face"] = summary
    return result
