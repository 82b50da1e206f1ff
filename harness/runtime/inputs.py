"""Building a cell's ``/input``: ``task.json`` plus image arrays; test labels never go in.

For ``embed`` the prepared cache's ``images.npy`` (all splits, lock order) is bind-mounted read-only
as ``/input/images.npy``: no copy per cell. For ``finetune`` the train / val / test slices are written
out, with labels for train and val only.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from harness.contract.validation import validate_document
from medbench_sdk.contract import CONTRACT_VERSION


def task_document(
    kind: str,
    dataset_block: dict[str, Any],
    variant: str,
    input_size: int | None,
    inputs: dict[str, list[int]],
    seed: int = 0,
    max_epochs: int = 10,
    max_seconds: float = 3600.0,
    batch_size: int = 64,
    precision: str = "fp32",
) -> dict[str, Any]:
    doc = {
        "contract_version": CONTRACT_VERSION,
        "kind": kind,
        "dataset": dataset_block,
        "seed": seed,
        "variant": variant,
        "input_size": input_size,
        "budget": {"max_epochs": max_epochs, "max_seconds": max_seconds},
        "hints": {"batch_size": batch_size, "precision": precision},
        "inputs": inputs,
    }
    validate_document(doc, "task", "task.json")
    return doc


def _fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.chmod(path, 0o755)
    return path


def _write_task(input_dir: Path, doc: dict[str, Any]) -> None:
    (input_dir / "task.json").write_text(json.dumps(doc, indent=2))
    os.chmod(input_dir / "task.json", 0o644)


def embed_input(input_dir: Path, images_path: Path, task: dict[str, Any]) -> dict[str, Path]:
    """Returns the read-only file mounts the container needs beside the folder."""
    _fresh_dir(input_dir)
    _write_task(input_dir, task)
    (input_dir / "images.npy").touch(0o644)  # mount point for the bind of the prepared cache file
    return {"/input/images.npy": images_path}


def finetune_input(input_dir: Path, arrays: dict[str, np.ndarray], task: dict[str, Any]) -> dict[str, Path]:
    allowed = {"train_images", "train_labels", "val_images", "val_labels", "test_images"}
    if set(arrays) != allowed:
        raise ValueError(f"finetune input takes exactly {sorted(allowed)}, got {sorted(arrays)}")
    _fresh_dir(input_dir)
    _write_task(input_dir, task)
    for name, array in arrays.items():
        np.save(input_dir / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        os.chmod(input_dir / f"{name}.npy", 0o644)
    return {}
