"""Helpers for the evaluation and report tests: real image files and labelled photo folders.
(The tiny open_clip model comes from conftest's ``tiny_model`` fixtures.)"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_photo(seed: int, size: int = 48) -> Image.Image:
    """A deterministic random picture (each seed different)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")


def write_photos(folder: Path, seeds) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in seeds:
        p = folder / f"photo_{s}.png"
        make_photo(s).save(p)
        paths.append(p)
    return paths


def write_dataset(root: Path, people: dict[str, int], labels: dict[str, tuple[int, int]]) -> tuple[Path, Path]:
    """``people``: name → number of photos; ``labels``: name → (member, occurrences).
    Folders are named after people; returns (dataset dir, labels.csv)."""
    root = Path(root)
    data = root / "data"
    for i, (name, n) in enumerate(people.items()):
        write_photos(data / name, [1000 * (i + 1) + j for j in range(n)])
    lab = root / "labels.csv"
    lines = ["name,member,occurrences"] + [f"{n},{m},{o}" for n, (m, o) in labels.items()]
    lab.write_text("\n".join(lines) + "\n")
    return data, lab
