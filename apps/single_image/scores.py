"""Our PAD probabilities on each vendor's published scale.

Each vendor documents one threshold on its own score (seed 000 ref_thres 0.471, seed 001's
default thresh 0.8, seed 002: liveness > 0.3, spoofing > 0.00048). Clients have those numbers
in their code. We map our probability p, with our operating threshold t, onto [0, 1] piecewise
linearly so that t lands exactly on the vendor's threshold: the order of scores is kept, and a
client's unchanged threshold means our operating point.
"""


def on_vendor_scale(p: float, *, ours: float, theirs: float) -> float:
    p = min(max(p, 0.0), 1.0)
    if p <= ours:
        return p / ours * theirs if ours > 0 else theirs
    return theirs + (p - ours) / (1.0 - ours) * (1.0 - theirs) if ours < 1 else 1.0


def from_vendor_scale(score: float, *, ours: float, theirs: float) -> float:
    """The inverse of on_vendor_scale: a score (or a client's threshold) on the vendor's scale
    back on ours."""
    score = min(max(score, 0.0), 1.0)
    if score <= theirs:
        return score / theirs * ours if theirs > 0 else ours
    return ours + (score - theirs) / (1.0 - theirs) * (1.0 - ours) if theirs < 1 else 1.0
