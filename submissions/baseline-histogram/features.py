"""Hand-crafted image features: 16-bin histograms per RGB channel + an 8x8 RGB thumbnail."""

import numpy as np

BINS = 16
THUMB = 8
DIM = 3 * BINS + THUMB * THUMB * 3


def thumbnail(images: np.ndarray, size: int = THUMB) -> np.ndarray:
    """Area-average downsampling of uint8 [N, H, W, 3] to [N, size, size, 3] in [0, 1]."""
    n, h, w, _ = images.shape
    ys = np.linspace(0, h, size + 1).astype(int)
    xs = np.linspace(0, w, size + 1).astype(int)
    x = images.astype(np.float32) / 255.0
    out = np.empty((n, size, size, 3), dtype=np.float32)
    for i in range(size):
        for j in range(size):
            out[:, i, j] = x[:, ys[i] : max(ys[i + 1], ys[i] + 1), xs[j] : max(xs[j + 1], xs[j] + 1)].mean(axis=(1, 2))
    return out


def histograms(images: np.ndarray, bins: int = BINS) -> np.ndarray:
    n = len(images)
    idx = (images.astype(np.int64) * bins) // 256  # [N, H, W, 3] bin per pixel and channel
    flat = idx.reshape(n, -1, 3)
    out = np.empty((n, 3 * bins), dtype=np.float32)
    for c in range(3):
        counts = np.apply_along_axis(np.bincount, 1, flat[:, :, c], minlength=bins)
        out[:, c * bins : (c + 1) * bins] = counts / flat.shape[1]
    return out


def embed(images: np.ndarray, batch: int = 512) -> np.ndarray:
    chunks = []
    for start in range(0, len(images), batch):
        x = np.asarray(images[start : start + batch])
        chunks.append(np.concatenate([histograms(x), thumbnail(x).reshape(len(x), -1)], axis=1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, DIM), np.float32)
