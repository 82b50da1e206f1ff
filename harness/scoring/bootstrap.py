"""Percentile bootstrap 95% CIs, resampled by case (or by group, e.g. patient, where known).

Resample indices come from one seeded generator and depend only on (n cases, groups, seed), so every
model scored on the same test split sees the same resamples: comparisons are paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.scoring.metrics import Metric, Undefined


@dataclass(frozen=True)
class BootstrapConfig:
    resamples: int = 1000
    level: float = 0.95
    seed: int = 0

    def describe(self, unit: str) -> dict[str, Any]:
        return {"method": "percentile-bootstrap", "level": self.level, "resamples": self.resamples, "seed": self.seed, "unit": unit}


def resample_indices(n: int, config: BootstrapConfig, groups: np.ndarray | None = None) -> np.ndarray:
    """``[resamples, n']`` row indices; with groups, whole groups are drawn with replacement."""
    rng = np.random.default_rng(config.seed)
    if groups is None:
        return rng.integers(0, n, size=(config.resamples, n))
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    draws = rng.integers(0, len(uniq), size=(config.resamples, len(uniq)))
    return np.array([np.concatenate([members[g] for g in row]) for row in draws], dtype=object)


def score_with_ci(
    metric: Metric,
    task_type: str,
    y: np.ndarray,
    probs: np.ndarray,
    indices: np.ndarray,
    level: float,
) -> dict[str, Any]:
    try:
        value = metric.point(task_type, y, probs)
    except Undefined as exc:
        return {"value": None, "ci_low": None, "ci_high": None, "undefined_reason": str(exc)}
    stats = np.full(len(indices), np.nan)
    for b, idx in enumerate(indices):
        idx = np.asarray(idx, dtype=np.int64)
        try:
            stats[b] = metric.fast(task_type, y[idx], probs[idx])
        except Undefined:
            pass
    alpha = (1 - level) / 2
    finite = stats[np.isfinite(stats)]
    if len(finite) < 0.5 * len(stats):
        return {"value": value, "ci_low": None, "ci_high": None, "undefined_reason": "metric undefined in most resamples"}
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return {"value": value, "ci_low": float(low), "ci_high": float(high)}
