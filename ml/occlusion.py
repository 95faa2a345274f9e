"""Occlusion per face region (seed 002's quality.occlusion), on the aligned face crop.

The 5 landmarks put every face on the same 112 x 112 template (plus a 16 px margin for the
chin), so each region is a fixed area of that crop: eyes, nose, mouth, cheeks, chin. A pixel
of a region is "not skin" when its chroma (YCrCb) lies outside a broad skin range (wide
enough for lips and blush, which move Cr by 40 units within one face) or it is much darker
than the face's own skin (the median luma of the reference patches, forehead, under the eyes
and temples, that are skin-coloured). For the eyes only darkness counts: bare eyes are never
skin-coloured. Each region's share of "not skin" pixels is taken relative to its bare
baseline: occlusion = clip((share - baseline) / (1 - baseline), 0, 1).

"left" and "right" are the person's own (the left eye is on the image's right).
Limits (docs/MODELS.md): an occluder of skin colour (a hand) is not seen; a face whose every
reference patch is covered falls back to a generic skin colour range.
"""

from functools import cache

import numpy as np

from .detection import Face, aligned_crop

SIZE, MARGIN = 112, 16
# Region shapes in template pixels (before the margin): ellipses (centre, half-axes).
_ELLIPSES = {
    "left_eye": ((73.5, 51.5), (12, 7)),
    "right_eye": ((38.3, 51.7), (12, 7)),
    "nose": ((56.0, 68.0), (7, 10)),
    "mouth": ((56.0, 92.0), (16, 7)),
    "left_cheek": ((84.0, 78.0), (8, 9)),
    "right_cheek": ((28.0, 78.0), (8, 9)),
    "chin_contour": ((56.0, 110.0), (14, 6)),
}
_REFERENCE_PATCHES = {
    "forehead": (slice(22, 34), slice(40, 72)),
    "under_left_eye": (slice(60, 66), slice(72, 86)),
    "under_right_eye": (slice(60, 66), slice(26, 40)),
    "left_temple": (slice(38, 52), slice(92, 100)),
    "right_temple": (slice(38, 52), slice(12, 20)),
}
REGIONS = tuple(_ELLIPSES)

# Skin chroma range (YCrCb), broad enough for lips, blush and warm light.
SKIN_CR, SKIN_CB = (135.0, 185.0), (75.0, 132.0)
# A face whose reference patches are not in that range (a colour cast) gets a range of this
# half-width around its own median chroma instead.
OWN_RANGE_HALF_WIDTH = 20.0
DARK_LUMA_SHARE = 0.5
# Share of "not skin" pixels that bare regions show anyway (shadowed eyes, an open mouth):
# chosen on the offline photos so that bare faces stay under seed 002's suggested
# thresholds while drawn dark lenses and pasted masks go over them (docs/MODELS.md).
BARE_BASELINE = {"left_eye": 0.3, "right_eye": 0.3, "nose": 0.2, "mouth": 0.35,
                 "left_cheek": 0.15, "right_cheek": 0.15, "chin_contour": 0.2}
# Seed 002's suggested thresholds above which a region counts as occluded.
SUGGESTED_THRESHOLDS = {"left_eye": 0.6, "right_eye": 0.6, "nose": 0.7, "mouth": 0.7,
                        "left_cheek": 0.8, "right_cheek": 0.8, "chin_contour": 0.6}


@cache
def _region_masks() -> dict[str, np.ndarray]:
    import cv2

    side = SIZE + 2 * MARGIN
    masks = {}
    for region, ((cx, cy), (ax, ay)) in _ELLIPSES.items():
        mask = np.zeros((side, side), np.uint8)
        cv2.ellipse(mask, (int(cx + MARGIN), int(cy + MARGIN)), (ax, ay), 0, 0, 360, (1,), -1)
        masks[region] = mask.astype(bool)
    return masks


def _in_range(pixels: np.ndarray, cr_range, cb_range) -> np.ndarray:
    cr, cb = pixels[..., 1], pixels[..., 2]
    return (cr >= cr_range[0]) & (cr <= cr_range[1]) & (cb >= cb_range[0]) & (cb <= cb_range[1])


def _skin_model(ycrcb: np.ndarray) -> tuple[tuple, tuple, float]:
    """(Cr range, Cb range, skin luma) for this face, from its reference patches."""
    patches = [ycrcb[rows.start + MARGIN:rows.stop + MARGIN,
                     cols.start + MARGIN:cols.stop + MARGIN].reshape(-1, 3)
               for rows, cols in _REFERENCE_PATCHES.values()]
    skin = [p for p in patches if _in_range(np.median(p, axis=0), SKIN_CR, SKIN_CB)]
    if len(skin) >= 2:
        return SKIN_CR, SKIN_CB, float(np.median(np.concatenate(skin)[:, 0]))
    own = np.median(np.concatenate(patches), axis=0)
    half = OWN_RANGE_HALF_WIDTH
    return ((own[1] - half, own[1] + half), (own[2] - half, own[2] + half), float(own[0]))


def occlusion_of(rgb: np.ndarray, face: Face) -> dict[str, float]:
    import cv2

    crop = aligned_crop(rgb, face, SIZE, MARGIN)
    ycrcb = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    # Which crop pixels came from the image (the rest lie beyond its border).
    inside = aligned_crop(np.full(rgb.shape[:2] + (1,), 255, np.uint8), face, SIZE,
                          MARGIN) > 127
    cr_range, cb_range, luma = _skin_model(ycrcb)
    result = {}
    for region in REGIONS:
        mask = _region_masks()[region]
        pixels = ycrcb[mask & inside]
        if len(pixels) < 0.5 * mask.sum():
            result[region] = 1.0  # mostly outside the frame
            continue
        not_skin = pixels[:, 0] < DARK_LUMA_SHARE * luma
        if not region.endswith("_eye"):
            not_skin |= ~_in_range(pixels, cr_range, cb_range)
        share = float(not_skin.mean())
        baseline = BARE_BASELINE[region]
        result[region] = round(float(np.clip((share - baseline) / (1 - baseline), 0, 1)), 3)
    return result
