"""The results store: one JSON record per cell, stored under its cache key.

The cache key hashes everything that can change a cell's numbers: the image digest, the split lock
hash, the protocol config, the contract and scoring versions. A rebuilt image is a new digest, so a
stale result is never reused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

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
