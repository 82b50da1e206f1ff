"""Computing a split at freeze time: seeded, stratified, grouped by patient / lesion where the data
has the key, keeping the publisher's own split where there is one. The result is written to the lock
and read back from it afterwards; it is never recomputed for scoring."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from harness.datasets.table import CaseTable
from harness.errors import DatasetError

DEFAULTS = {"seed": 0, "val_fraction": 0.1, "test_fraction": 0.2}


def strata(labels: np.ndarray) -> np.ndarray:
    """Single-label: the class. Multilabel: the rarest positive label of the row (-1 when none)."""
    if labels.ndim == 1:
        return labels
    prevalence = labels.mean(axis=0)
    order = np.argsort(prevalence, kind="stable")  # rarest first
    out = np.full(len(labels), -1, dtype=np.int64)
    for j in order[::-1]:  # the rarest label is written last, so it wins
        out[labels[:, j] == 1] = j
    return out


def merge_rare(y: np.ndarray, n_splits: int) -> np.ndarray:
    """Strata with fewer than ``n_splits`` members are pooled into one, so that stratifying stays
    possible on small data or many multilabel strata (the pooled stratum is still spread evenly)."""
    values, counts = np.unique(y, return_counts=True)
    rare = values[counts < n_splits]
    if len(rare) == 0 or len(rare) == len(values) == 1:
        return y
    return np.where(np.isin(y, rare), values.min() - 1, y)


def hold_out(cases: np.ndarray, fraction: float, y: np.ndarray, groups: np.ndarray | None, seed: int, what: str) -> np.ndarray:
    """A boolean mask over ``cases``: one stratified (grouped) fold of about ``fraction`` of them."""
    n_splits = max(2, int(round(1 / fraction)))
    units = len(np.unique(groups[cases])) if groups is not None else len(cases)
    if units < n_splits:
        raise DatasetError(f"cannot carve a {fraction:.0%} {what} split from {units} {'groups' if groups is not None else 'cases'}")
    y = merge_rare(y[cases], n_splits)
    placeholder = np.zeros(len(y), dtype=np.int64)  # sklearn's X: only its length is used
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        if groups is not None:
            folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            try:
                _, held = next(folds.split(placeholder, y, groups[cases]))
            except ValueError as exc:
                raise DatasetError(f"cannot carve a stratified, grouped {fraction:.0%} {what} split from {len(cases)} cases: {exc}") from None
        else:
            try:
                _, held = train_test_split(np.arange(len(cases)), test_size=fraction, stratify=y, random_state=seed)
            except ValueError as exc:
                raise DatasetError(f"cannot carve a stratified {fraction:.0%} {what} split from {len(cases)} cases: {exc}") from None
    mask = np.zeros(len(cases), dtype=bool)
    mask[held] = True
    return mask


def assign_splits(table: CaseTable, config: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Row indices (ascending, table order) of train / val / test."""
    cfg = {**DEFAULTS, **(config or {})}
    seed = int(cfg["seed"])
    y = strata(np.asarray(table.labels))
    groups = np.asarray(table.groups, dtype=object) if table.groups is not None else None
    everything = np.arange(len(table.ids))
    if table.official_split is not None:
        official = np.asarray(table.official_split)
        test = everything[official == "test"]
        pool = everything[official != "test"]
    else:
        held = hold_out(everything, float(cfg["test_fraction"]), y, groups, seed, "test")
        test, pool = everything[held], everything[~held]
    held = hold_out(pool, float(cfg["val_fraction"]), y, groups, seed + 1, "val")
    return {"train": np.sort(pool[~held]), "val": np.sort(pool[held]), "test": np.sort(test)}


def group_overlap(groups_per_split: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each group id found in more than one split, with those splits (empty when none leaks)."""
    where: dict[str, list[str]] = {}
    for split, groups in groups_per_split.items():
        for g in sorted(set(groups)):
            where.setdefault(g, []).append(split)
    return {g: s for g, s in sorted(where.items()) if len(s) > 1}
