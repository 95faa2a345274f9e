"""`python -m ml.evaluate --faces DIR --seed N --out DIR`: liveness figures.

With `--faces` alone: the default passive decision (ml/pad_fusion.py) and each member at its
authors' threshold on every photo of DIR as is and under benign capture variations, on their
simulator live captures and attack species, and on the Silent-Face authors' samples
(`decision_figures`). With `--presentations DIR`, real captures labelled by folder
(DIR/live/..., DIR/print/..., any other label an attack species): the decision at every security
level and each member on each picture as the single-image APIs see it (`presentation_figures`),
which is how a deployment or a held-back set measures what the simulator cannot. With `--model` (a PAD checkpoint) or `--data DIR` (a labelled image folder
of 80 x 80 crops): that one model on a generated or given crop set. Prints, as one JSON line
last (ISO/IEC 30107-3 terms, at the live-score threshold):
- APCER per attack species: share of that species' presentations accepted as live;
- BPCER: share of live presentations refused; ACER = (worst species' APCER + BPCER) / 2;
- with --faces: pass rates of the flash check (live / replay / late / static clips) and the
  action check (live head / printed photo clips) on the same faces.
Writes roc.png and det.png (live score of bona fide vs attack presentations) to OUT.
Use faces and a seed that training never saw.
"""

import argparse
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .pad import PAD_CLASSES, PadModel
from .pad_data import face_portraits, pad_set


def pad_figures(scores: np.ndarray, labels: list[str], threshold: float) -> dict:
    live = scores[np.array(labels) == "live"]
    figures: dict[str, Any] = {"threshold": threshold, "bona_fide": int(len(live)),
               "bpcer": round(float((live < threshold).mean()), 4) if len(live) else None,
               "apcer": {}}
    for species in PAD_CLASSES[1:]:
        attack = scores[np.array(labels) == species]
        if len(attack):
            figures["apcer"][species] = round(float((attack >= threshold).mean()), 4)
    worst = max(figures["apcer"].values()) if figures["apcer"] else 0.0
    figures["acer"] = round((worst + (figures["bpcer"] or 0.0)) / 2, 4)
    return figures


def error_rates(scores: np.ndarray, is_live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """APCER and BPCER at every threshold the scores allow (live when score >= threshold)."""
    thresholds = np.unique(np.concatenate([[scores.min() - 1, scores.max() + 1], scores]))
    apcer = np.array([(scores[~is_live] >= t).mean() for t in thresholds])
    bpcer = np.array([(scores[is_live] < t).mean() for t in thresholds])
    return apcer, bpcer


def plots(scores: np.ndarray | dict, labels: list[str], out: Path) -> None:
    """roc.png and det.png; `scores` one array, or {name: array} for one curve each."""
    import matplotlib

    matplotlib.use("Agg")
    from statistics import NormalDist

    import matplotlib.pyplot as plt

    curves = scores if isinstance(scores, dict) else {"passive PAD": scores}
    is_live = np.array(labels) == "live"
    rates = {name: error_rates(np.asarray(values), is_live) for name, values in curves.items()}
    figure, axis = plt.subplots(figsize=(5, 4.5))
    for name, (apcer, bpcer) in rates.items():
        axis.plot(apcer, 1 - bpcer, label=name)
    axis.set_xlabel("APCER (attacks accepted)")
    axis.set_ylabel("1 - BPCER (bona fide accepted)")
    axis.set_title("ROC")
    if len(rates) > 1:
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "roc.png", dpi=100)
    plt.close(figure)
    clip = lambda v: np.clip(v, 1e-4, 1 - 1e-4)  # noqa: E731
    probit = np.vectorize(NormalDist().inv_cdf)
    figure, axis = plt.subplots(figsize=(5, 4.5))
    for name, (apcer, bpcer) in rates.items():
        axis.plot(probit(clip(apcer)), probit(clip(bpcer)), label=name)
    ticks = [0.001, 0.01, 0.05, 0.2, 0.5]
    axis.set_xticks(probit(ticks), [str(t) for t in ticks])
    axis.set_yticks(probit(ticks), [str(t) for t in ticks])
    axis.set_xlabel("APCER")
    axis.set_ylabel("BPCER")
    axis.set_title("DET")
    if len(rates) > 1:
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "det.png", dpi=100)
    plt.close(figure)


def member_curves(found: list[dict], decision_live: list[float]) -> dict[str, np.ndarray]:
    """The ROC/DET curves' scores: the decision's probability, and each member's own score
    (a margin, live above 0; our own member's probability) for rows where a face was found."""
    from .pad_fusion import MARGIN_MEMBERS

    curves = {"decision": np.array(decision_live)}
    for name in MARGIN_MEMBERS:
        curves[name] = np.array([r["margins"][name] for r in found])
    curves["own"] = np.array([r["own_live"] for r in found])
    return curves


def decision_figures(faces_dir: Path, *, seed: int, out: Path, variations: int,
                     per_species: int) -> dict:
    """The default passive decision (ml/pad_fusion.py) and each of its members on every photo
    of `faces_dir`: the photos as they are and under `variations` benign capture variations
    (tight crops among them), their portraits' simulator live captures and every attack
    species (`per_species` seeds), and the Silent-Face authors' samples."""
    from .fit_fusion import figures_of, presentations, sample_items, score_rows
    from .pad_fusion import PassiveDecision

    names = sorted(p.name for p in faces_dir.iterdir()
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})
    decision = PassiveDecision.load(every_member=True)
    rows = score_rows(presentations(faces_dir, names, variations=variations, seeds=per_species,
                                    seed=seed), decision)
    rows += score_rows(sample_items(), decision)
    (out / "rows.json").write_text(json.dumps(rows) + "\n")
    found = [r for r in rows if r["face"]]
    curves = member_curves(found, [decision.fusion.live(r["margins"], r["contexts"],
                                                        r["own_live"]) for r in found])
    labels = [r["species"] if r["species"] in PAD_CLASSES else "print" for r in found]
    plots(curves, labels, out)
    return {"decision_threshold": decision.threshold(), "seed": seed, "photos": names,
            **figures_of(rows, decision.fusion)}


PICTURE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def captured_items(folder: Path):
    """(picture's path under `folder`, label, picture) for every picture of a labelled folder of
    real presentations: `folder/<label>/...` (any depth), `live` for bona fide and any other
    label for an attack species (print, replay, paper_mask, 3d_mask, ...). Pictures are
    turned upright by their EXIF orientation first, as the APIs do."""
    from .image import load_rgb

    for labelled in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(labelled.rglob("*")):
            if path.suffix.lower() in PICTURE_SUFFIXES and path.is_file():
                yield str(path.relative_to(folder)), labelled.name, load_rgb(path)


def score_captured(items, decision, *, multi_oriented: bool) -> list[dict]:
    """One row per picture: the face the single-image APIs judge (YuNet's proposals confirmed
    by MTCNN, the largest face, other orientations tried when `multi_oriented`), every member's
    margin and context on it, and the decision's probability (the veto included)."""
    from .pad_fusion import margins_and_contexts
    from .pipeline import perception

    pipeline = perception()
    rows = []
    for source, label, picture in items:
        analysis = pipeline.analyze(picture, multi_oriented=multi_oriented, proposed=True)
        row: dict[str, Any] = {"source": source, "species": label}
        if analysis.largest is None:
            rows.append({**row, "face": False})
            continue
        image, box = analysis.detection.image, analysis.largest.face.box
        scores, own = decision.member_scores(image, box)
        margins, contexts = margins_and_contexts(scores)
        rows.append({**row, "face": True, "margins": margins, "contexts": contexts,
                     "own_live": own.live,
                     "live": decision.fusion.live(margins, contexts, own.live),
                     "veto": decision.fusion.veto(margins, contexts) is not None})
    return rows


def captured_figures(rows: list[dict], fusion) -> dict:
    """BPCER on the `live` label and APCER per other label: the decision at every security
    level, and each member at its authors' threshold; how often the real-trained members'
    veto fires per label; the decision's mistakes at the default level, by picture. Pictures
    without a face are counted per label and left out of the rates (an API answers those
    with its no-face error, not a liveness verdict)."""
    from .pad_fusion import MARGIN_MEMBERS, SECURITY_LEVELS

    found = [r for r in rows if r["face"]]
    labels = sorted({r["species"] for r in rows})

    def rates(accept) -> dict:
        live = [accept(r) for r in found if r["species"] == "live"]
        apcer = {label: round(float(np.mean([accept(r) for r in found
                                             if r["species"] == label])), 4)
                 for label in labels if label != "live"
                 and any(r["species"] == label for r in found)}
        bpcer = round(1 - float(np.mean(live)), 4) if live else None
        worst = max(apcer.values(), default=0.0)
        return {"bpcer": bpcer, "apcer": apcer,
                "acer": round((worst + (bpcer or 0.0)) / 2, 4)}

    def live_at(threshold: float):
        return lambda r: r["live"] >= threshold

    default = fusion.threshold()
    figures: dict[str, Any] = {
        "presentations": {label: sum(r["species"] == label for r in rows) for label in labels},
        "no_face": {label: sum(r["species"] == label and not r["face"] for r in rows)
                    for label in labels},
        "decision": {"threshold": default,
                     **rates(live_at(default)),
                     "levels": {level: {"threshold": fusion.threshold(level),
                                        **rates(live_at(fusion.threshold(level)))}
                                for level in SECURITY_LEVELS}},
        "members": {name: rates(lambda r, name=name: r["margins"][name] > 0)
                    for name in MARGIN_MEMBERS if all(name in r["margins"] for r in found)},
        "veto_fired": {label: round(float(np.mean([r["veto"] for r in found
                                                   if r["species"] == label])), 4)
                       for label in labels if any(r["species"] == label for r in found)},
        "misjudged": [{"picture": r["source"], "label": r["species"],
                       "live": round(r["live"], 4), "veto": r["veto"]}
                      for r in found if (r["live"] >= default) != (r["species"] == "live")],
    }
    figures["members"]["own"] = rates(lambda r: r["own_live"] >= 0.5)
    return figures


def presentation_figures(folder: Path, *, out: Path, multi_oriented: bool = False) -> dict:
    """The default passive decision and each member on a labelled folder of real presentations
    (captured_items): figures.json's figures, rows.json (every picture's scores), ROC and DET
    plots (the decision and every member, each over its own score)."""
    from .pad_fusion import PassiveDecision

    decision = PassiveDecision.load(every_member=True)
    rows = score_captured(captured_items(folder), decision, multi_oriented=multi_oriented)
    (out / "rows.json").write_text(json.dumps(rows) + "\n")
    found = [r for r in rows if r["face"]]
    if not found:
        raise SystemExit(f"no face found in any picture under {folder}")
    curves = member_curves(found, [r["live"] for r in found])
    # plots() counts every label other than live as an attack
    plots(curves, ["live" if r["species"] == "live" else "print" for r in found], out)
    return {"folder": str(folder), **captured_figures(rows, decision.fusion)}


def check_pass_rates(faces_dir: Path, seed: int) -> dict:
    from .actions import analyse_action_clip
    from .flash import analyse_flash, flash_challenge_new
    from .mesh import FaceMesher
    from .pipeline import perception
    from .simulator.flash import SCENARIOS, render_flash_clip
    from .simulator.head import render_action_clip

    detector, mesher = perception().detector, FaceMesher()
    flash: dict[str, list] = {s: [] for s in SCENARIOS}
    action: dict[str, list] = {"live": [], "print": []}
    script = [("blink", 200, 350), ("turn_left", 700, 1000), ("mouth_open", 1900, 600)]
    for label, frame, box in face_portraits(faces_dir):
        item = zlib.crc32(f"{seed}/{label}".encode())
        challenge = flash_challenge_new(np.random.default_rng(item))
        for scenario in SCENARIOS:
            frames, times, _ = render_flash_clip(frame, box, challenge, scenario=scenario,
                                                 seed=item)
            flash[scenario].append(analyse_flash(frames, times, challenge,
                                                 detector=detector).passed)
        points = mesher.landmarks(frame, detector.detect(frame)[0])
        for kind in action:
            frames, times = render_action_clip(frame, points, script, duration_ms=2700,
                                               seed=item, planar=kind == "print", fps=10)
            action[kind].append(analyse_action_clip(
                frames, times, ["blink", "turn_left", "mouth_open"], timeout_ms=10_000,
                detector=detector, mesher=mesher).passed)
    rate = lambda results: round(float(np.mean(results)), 4) if results else None  # noqa: E731
    return {"flash_pass_rate": {k: rate(v) for k, v in flash.items()},
            "action_pass_rate": {k: rate(v) for k, v in action.items()},
            "clips_per_scenario": len(action["live"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.evaluate", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--faces", type=Path)
    source.add_argument("--data", type=Path)
    source.add_argument("--presentations", type=Path,
                        help="a folder of real captures by label: DIR/live/..., DIR/print/..., "
                             "any other label an attack species")
    parser.add_argument("--multi-oriented", action="store_true",
                        help="--presentations: try the other orientations when no upright face")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None,
                        help="a PAD checkpoint (default: the project's verified baseline)")
    parser.add_argument("--per-species", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--variations", type=int, default=20,
                        help="benign capture variations per real photo (decision mode)")
    args = parser.parse_args(argv)
    import cv2

    if args.presentations is not None and (not args.presentations.is_dir() or not any(
            p.is_dir() for p in args.presentations.iterdir())):
        parser.error(f"--presentations {args.presentations}: not a folder of labelled folders "
                     "(live/, print/, replay/, ...)")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.presentations is not None:
        figures = presentation_figures(args.presentations, out=args.out,
                                       multi_oriented=args.multi_oriented)
        (args.out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures))
        return 0
    if args.faces is not None and args.model is None:
        figures = decision_figures(args.faces, seed=args.seed, out=args.out,
                                   variations=args.variations, per_species=args.per_species)
        figures.update(check_pass_rates(args.faces, args.seed))
        (args.out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures))
        return 0
    data = args.data
    if args.faces is not None:
        data = args.out / "data"
        pad_set(args.faces, data, seed=args.seed, per_species=args.per_species)
    if args.model is None:
        from .weights import weight_path

        args.model = weight_path("pad_baseline")
    model = PadModel.load(args.model)
    crops, labels = [], []
    for species in PAD_CLASSES:
        for path in sorted((data / species).glob("*.png")) if (data / species).is_dir() else []:
            crops.append(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
            labels.append(species)
    scores = np.array([s.live for s in model.score_crops(crops)]) if crops else np.array([])
    figures = {"model": str(args.model), "seed": args.seed, "images": len(crops),
               **pad_figures(scores, labels, args.threshold)}
    if crops:
        plots(scores, labels, args.out)
    if args.faces is not None:
        figures.update(check_pass_rates(args.faces, args.seed))
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
