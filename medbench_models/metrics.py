"""Validation metrics for model selection inside the container (numpy only).

Selection uses the dataset's official metric from ``task.json`` (``dataset.official_metric``: auroc,
accuracy, balanced_accuracy, macro_f1 or qwk). A task.json without it (an older harness) falls back to
the usual metric of the task type: binary -> AUROC, multiclass -> balanced accuracy, ordinal -> quadratic
weighted kappa, multilabel -> mean AUROC over labels. The harness scores the test predictions with its
own code; this only decides which epoch is kept.
"""

from __future__ import annotations

import numpy as np

SELECTION_METRIC = {"binary": "auroc", "multiclass": "balanced_accuracy", "ordinal": "qwk", "multilabel": "auroc"}
METRIC_NAMES = ("auroc", "accuracy", "balanced_accuracy", "macro_f1", "qwk")


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


def macro_f1(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes that occur in ``y`` or ``pred`` (scikit-learn's ``average='macro'``)."""
    f1s = []
    for c in np.union1d(np.unique(y), np.unique(pred)):
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        f1s.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(f1s)) if f1s else float("nan")


def _mean_defined(values: list[float]) -> float:
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def selection_metric(task_type: str, official_metric: str | None) -> str:
    """The metric epochs are chosen by: the dataset's official one, else the task type's usual one."""
    if task_type not in SELECTION_METRIC:
        raise ValueError(f"unknown task type {task_type!r}")
    if official_metric is None:
        return SELECTION_METRIC[task_type]
    if official_metric not in METRIC_NAMES:
        raise ValueError(f"task.json: dataset.official_metric {official_metric!r} is not one of {', '.join(METRIC_NAMES)}")
    return official_metric


def selection_score(task_type: str, labels: np.ndarray, probs: np.ndarray, official_metric: str | None = None) -> float:
    """``probs`` on val by :func:`selection_metric` (higher is better; NaN when undefined).

    AUROC is the positive class's for binary, macro one-vs-rest for multiclass / ordinal, and the mean over
    labels for multilabel (classes / labels without both outcomes on val are left out of the mean)."""
    metric = selection_metric(task_type, official_metric)
    labels = np.asarray(labels)
    if task_type == "multilabel":
        if metric != "auroc":
            pred = (probs >= 0.5).astype(int)
            return _mean_defined([_label_score(metric, labels[:, j], pred[:, j], 2) for j in range(labels.shape[1])])
        return _mean_defined([auroc(labels[:, j], probs[:, j]) for j in range(labels.shape[1])])
    if metric == "auroc":
        if task_type == "binary":
            return auroc(labels, probs[:, 1])
        return _mean_defined([auroc(labels == c, probs[:, c]) for c in range(probs.shape[1])])
    return _label_score(metric, labels, probs.argmax(1), probs.shape[1])


def _label_score(metric: str, y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    if metric == "accuracy":
        return float(np.mean(pred == y))
    if metric == "balanced_accuracy":
        return balanced_accuracy(y, pred)
    if metric == "macro_f1":
        return macro_f1(y, pred, n_classes)
    return qwk(y, pred, n_classes)
