"""Writing a cell's ``/output``: arrays first, ``result.json`` last (its presence means 'done')."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from medbench_sdk.contract import OUTPUT_DIR


def _save(name: str, array: np.ndarray, output_dir: str) -> str:
    path = os.path.join(output_dir, name)
    tmp = path + ".partial"
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, path)
    return path


def write_result(result: dict[str, Any], output_dir: str | None = None) -> str:
    output_dir = output_dir or OUTPUT_DIR
    path = os.path.join(output_dir, "result.json")
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def write_embeddings(embeddings: np.ndarray, output_dir: str | None = None) -> str:
    """float32 or float16 ``[N, D]``; row i belongs to image i of ``images.npy``."""
    embeddings = np.asarray(embeddings)
    if embeddings.dtype not in (np.float32, np.float16):
        embeddings = embeddings.astype(np.float32)
    return _save("embeddings.npy", np.ascontiguousarray(embeddings), output_dir or OUTPUT_DIR)


def write_predictions(
    test_probs: np.ndarray, val_probs: np.ndarray | None = None, output_dir: str | None = None
) -> list[str]:
    """float32 ``[N_test, C]`` class probabilities (per-label probabilities for multilabel)."""
    output_dir = output_dir or OUTPUT_DIR
    paths = [_save("test_probs.npy", np.asarray(test_probs, dtype=np.float32), output_dir)]
    if val_probs is not None:
        paths.append(_save("val_probs.npy", np.asarray(val_probs, dtype=np.float32), output_dir))
    return paths
