"""Validation metrics for model selection inside the container (numpy only).

``task.json`` names the task type, not the dataset's official metric, so selection uses the official
metric of the seed datasets for that task type: binary -> AUROC, multiclass -> balanced accuracy,
ordinal -> quadratic weighted kappa, multilabel -> mean AUROC over labels. The harness scores the test
predictions with its own code; this only decides which epoch is kept.
"""

from __future__ import annotations

import numpy as np

SELECTION_METRIC = {"binary": "auroc", "multiclass": "balanced_accuracy", "ordinal": "qwk", "multilabel": "mean_auroc"}


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUROC with midranks for ties; NaN when only one class is present."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = np.asarray(score)[order]
    ranks = np.empty(len(score), dtype=np.float64)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    midranks = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(midranks, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    recalls = [np.mean(pred[y == c] == c) for c in np.unique(y)]
    return float(np.mean(recalls))


def qwk(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    conf = np.zeros((n_classes, n_classes))
    np.add.at(conf, (y, pred), 1)
    idx = np.arange(n_classes)
    weights = (idx[:, None] - idx[None, :]) ** 2 / max(1, (n_classes - 1) ** 2)
    expected = np.outer(conf.sum(1), conf.sum(0)) / max(1, conf.sum())
    denom = (weights * expected).sum()
    return float(1.0 - (weights * conf).sum() / denom) if denom > 0 else float("nan")


def selection_score(task_type: str, labels: np.ndarray, probs: np.ndarray) -> float:
    """The task type's official metric of ``probs`` on val (higher is better; NaN when undefined)."""
    if task_type == "binary":
        return auroc(labels, probs[:, 1])
    if task_type == "multilabel":
        vals = [auroc(labels[:, j], probs[:, j]) for j in range(labels.shape[1])]
        vals = [v for v in vals if not np.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")
    pred = probs.argmax(1)
    if task_type == "ordinal":
        return qwk(labels, pred, probs.shape[1])
    if task_type == "multiclass":
        return balanced_accuracy(labels, pred)
    raise ValueError(f"unknown task type {task_type!r}")
