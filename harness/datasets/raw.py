"""``RawDataset``: what an adapter reads from a publisher's layout, split into train / val / test.

Array layouts (MedMNIST) carry decoded ``images``; folder layouts carry image ``paths`` (decoded once,
when the prepared cache is built) and, where the data knows them, a ``group`` (patient / lesion) per case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass
class RawSplit:
    ids: list[str]
    labels: np.ndarray  # [N] int64 class index, or [N, L] {0,1} for multilabel
    images: np.ndarray | None = None  # [N, H, W] or [N, H, W, C] uint8 (array layouts)
    paths: list[Path] | None = None  # one image file per case (folder layouts)
    rows: list[str] | None = None  # where each case is listed ('csv, row N'), for error messages
    groups: list[str] | None = None  # patient / lesion id per case
    subsets: list[str] | None = None


@dataclass
class RawDataset:
    name: str
    splits: dict[str, RawSplit]
    source_files: dict[str, Path]  # file name in the lock -> path on disk
    notes: list[str] = field(default_factory=list)

    def all_labels(self) -> np.ndarray:
        return np.concatenate([self.splits[s].labels for s in SPLITS])

    @property
    def has_groups(self) -> bool:
        return all(self.splits[s].groups is not None for s in SPLITS)
