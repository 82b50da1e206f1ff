"""Robust overall ranks: rank per dataset, then aggregate (mean rank across datasets), re-done on every
bootstrap resample to give each model's rank distribution and Kendall's tau to the full-data ranking.

Inputs per dataset: a ``[M]`` vector of full-data values and a ``[B, M]`` matrix of resample values for
the same M models (the resamples of one dataset are shared by all its models). NaN (a failed or
missing cell, or a metric undefined in a resample) takes the worst rank, M.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import rankdata


def rank_models(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Ranks along the last axis (1 = best, ties share their mean rank); NaN -> M (worst)."""
    values = np.asarray(values, dtype=float)
    m = values.shape[-1]
    key = -values if higher_is_better else values
    ranks = rankdata(np.where(np.isnan(key), np.inf, key), axis=-1, method="average")
    return np.where(np.isnan(values), float(m), ranks)


def kendall_tau_b(rankings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between each row of ``rankings`` [B, M] and ``reference`` [M] (NaN when undefined)."""
    i, j = np.triu_indices(len(reference), k=1)
    s_ref = np.sign(reference[i] - reference[j])
    s = np.sign(rankings[:, i] - rankings[:, j])
    n_ref, n = np.count_nonzero(s_ref), np.count_nonzero(s, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s @ s_ref) / np.sqrt(n * n_ref)


@dataclass(frozen=True)
class RankStability:
    mean_rank: np.ndarray  # [M] full-data mean rank across datasets
    overall_rank: np.ndarray  # [M] position of each model in the full-data ranking (1 = best, ties averaged)
    rank_distribution: np.ndarray  # [M, M]: share of resamples in which model m is at position r+1
    mean_rank_ci: np.ndarray  # [M, 2]: 95% interval of the mean rank over resamples
    kendall_tau: np.ndarray  # [B]: tau-b of each resample's mean-rank ordering to the full one

    def tau_summary(self) -> dict[str, float | None]:
        """Mean and 95% interval of tau over resamples; None where no resample defines tau (all ranks tied)."""
        finite = self.kendall_tau[np.isfinite(self.kendall_tau)]
        if not len(finite):
            return {"mean": None, "ci_low": None, "ci_high": None}
        lo, hi = np.quantile(finite, [0.025, 0.975])
        return {"mean": float(finite.mean()), "ci_low": float(lo), "ci_high": float(hi)}


def rank_stability(points: Sequence[np.ndarray], resampled: Sequence[np.ndarray], higher_is_better: bool = True) -> RankStability:
    """``points[d]``: [M] values on dataset d; ``resampled[d]``: [B, M] on its resamples."""
    full = np.mean([rank_models(p, higher_is_better) for p in points], axis=0)  # [M]
    boot = np.mean([rank_models(r, higher_is_better) for r in resampled], axis=0)  # [B, M]
    m = len(full)
    positions = rankdata(boot, axis=1, method="min").astype(int)  # overall position per resample (ties share the best)
    dist = np.stack([np.bincount(positions[:, k] - 1, minlength=m) for k in range(m)]) / len(boot)
    return RankStability(
        mean_rank=full,
        overall_rank=rankdata(full, method="average"),
        rank_distribution=dist,
        mean_rank_ci=np.quantile(boot, [0.025, 0.975], axis=0).T,
        kendall_tau=kendall_tau_b(boot, full),
    )
