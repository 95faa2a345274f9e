"""The analysed face as the contracts read it: which face is judged, its liveness, its attack
species and its synthetic-picture probability (from the analysis dict the worker returns)."""

from .failures import Failure, Kind


def largest_face(analysis: dict, *, need_analysable: bool = False) -> dict:
    face = analysis.get("face")
    if face is None:
        raise Failure(Kind.NO_FACE)
    if need_analysable and not face.get("analysable"):
        raise Failure(Kind.FACE_UNANALYSABLE, "face too small or the mesh did not fit")
    return face


def attack_species(face: dict) -> str:
    """The most probable attack class of the PAD model ("" when it has none)."""
    attacks = {k: v for k, v in face["pad"]["probabilities"].items() if k != "live"}
    return max(attacks, key=lambda k: attacks[k]) if attacks else ""


def synthetic_probability(face: dict) -> float:
    """P(synthetic picture): the PAD model's `blend` class, 0 for models without one."""
    return float(face["pad"]["probabilities"].get("blend", 0.0))


def live_probability(face: dict) -> float:
    return float(face["pad"]["live"])
