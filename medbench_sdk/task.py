"""Reading a cell's ``/input``: ``task.json`` and the memory-mapped image arrays."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbench_sdk.contract import CONTRACT_VERSION, EMBED_INPUTS, FINETUNE_INPUTS, INPUT_DIR, KINDS


class InputError(Exception):
    """The harness handed over an input that breaks the contract (names the file and field)."""


@dataclass(frozen=True)
class Dataset:
    name: str
    task_type: str
    class_names: list[str]
    modality: str
    original_channels: int
    official_metric: str | None = None  # optional in task.json: the dataset's headline metric

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class Task:
    """Everything ``task.json`` says, plus lazy access to the arrays beside it."""

    contract_version: int
    kind: str
    dataset: Dataset
    seed: int
    variant: str
    input_size: int | None
    max_epochs: int
    max_seconds: float
    batch_size: int
    precision: str
    input_dir: str = INPUT_DIR
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def _array(self, name: str) -> np.ndarray:
        path = os.path.join(self.input_dir, name)
        if not os.path.exists(path):
            raise InputError(f"{path}: missing; the contract's {self.kind} input has {name}")
        return np.load(path, mmap_mode="r", allow_pickle=False)

    def images(self) -> np.ndarray:
        """embed: uint8 ``[N, H, W, 3]``, memory-mapped."""
        return self._array("images.npy")

    def train_images(self) -> np.ndarray:
        return self._array("train_images.npy")

    def train_labels(self) -> np.ndarray:
        return np.asarray(self._array("train_labels.npy"))

    def val_images(self) -> np.ndarray:
        return self._array("val_images.npy")

    def val_labels(self) -> np.ndarray:
        return np.asarray(self._array("val_labels.npy"))

    def test_images(self) -> np.ndarray:
        return self._array("test_images.npy")


def _require(obj: dict, key: str, kind: type | tuple, where: str) -> Any:
    if key not in obj:
        raise InputError(f"{where}: field '{key}' is missing")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"{where}: field '{key}' should be {kind}, got {type(value).__name__}")
    return value


def read_task(input_dir: str | None = None) -> Task:
    """Parse and check ``task.json``; raise :class:`InputError` naming the file and field."""
    input_dir = input_dir or INPUT_DIR
    path = os.path.join(input_dir, "task.json")
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: missing") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    version = _require(raw, "contract_version", int, path)
    if version != CONTRACT_VERSION:
        raise InputError(f"{path}: contract_version {version}; this SDK speaks {CONTRACT_VERSION}")
    kind = _require(raw, "kind", str, path)
    if kind not in KINDS:
        raise InputError(f"{path}: field 'kind' is {kind!r}, expected one of {KINDS}")
    ds = _require(raw, "dataset", dict, path)
    dataset = Dataset(
        name=_require(ds, "name", str, f"{path} dataset"),
        task_type=_require(ds, "task_type", str, f"{path} dataset"),
        class_names=list(_require(ds, "class_names", list, f"{path} dataset")),
        modality=_require(ds, "modality", str, f"{path} dataset"),
        original_channels=_require(ds, "original_channels", int, f"{path} dataset"),
        official_metric=ds.get("official_metric"),
    )
    budget = _require(raw, "budget", dict, path)
    hints = _require(raw, "hints", dict, path)
    input_size = raw.get("input_size")
    if input_size is not None and not isinstance(input_size, int):
        raise InputError(f"{path}: field 'input_size' should be an integer or null")
    task = Task(
        contract_version=version,
        kind=kind,
        dataset=dataset,
        seed=_require(raw, "seed", int, path),
        variant=_require(raw, "variant", str, path),
        input_size=input_size,
        max_epochs=_require(budget, "max_epochs", int, f"{path} budget"),
        max_seconds=float(_require(budget, "max_seconds", (int, float), f"{path} budget")),
        batch_size=_require(hints, "batch_size", int, f"{path} hints"),
        precision=_require(hints, "precision", str, f"{path} hints"),
        input_dir=input_dir,
        raw=raw,
    )
    expected = EMBED_INPUTS if kind == "embed" else FINETUNE_INPUTS
    missing = [name for name in expected if not os.path.exists(os.path.join(input_dir, name))]
    if missing:
        raise InputError(f"{input_dir}: {kind} input lacks {', '.join(missing)}")
    return task
