"""Frozen split locks: case ids per split, sha256 per source file, a hash of the labels.

``freeze`` writes ``datasets/<name>/splits.lock.json`` once; ``verify`` runs before every scoring run
and refuses a dataset whose files or labels changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.datasets.decode import check_readable
from harness.datasets.raw import SPLITS, RawDataset
from harness.datasets.spec import DatasetSpec
from harness.datasets.splitting import group_overlap
from harness.errors import DatasetError
from harness.hashing import canonical_hash, sha256_file

LOCK_VERSION = 1


def label_hash(labels: np.ndarray) -> str:
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    h = hashlib.sha256(str(labels.shape).encode())
    h.update(labels.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class SplitLock:
    dataset: str
    lock_hash: str
    splits: dict[str, list[str]]
    source_files: dict[str, str]
    label_hash: str
    doc: dict[str, Any]

    def split_sizes(self) -> dict[str, int]:
        return {s: len(ids) for s, ids in self.splits.items()}

    @property
    def groups(self) -> dict[str, list[str]] | None:
        return self.doc.get("groups")


def hash_files(files: dict[str, Path]) -> dict[str, str]:
    """sha256 of every file, in parallel threads (hashlib releases the GIL), keyed and sorted by name."""
    names = sorted(files)
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        digests = list(pool.map(lambda n: sha256_file(files[n]), names))
    return dict(zip(names, digests))


def build_lock(spec: DatasetSpec, raw: RawDataset) -> dict[str, Any]:
    body = {
        "lock_version": LOCK_VERSION,
        "dataset": spec.name,
        "split_policy": spec.split_policy,
        "grouping": spec.grouping,
        "source_files": hash_files(raw.source_files),
        "splits": {s: raw.splits[s].ids for s in SPLITS},
        "counts": {s: len(raw.splits[s].ids) for s in SPLITS},
        "label_hash": label_hash(raw.all_labels()),
    }
    if raw.has_groups:
        body["groups"] = {s: raw.splits[s].groups for s in SPLITS}
        body["group_overlap"] = group_overlap(body["groups"])
    if raw.notes:
        body["notes"] = raw.notes
    return {**body, "lock_hash": canonical_hash(body)}


def check_images(raw: RawDataset) -> None:
    """Every image decodes (folder layouts; parallel threads, the codecs release the GIL); the first
    bad one raises, naming its file and CSV row, before any lock is written."""
    jobs = [(p, (sp.rows or [""] * len(sp.paths))[i]) for sp in raw.splits.values() if sp.paths for i, p in enumerate(sp.paths)]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        list(pool.map(lambda job: check_readable(*job), jobs))


def freeze(spec: DatasetSpec, raw: RawDataset, overwrite: bool = False) -> SplitLock:
    """Write the lock (all or nothing: a bad image or row raises before anything is written)."""
    if spec.lock_path.exists() and not overwrite:
        raise DatasetError(f"{spec.lock_path}: already frozen; a lock is created once (pass --overwrite to refreeze)")
    check_images(raw)
    doc = build_lock(spec, raw)
    tmp = spec.lock_path.with_suffix(".partial")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(spec.lock_path)
    return _as_lock(doc)


def _as_lock(doc: dict[str, Any]) -> SplitLock:
    return SplitLock(
        dataset=doc["dataset"],
        lock_hash=doc["lock_hash"],
        splits=doc["splits"],
        source_files=doc["source_files"],
        label_hash=doc["label_hash"],
        doc=doc,
    )


def load_lock(spec: DatasetSpec) -> SplitLock:
    path = spec.lock_path
    if not path.exists():
        raise DatasetError(f"{path}: missing; freeze the split first (medbench datasets freeze {spec.name})")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    for key in ("lock_version", "dataset", "source_files", "splits", "label_hash", "lock_hash"):
        if key not in doc:
            raise DatasetError(f"{path}: field '{key}' is missing")
    body = {k: v for k, v in doc.items() if k != "lock_hash"}
    if canonical_hash(body) != doc["lock_hash"]:
        raise DatasetError(f"{path}: field 'lock_hash' does not match the lock's content (the lock was edited by hand)")
    return _as_lock(doc)


def verify_files(lock: SplitLock, source_files: dict[str, Path]) -> None:
    """Refuse (DatasetError) on any changed, missing or extra source file, naming each."""
    problems = []
    present = {n: source_files[n] for n in lock.source_files if n in source_files and source_files[n].exists()}
    actual_hashes = hash_files(present)
    for name, expected in sorted(lock.source_files.items()):
        if name not in present:
            problems.append(f"{name}: missing (expected sha256 {expected})")
            continue
        actual = actual_hashes[name]
        if actual != expected:
            problems.append(f"{present[name]}: changed (sha256 {actual}, lock says {expected})")
    for name in sorted(set(source_files) - set(lock.source_files)):
        problems.append(f"{source_files[name]}: extra file not in the lock")
    if problems:
        raise DatasetError(
            f"dataset {lock.dataset} does not match its frozen split lock; refusing to score:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def verify_content(lock: SplitLock, raw: RawDataset) -> None:
    """After reading: the case ids and labels are exactly the frozen ones."""
    for split in SPLITS:
        if raw.splits[split].ids != lock.splits.get(split):
            raise DatasetError(f"dataset {lock.dataset}: split '{split}' case ids differ from the lock")
        if lock.groups is not None and raw.splits[split].groups != lock.groups.get(split):
            raise DatasetError(f"dataset {lock.dataset}: split '{split}' group ids differ from the lock")
    actual = label_hash(raw.all_labels())
    if actual != lock.label_hash:
        raise DatasetError(f"dataset {lock.dataset}: label hash {actual} differs from the lock's {lock.label_hash}")
