"""Pairwise comparisons between models on one test split, with Holm's step-down correction.

Every pair is tested one-sided in the direction of its observed difference (H1: the better-looking
model is better). AUROC on a binary task uses DeLong's test; every other metric a paired bootstrap
test: both models are scored on the same resamples (the shared count matrix), and the p-value is
``(1 + #resamples where the difference is <= 0) / (1 + #resamples)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np

from harness.scoring.delong import delong_test


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def bootstrap_p_greater(better: np.ndarray, worse: np.ndarray) -> float:
    """One-sided paired bootstrap p-value for H1 ``better > worse`` from per-resample values (NaN dropped)."""
    delta = np.asarray(better) - np.asarray(worse)
    delta = delta[np.isfinite(delta)]
    return float((1 + np.count_nonzero(delta <= 0)) / (1 + len(delta)))


@dataclass(frozen=True)
class PairTest:
    better: str
    worse: str
    difference: float  # better - worse, in the metric's "higher is better" orientation
    method: str
    p_value: float
    p_holm: float

    @property
    def significant(self) -> bool:
        return self.p_holm < 0.05


def pairwise_tests(
    names: Sequence[str],
    points: Sequence[float],
    resampled: Sequence[np.ndarray],
    higher_is_better: bool = True,
    binary_auroc_scores: tuple[np.ndarray, Sequence[np.ndarray]] | None = None,
) -> list[PairTest]:
    """All pairs of ``names`` (with defined ``points``); ``resampled[i]`` is model i's [B] resample values.
    ``binary_auroc_scores = (y, [score per model])`` switches the test to DeLong's."""
    sign = 1.0 if higher_is_better else -1.0
    raw: list[tuple[str, str, float, str, float]] = []
    for i, j in combinations(range(len(names)), 2):
        if points[i] is None or points[j] is None:
            continue
        a, b = (i, j) if sign * (points[i] - points[j]) >= 0 else (j, i)
        diff = sign * (points[a] - points[b])
        if binary_auroc_scores is not None:
            y, scores = binary_auroc_scores
            raw.append((names[a], names[b], diff, "delong", delong_test(y, scores[a], scores[b]).p_a_greater))
        else:
            raw.append((names[a], names[b], diff, "paired-bootstrap", bootstrap_p_greater(sign * resampled[a], sign * resampled[b])))
    adjusted = holm([r[4] for r in raw]) if raw else []
    return [PairTest(*r, float(h)) for r, h in zip(raw, adjusted)]
