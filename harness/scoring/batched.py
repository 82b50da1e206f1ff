"""Every metric for every bootstrap resample at once.

A resample is a multiset of test cases, so it is fully described by how often each case was drawn: a
``[B, N]`` count matrix ``W`` (shared by every model scored on the same split, which makes comparisons
paired). Label metrics come from per-resample confusion matrices ``W @ onehot(y * K + pred)``; AUROC is
the count-weighted Mann-Whitney statistic (ties count one half), from one sort per class and a cumulative
sum of negative weights; calibration error from per-bin sums ``W @ ...``. A resample where a metric is
undefined (e.g. a class without positives) gives NaN.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

ECE_BINS = 15


def predictions(task_type: str, probs: np.ndarray) -> np.ndarray:
    return (probs >= 0.5).astype(np.int64) if task_type == "multilabel" else probs.argmax(axis=1)


def ece_terms(task_type: str, y: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per prediction: its confidence and whether it was right (flattened over labels for multilabel)."""
    if task_type == "multilabel":
        return probs.astype(np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    pred = probs.argmax(axis=1)
    return probs.max(axis=1).astype(np.float64), (pred == y).astype(np.float64)


def ece_bins(conf: np.ndarray) -> np.ndarray:
    """Bin of each confidence: (i/15, (i+1)/15], with 0 in the first bin."""
    return np.clip(np.ceil(conf * ECE_BINS).astype(np.int64) - 1, 0, ECE_BINS - 1)


def binary_auroc(target: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of ``score`` for the boolean ``target`` under each row of case counts ``weights``:
    sum over positives of count x (negative counts scored lower + half the tied ones), over n_pos x n_neg."""
    order = np.argsort(score, kind="stable")
    s, t = score[order], np.asarray(target, dtype=bool)[order]
    _, start, counts = np.unique(s, return_index=True, return_counts=True)  # tie groups [start, stop)
    group = np.repeat(np.arange(len(start)), counts)
    negs_before = np.concatenate([[0], np.cumsum(~t)])  # negatives at sorted positions < i
    pos = np.flatnonzero(t)
    lo, hi = negs_before[start[group[pos]]], negs_before[(start + counts)[group[pos]]]
    wn = np.take(weights, order[~t], axis=1)  # np.take: several times faster than fancy indexing here
    cum = np.zeros((len(weights), wn.shape[1] + 1), dtype=weights.dtype)
    np.cumsum(wn, axis=1, out=cum[:, 1:])
    wp = np.take(weights, order[pos], axis=1)
    below, through = np.take(cum, lo, axis=1), np.take(cum, hi, axis=1)
    num = np.einsum("ij,ij->i", wp, below + through, dtype=np.float64) * 0.5  # below + tied / 2
    n_pos, n_neg = wp.sum(axis=1, dtype=np.float64), cum[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), num / (n_pos * n_neg), np.nan)


def auroc(task_type: str, y: np.ndarray, probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    if task_type == "binary":
        return binary_auroc(y == 1, probs[:, 1], weights)
    if task_type == "multilabel":
        cols = [binary_auroc(y[:, j] == 1, probs[:, j], weights) for j in range(probs.shape[1])]
    else:
        cols = [binary_auroc(y == c, probs[:, c], weights) for c in range(probs.shape[1])]
    return np.mean(cols, axis=0)  # NaN when any class is undefined in that resample


def confusions(y: np.ndarray, pred: np.ndarray, k: int, weights: np.ndarray) -> np.ndarray:
    """``[B, K, K]`` confusion matrices (rows: truth, columns: prediction)."""
    onehot = np.zeros((len(y), k * k), dtype=np.float32)  # float32 sums of small counts are exact
    onehot[np.arange(len(y)), y * k + pred] = 1.0
    return (weights.astype(np.float32) @ onehot).astype(np.float64).reshape(len(weights), k, k)


def from_confusions(name: str, cm: np.ndarray) -> np.ndarray:
    n = cm.sum(axis=(1, 2))
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "accuracy":
            return tp.sum(axis=1) / n
        if name == "balanced_accuracy":  # scikit-learn: mean recall over classes present in y_true
            present = support > 0
            recall = np.where(present, tp / np.where(present, support, 1), 0.0)
            return recall.sum(axis=1) / present.sum(axis=1)
        if name == "macro_f1":  # scikit-learn: over labels present in y_true or y_pred
            denom = support + predicted
            used = denom > 0
            f1 = np.where(used, 2 * tp / np.where(used, denom, 1), 0.0)
            return f1.sum(axis=1) / used.sum(axis=1)
        if name == "qwk":
            k = cm.shape[1]
            w = (np.subtract.outer(np.arange(k), np.arange(k)) ** 2).astype(float)
            expected = support[:, :, None] * predicted[:, None, :] / n[:, None, None]
            denom = (w * expected).sum(axis=(1, 2))
            return np.where(denom > 0, 1 - (w * cm).sum(axis=(1, 2)) / np.where(denom > 0, denom, 1), np.nan)
    raise KeyError(name)


def label_metric(name: str) -> Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def batch(task_type: str, y: np.ndarray, probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        pred = predictions(task_type, probs)
        if task_type == "multilabel":
            if name != "accuracy":
                return np.full(len(weights), np.nan)
            per_case = (pred == y).mean(axis=1)
            w = weights.astype(np.float64)
            return (w @ per_case) / w.sum(axis=1)
        return from_confusions(name, confusions(np.asarray(y, dtype=np.int64), pred, probs.shape[1], weights))

    return batch


def ece(task_type: str, y: np.ndarray, probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    conf, correct = ece_terms(task_type, y, probs)
    per_case = 1 if task_type != "multilabel" else probs.shape[1]
    case = np.arange(len(conf)) // per_case
    bins = ece_bins(conf)
    n = len(probs)
    conf_sum = np.zeros((n, ECE_BINS))
    hit_sum = np.zeros((n, ECE_BINS))
    np.add.at(conf_sum, (case, bins), conf)
    np.add.at(hit_sum, (case, bins), correct)
    w = weights.astype(np.float64)
    gaps = np.abs(w @ hit_sum - w @ conf_sum).sum(axis=1)
    return gaps / (w.sum(axis=1) * per_case)
