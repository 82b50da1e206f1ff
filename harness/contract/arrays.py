"""Checks on the arrays a container writes: dtype, shape, row count, finiteness, probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ArrayProblem(Exception):
    """An output array breaks the contract; the message names the file and what was expected."""


def load_output_array(path: Path) -> np.ndarray:
    if not path.exists():
        raise ArrayProblem(f"{path.name}: missing from /output")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise ArrayProblem(f"{path.name}: not a readable .npy array ({exc})") from None


def check_embeddings(path: Path, n_rows: int, expected_dim: int | None = None) -> np.ndarray:
    emb = load_output_array(path)
    if emb.dtype not in (np.float32, np.float16):
        raise ArrayProblem(f"{path.name}: dtype {emb.dtype}, expected float32 or float16")
    if emb.ndim != 2:
        raise ArrayProblem(f"{path.name}: shape {emb.shape}, expected 2-D [N, D]")
    if emb.shape[0] != n_rows:
        raise ArrayProblem(f"{path.name}: {emb.shape[0]} rows, expected {n_rows} (one per input image)")
    if expected_dim is not None and emb.shape[1] != expected_dim:
        raise ArrayProblem(f"{path.name}: dimension {emb.shape[1]}, result.json declares {expected_dim}")
    bad = ~np.isfinite(np.asarray(emb, dtype=np.float32))
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ArrayProblem(f"{path.name}: {len(rows)} rows hold NaN or infinite values (first row {rows[0]})")
    return np.asarray(emb, dtype=np.float32)


def check_probabilities(path: Path, n_rows: int, n_outputs: int, multilabel: bool) -> np.ndarray:
    probs = load_output_array(path)
    if probs.dtype != np.float32:
        raise ArrayProblem(f"{path.name}: dtype {probs.dtype}, expected float32")
    if probs.shape != (n_rows, n_outputs):
        raise ArrayProblem(f"{path.name}: shape {probs.shape}, expected ({n_rows}, {n_outputs})")
    probs = np.asarray(probs)
    if not np.isfinite(probs).all():
        raise ArrayProblem(f"{path.name}: holds NaN or infinite values")
    if (probs < -1e-6).any() or (probs > 1 + 1e-6).any():
        raise ArrayProblem(f"{path.name}: values outside [0, 1]")
    if not multilabel and not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ArrayProblem(f"{path.name}: rows do not sum to 1 (expected class probabilities)")
    return probs
