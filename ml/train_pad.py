"""`python -m ml.train_pad --data DIR --out FILE`: train the PAD network on an image folder.

DIR holds one folder per class of PAD_CLASSES (live/, print/, replay/, mask/, blend/; missing
ones are allowed) of 80 x 80 crops (`python -m ml.pad_data` makes them). Random flips and
brightness/contrast jitter; AdamW; cross-entropy; a progress bar per epoch. Seeded: the same
data and seed give the same weights on the same machine.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .pad import INPUT_SIZE, PAD_CLASSES, build_network, checkpoint_save, to_tensor


def load_folder(data: Path) -> tuple[list[np.ndarray], np.ndarray]:
    import cv2

    images, labels = [], []
    for index, name in enumerate(PAD_CLASSES):
        for path in sorted((data / name).glob("*.png")) if (data / name).is_dir() else []:
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            if image.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
                image = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
            images.append(image)
            labels.append(index)
    if not images:
        raise SystemExit(f"no training images under {data} (folders: {', '.join(PAD_CLASSES)})")
    return images, np.array(labels)


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flip = rng.random(len(batch)) < 0.5
    batch = batch.copy()
    batch[flip] = batch[flip][:, :, ::-1]
    gain = rng.uniform(0.8, 1.2, (len(batch), 1, 1, 1))
    bias = rng.uniform(-20, 20, (len(batch), 1, 1, 1))
    return np.clip(batch.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def train(data: Path, out: Path, *, epochs: int, seed: int, batch_size: int = 64,
          learning_rate: float = 2e-3) -> dict:
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, labels = load_folder(data)
    images = np.stack(images)
    network = build_network()
    optimiser = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    started, history = time.time(), []
    for epoch in range(epochs):
        network.train()
        order = rng.permutation(len(images))
        seen = correct = 0
        total_loss = 0.0
        bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                   unit="batch", leave=False)
        for start in bar:
            index = order[start:start + batch_size]
            inputs = to_tensor(list(_augment(images[index], rng)))
            targets = torch.from_numpy(labels[index])
            optimiser.zero_grad()
            logits = network(inputs)
            loss = loss_fn(logits, targets)
            loss.backward()
            optimiser.step()
            total_loss += float(loss) * len(index)
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(index)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        schedule.step()
        history.append({"epoch": epoch + 1, "loss": round(total_loss / seen, 4),
                        "accuracy": round(correct / seen, 4)})
        print(json.dumps(history[-1]), flush=True)
    network.eval()
    counts = {name: int((labels == i).sum()) for i, name in enumerate(PAD_CLASSES)}
    recipe = {"data": str(data), "images_per_class": counts, "epochs": epochs, "seed": seed,
              "batch_size": batch_size, "learning_rate": learning_rate,
              "final": history[-1], "seconds": round(time.time() - started, 1)}
    checkpoint_save(network, out, recipe=recipe)
    return recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.train_pad", description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(train(args.data, args.out, epochs=args.epochs, seed=args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
