"""`python -m ml.finetune_pad --identities DIR --out FILE`: our own passive member, fine-tuned.

Starts from the Silent-Face authors' real-trained MiniFASNetV2 (2.7x crop, ml/weights/
silent_face/), whose head is widened to our five classes (live, print, replay, mask, blend; the
live row starts as the authors' live row, each attack row as one of their two attack rows), and
fine-tunes it on presentations made only from the *train* part of ml/pad_split.py:
- live: the train photos' faces as selfies under benign capture variation (ml/capture.py,
  tight crops among them), with `--people` the train people's real photos (fixtures/people.py)
  the same way, and every synthetic identity (ml/simulator/identities.py, made from
  train photos only) as the simulator's live capture, under the same variations;
- attacks: every species of ml/simulator/attacks.py rendered from the same identities and
  people.
Every presentation is cropped the way the model will see it in production: our detector's box
on the rendered picture, the authors' crop rule, BGR. Crops are cached (OUT.crops.npz) so a
second run only trains. Seeded; writes the checkpoint (ml/pad_finetuned.py FinetunedPadModel format) and
prints one JSON line per epoch and one last with the recipe.
"""

import argparse
import json
import sys
import time
from itertools import chain
from pathlib import Path

import numpy as np

from .capture import KINDS, SESSION_JPEG_QUALITIES, jpeg_roundtrip, vary
from .pad_data import item_seed
from .pad_split import PEOPLE_SPLIT, SPLIT, people_photos

CLASSES = ("live", "print", "replay", "mask", "blend")
# The authors' classes: 0 and 2 are two kinds of attack, 1 is live.
HEAD_INIT = {"live": 1, "print": 0, "replay": 2, "mask": 0, "blend": 2}
BASE_VARIANT, BASE_WEIGHTS = "MiniFASNetV2", "silent_face_v2"
# Texture windows cut from each training picture (at random places of the face's inner region).
TEXTURE_TRAIN_WINDOWS = 2


def presentations(faces_dir: Path, names: list[str], identities: Path | None, *, seed: int,
                  real_variations: int, live_variations: int, attack_seeds: int,
                  frame_jpeg: bool = False):
    """(class, source, picture) for one part of the split. With `frame_jpeg`, every odd
    render (live and attack alike) reaches the crop as a JPEG of the whole frame at a quality
    of SESSION_JPEG_QUALITIES, as a session's frames do (the SDK sends quality 85): the
    species' fine texture is what JPEG takes away first, and a model that only saw it intact
    passes compressed prints."""
    from .pad_data import face_portraits, identity_frames, selfie_frames
    from .simulator.attacks import render_attack

    for source, rgb, box in selfie_frames(faces_dir, names):
        yield "live", source, rgb
        for n in range(real_variations):
            kind = KINDS[n % len(KINDS)]
            yield "live", source, vary(kind, rgb, box, np.random.default_rng(
                item_seed(seed, source, kind, n)))
    def sent(picture: np.ndarray, label: str, species: str, n: int) -> np.ndarray:
        if not (frame_jpeg and n % 2):
            return picture
        quality = np.random.default_rng(item_seed(seed, label, species, n, "jpeg"))
        return jpeg_roundtrip(picture, int(quality.choice(SESSION_JPEG_QUALITIES)))

    sources = list(face_portraits(faces_dir, names))
    if identities is not None:
        sources += list(identity_frames(identities, names))
    for label, frame, box in sources:
        for n in range(live_variations):
            rng = np.random.default_rng(item_seed(seed, label, "live", n))
            picture = render_attack("live", frame, box,
                                    seed=item_seed(seed, label, "render", n))
            if n:  # the first as rendered, the others through a benign variation
                picture = vary(KINDS[int(rng.integers(len(KINDS)))], picture, box, rng)
            yield "live", label, sent(picture, label, "live", n)
        for species in CLASSES[1:]:
            for n in range(attack_seeds):
                picture = render_attack(species, frame, box,
                                        seed=item_seed(seed, label, species, n))
                yield species, label, sent(picture, label, species, n)


def crops_of(items, crop_spec, *, mode: str = "context", seed: int = 0,
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Our detector's box on each picture, then the authors' crop ("context") or
    TEXTURE_TRAIN_WINDOWS texture windows at random places ("texture",
    ml/pad_finetuned.py texture_patches); BGR uint8."""
    from .pad_finetuned import texture_patches
    from .pipeline import perception
    from .silent_face import authors_patch

    detector = perception().detector
    rng = np.random.default_rng(seed)
    crops, labels, sources = [], [], []
    for species, source, picture in items:
        faces = detector.detect(picture)
        if not faces:
            continue
        if mode == "texture":
            patches = texture_patches(picture, faces[0].box, crop_spec.height,
                                      count=TEXTURE_TRAIN_WINDOWS, rng=rng)
        else:
            patches = [authors_patch(picture, faces[0].box, crop_spec)]
        for patch in patches:
            crops.append(np.ascontiguousarray(patch[:, :, ::-1]))
            labels.append(CLASSES.index(species))
            sources.append(source)
    return np.stack(crops), np.array(labels), sources


def base_network():
    """The authors' network with a five-class head that starts as their own decision."""
    import torch

    from .silent_face import SilentFaceModel
    from .weights import weight_path

    base = SilentFaceModel.load(weight_path(BASE_WEIGHTS))
    network = base.network
    old = network.prob.weight.detach().clone()
    network.prob = torch.nn.Linear(old.shape[1], len(CLASSES), bias=False)
    with torch.no_grad():
        for index, name in enumerate(CLASSES):
            network.prob.weight[index] = old[HEAD_INIT[name]]
    return network, base.crop


def _jpeg_noise(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the crops get sensor noise and a JPEG re-encoding at quality 50-95, as phone frames
    arrive (a member that loses its verdict to compression refuses real uploads)."""
    import cv2

    out = batch.copy()
    for i in np.flatnonzero(rng.random(len(batch)) < 0.5):
        noisy = np.clip(out[i].astype(np.float32) + rng.normal(0, rng.uniform(0, 3), out[i].shape),
                        0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 96))])
        out[i] = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out


def _augment(batch: np.ndarray, rng: np.random.Generator, jpeg: bool = False) -> np.ndarray:
    if jpeg:
        batch = _jpeg_noise(batch, rng)
    flip = rng.random(len(batch)) < 0.5
    batch = batch.astype(np.float32)
    batch[flip] = batch[flip][:, :, ::-1]
    gain = rng.uniform(0.85, 1.15, (len(batch), 1, 1, 1))
    bias = rng.uniform(-15, 15, (len(batch), 1, 1, 1))
    return np.clip(batch * gain + bias, 0, 255).astype(np.float32)


def train(crops: np.ndarray, labels: np.ndarray, network, *, epochs: int, seed: int,
          batch_size: int = 64, learning_rate: float = 3e-4, jpeg: bool = False) -> list[dict]:
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    # live weighs as much as all attacks together; the species share the other half
    class_weights = np.where(np.arange(len(CLASSES)) == 0, 0.5 / max(counts[0], 1),
                             0.5 / max(counts[1:].sum(), 1)) * len(labels)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(class_weights, dtype=torch.float32))
    optimiser = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=1e-4)
    steps = epochs * ((len(crops) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=learning_rate,
                                                   total_steps=steps, pct_start=0.15)
    history = []
    for epoch in range(epochs):
        network.train()
        order = rng.permutation(len(crops))
        seen = correct = 0
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            if len(index) < 2:  # batch norm needs two
                continue
            inputs = torch.from_numpy(_augment(crops[index], rng, jpeg)).permute(0, 3, 1, 2)
            targets = torch.from_numpy(labels[index])
            optimiser.zero_grad()
            logits = network(inputs)
            loss = loss_fn(logits, targets)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
            correct += int(((logits.argmax(1) == 0) == (targets == 0)).sum())
            seen += len(index)
        history.append({"epoch": epoch + 1, "loss": round(total / seen, 4),
                        "live_vs_attack_accuracy": round(correct / seen, 4)})
        print(json.dumps(history[-1]), flush=True)
    return history


def save(network, crop, path: Path, recipe: dict, mode: str = "context") -> None:
    import torch

    from .pad_finetuned import FINETUNED_FORMAT

    torch.save({"format": FINETUNED_FORMAT, "variant": BASE_VARIANT, "classes": list(CLASSES),
                "crop": {"scale": crop.scale, "height": crop.height, "width": crop.width,
                         "mode": mode},
                "state_dict": network.state_dict(), "recipe": recipe}, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.finetune_pad", description=__doc__)
    parser.add_argument("--faces", type=Path, default=Path("fixtures/photos"))
    parser.add_argument("--identities", type=Path, default=None,
                        help="a folder of `python -m ml.simulator.identities` (train sources)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--real-variations", type=int, default=30)
    parser.add_argument("--live-variations", type=int, default=3)
    parser.add_argument("--attack-seeds", type=int, default=1)
    parser.add_argument("--people", type=Path, default=None,
                        help="fixtures/people (fixtures/people.py): the train part's real photos "
                             "of many people (ml/pad_split.py PEOPLE_SPLIT) join the live class, "
                             "and every species is rendered from them")
    parser.add_argument("--people-variations", type=int, default=15)
    parser.add_argument("--jpeg-augment", action="store_true",
                        help="noise and JPEG re-encoding on half the crops while training")
    parser.add_argument("--frame-jpeg", action="store_true",
                        help="every odd render reaches the crop as a JPEG of the whole frame "
                             "(quality 75, 85 or 95), as a session's frames do")
    parser.add_argument("--crop-mode", choices=("context", "texture"), default="context",
                        help="context: the authors' 2.7x crop (our member); texture: windows "
                             "of the face at the camera's resolution (the texture member)")
    args = parser.parse_args(argv)
    import torch

    torch.manual_seed(args.seed)
    started = time.monotonic()
    network, crop = base_network()
    cache = args.out.with_suffix(".crops.npz")
    if cache.is_file():
        data = np.load(cache)
        crops, labels = data["crops"], data["labels"]
    else:
        items = presentations(args.faces, SPLIT["train"], args.identities, seed=args.seed,
                              real_variations=args.real_variations,
                              live_variations=args.live_variations,
                              attack_seeds=args.attack_seeds, frame_jpeg=args.frame_jpeg)
        if args.people is not None:
            items = chain(items, presentations(
                args.people, people_photos("train"), None, seed=args.seed,
                real_variations=args.people_variations, live_variations=args.live_variations,
                attack_seeds=args.attack_seeds, frame_jpeg=args.frame_jpeg))
        crops, labels, _ = crops_of(items, crop, mode=args.crop_mode, seed=args.seed)
        np.savez_compressed(cache, crops=crops, labels=labels)
    prepared = time.monotonic() - started
    history = train(crops, labels, network, epochs=args.epochs, seed=args.seed,
                    jpeg=args.jpeg_augment)
    network.eval()
    given = sys.argv[1:] if argv is None else argv
    recipe = {"command": "python -m ml.finetune_pad " + " ".join(given),
              "split_train": SPLIT["train"],
              **({"people_train": PEOPLE_SPLIT["train"]} if args.people else {}),
              "base": "Silent-Face 2.7_80x80_MiniFASNetV2.pth",
              "crops_per_class": {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)},
              "epochs": args.epochs, "seed": args.seed, "jpeg_augment": args.jpeg_augment,
              "frame_jpeg": args.frame_jpeg, "crop_mode": args.crop_mode,
              "final": history[-1],
              "prepare_seconds": round(prepared, 1),
              "seconds": round(time.monotonic() - started, 1)}
    save(network, crop, args.out, recipe, mode=args.crop_mode)
    print(json.dumps(recipe))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
