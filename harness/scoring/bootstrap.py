"""Percentile bootstrap 95% CIs, resampled by case (or by group, e.g. patient, where known), vectorized.

A resample is a ``[N]`` vector of how often each case was drawn; ``resample_weights`` gives all of them
as one ``[B, N]`` matrix from one seeded generator. It depends only on (N, groups, seed), so every model
scored on the same test split sees the same resamples: comparisons are paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from harness.scoring.metrics import Metric, Undefined


@dataclass(frozen=True)
class BootstrapConfig:
    resamples: int = 1000
    level: float = 0.95
    seed: int = 0

    def describe(self, unit: str) -> dict[str, Any]:
        return {"method": "percentile-bootstrap", "level": self.level, "resamples": self.resamples, "seed": self.seed, "unit": unit}


def resample_weights(n: int, config: BootstrapConfig, groups: np.ndarray | None = None) -> np.ndarray:
    """``[resamples, n]`` integer case counts; with groups, whole groups are drawn with replacement (each draw of
    a group counts every one of its cases once)."""
    rng = np.random.default_rng(config.seed)
    if groups is None:
        draws = rng.integers(0, n, size=(config.resamples, n))
        flat = draws + (np.arange(config.resamples) * n)[:, None]
        # every row sums to n, so every partial sum the metrics take (at most 2n) fits int16 for small splits:
        # half the memory traffic of int32 in the gathers and cumulative sums
        dtype = np.int16 if 2 * n < 2**15 else np.int32
        return np.bincount(flat.ravel(), minlength=config.resamples * n).reshape(config.resamples, n).astype(dtype)
    uniq, inverse = np.unique(groups, return_inverse=True)
    g = len(uniq)
    draws = rng.integers(0, g, size=(config.resamples, g))
    flat = draws + (np.arange(config.resamples) * g)[:, None]
    group_counts = np.bincount(flat.ravel(), minlength=config.resamples * g).reshape(config.resamples, g)
    return group_counts[:, inverse].astype(np.int32)


def resample_values(metric: Metric, task_type: str, y: np.ndarray, members: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The metric in every resample, ``[B]``; with several members (e.g. few-shot seeds) their mean."""
    return np.mean([metric.batch(task_type, y, p, weights) for p in members], axis=0)


def point_value(metric: Metric, task_type: str, y: np.ndarray, members: Sequence[np.ndarray]) -> float:
    """The metric on the full test split (scikit-learn reference); the members' mean. Raises Undefined."""
    return float(np.mean([metric.point(task_type, y, p) for p in members]))


def interval(stats: np.ndarray, level: float) -> tuple[float, float] | None:
    """Percentile interval of the finite resample values; None when most resamples are undefined."""
    finite = stats[np.isfinite(stats)]
    if len(finite) < 0.5 * len(stats):
        return None
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def score_with_ci(metric: Metric, task_type: str, y: np.ndarray, members: Sequence[np.ndarray], weights: np.ndarray, level: float) -> dict[str, Any]:
    try:
        value = point_value(metric, task_type, y, members)
    except Undefined as exc:
        return {"value": None, "ci_low": None, "ci_high": None, "undefined_reason": str(exc)}
    ci = interval(resample_values(metric, task_type, y, members, weights), level)
    if ci is None:
        return {"value": value, "ci_low": None, "ci_high": None, "undefined_reason": "metric undefined in most resamples"}
    return {"value": value, "ci_low": ci[0], "ci_high": ci[1]}
