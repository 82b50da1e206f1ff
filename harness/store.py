"""The results store: one JSON record per cell, stored under its cache key, and beside it a compressed
``.npz`` of the cell's test predictions (and the test labels they are scored against), so that paired
statistics between models can be computed at publish time.

The cache key hashes everything that can change a cell's numbers: the image digest, the split lock
hash, the protocol config, the contract and scoring versions. A rebuilt image is a new digest, so a
stale result is never reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harness.contract.validation import validate_document
from harness.hashing import canonical_hash
from harness.paths import medbench_home


def cache_key(inputs: dict[str, Any]) -> str:
    return canonical_hash(inputs)


class ResultsStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else medbench_home() / "results"
        (self.root / "records").mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / "records" / key[:2] / f"{key}.json"

    def predictions_path(self, key: str) -> Path:
        return self.root / "records" / key[:2] / f"{key}.npz"

    def put_predictions(
        self, key: str, y_test: np.ndarray, members: list[np.ndarray], task_type: str, groups: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Store ``members`` (``[S, N, C]``: one or more test-probability arrays), the test labels and, where the
        dataset knows them, the test cases' groups (patient / lesion); returns the record's ``predictions`` block."""
        path = self.predictions_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.npz")
        arrays = {"probs": np.stack([np.asarray(m, dtype=np.float32) for m in members]), "y_test": np.asarray(y_test)}
        if groups is not None:
            arrays["groups"] = np.asarray(groups, dtype=str)
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return {"file": path.name, "members": len(members), "sha256": digest, "task_type": task_type}

    def get_predictions(self, record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        """``(y_test, probs [S, N, C])`` of a record, or None when it has none (a failure, an older record)."""
        block = record.get("predictions")
        if not block:
            return None
        path = self.predictions_path(record["cache_key"])
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != block["sha256"]:
            return None
        with np.load(path, allow_pickle=False) as data:
            return data["y_test"], data["probs"]

    def get_test_groups(self, record: dict[str, Any]) -> np.ndarray | None:
        """The test cases' groups stored with a record's predictions, or None (ungrouped data, older record)."""
        if self.get_predictions(record) is None:
            return None
        with np.load(self.predictions_path(record["cache_key"]), allow_pickle=False) as data:
            return data["groups"] if "groups" in data.files else None

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def put(self, record: dict[str, Any]) -> Path:
        validate_document(record, "record", f"record {record.get('cache_key', '?')}")
        path = self.path(record["cache_key"])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
        tmp.replace(path)
        return path

    def records(self) -> Iterator[dict[str, Any]]:
        for path in sorted((self.root / "records").glob("*/*.json")):
            yield json.loads(path.read_text())

    def latest_per_cell(self) -> list[dict[str, Any]]:
        """The newest record of every (submission, variant, dataset, protocol) cell."""
        latest: dict[tuple, dict[str, Any]] = {}
        for rec in self.records():
            c = rec["cell"]
            key = (c["submission"], c["variant"], c["dataset"], c["protocol"])
            if key not in latest or rec["created_at"] > latest[key]["created_at"]:
                latest[key] = rec
        return list(latest.values())
