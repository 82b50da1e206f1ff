"""Near-duplicate images across splits: a perceptual hash (imagehash's pHash) of every prepared image;
two images in different splits whose hashes differ in at most ``max_distance`` bits are reported."""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

from harness.datasets.raw import SPLITS


@dataclass(frozen=True)
class DuplicatePair:
    split_a: str
    id_a: str
    split_b: str
    id_b: str
    distance: int


def phash64(images: np.ndarray) -> np.ndarray:
    """``[N]`` uint64: the 8x8 pHash of each ``[H, W, 3]`` uint8 image, packed."""
    bits = np.stack([imagehash.phash(Image.fromarray(np.asarray(img))).hash.reshape(-1) for img in images])
    return np.packbits(bits.astype(np.uint8), axis=1).view(">u8").astype(np.uint64).reshape(-1)


def cross_split_duplicates(images: np.ndarray, offsets: dict[str, tuple[int, int]], ids: dict[str, list[str]],
                           max_distance: int = 4) -> list[DuplicatePair]:
    """Every pair of images in two different splits within ``max_distance`` Hamming bits."""
    hashes = phash64(images)
    split_of = np.empty(len(hashes), dtype=object)
    for split in SPLITS:
        split_of[slice(*offsets[split])] = split
    pairs = []
    for i in range(len(hashes)):
        later = np.arange(i + 1, len(hashes))
        later = later[split_of[later] != split_of[i]]
        if not len(later):
            continue
        dist = np.bitwise_count(hashes[later] ^ hashes[i])
        for j, d in zip(later[dist <= max_distance], dist[dist <= max_distance]):
            a, b = split_of[i], split_of[j]
            pairs.append(DuplicatePair(a, ids[a][i - offsets[a][0]], b, ids[b][j - offsets[b][0]], int(d)))
    return pairs
