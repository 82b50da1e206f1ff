"""DeLong's test for two correlated AUROCs (DeLong, DeLong & Clarke-Pearson, Biometrics 1988).

Each model's AUROC is the Mann-Whitney statistic, the mean of psi(x, y) over (positive x, negative y)
pairs (1 if x scores higher, 1/2 on a tie). Its structural components are V10(x) = mean over negatives
of psi(x, .) and V01(y) = mean over positives of psi(., y); their sample covariances S10 and S01 across
the two models give Var(AUC_a - AUC_b) = (S10_aa + S10_bb - 2 S10_ab) / m + (same for S01) / n. The
components are computed from midranks (Sun & Xu, IEEE SPL 2014), O(N log N) per model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from harness.scoring.metrics import Undefined


@dataclass(frozen=True)
class DelongResult:
    auc_a: float
    auc_b: float
    variance_a: float
    variance_b: float
    covariance: float
    z: float | None  # None when the difference has zero variance
    p_two_sided: float
    p_a_greater: float  # one-sided: H1 AUC_a > AUC_b

    @property
    def difference(self) -> float:
        return self.auc_a - self.auc_b


def structural_components(target: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``scores`` of shape [K, N]: AUCs [K], V10 [K, m positives], V01 [K, n negatives]."""
    target = np.asarray(target).astype(bool)
    m, n = int(target.sum()), int((~target).sum())
    if m == 0 or n == 0:
        raise Undefined("DeLong's test needs positive and negative cases")
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    pos, neg = scores[:, target], scores[:, ~target]
    r_all = rankdata(scores, axis=1)  # midranks over all cases
    r_pos, r_neg = rankdata(pos, axis=1), rankdata(neg, axis=1)  # midranks within each class
    v10 = (r_all[:, target] - r_pos) / n  # negatives below each positive (+ half the ties), as a fraction
    v01 = 1.0 - (r_all[:, ~target] - r_neg) / m  # positives above each negative (+ half the ties)
    aucs = v10.mean(axis=1)
    return aucs, v10, v01


def delong_test(target: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> DelongResult:
    aucs, v10, v01 = structural_components(target, np.stack([score_a, score_b]))
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.cov(v10) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(v01) if n > 1 else np.zeros((2, 2))
    cov = s10 / m + s01 / n
    var_diff = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = aucs[0] - aucs[1]
    if var_diff <= 1e-15:
        z, p2, p1 = None, (1.0 if diff == 0 else 0.0), (0.5 if diff == 0 else float(diff < 0))
    else:
        z = float(diff / np.sqrt(var_diff))
        p2, p1 = float(2 * norm.sf(abs(z))), float(norm.sf(z))
    return DelongResult(float(aucs[0]), float(aucs[1]), float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1]), z, p2, p1)
