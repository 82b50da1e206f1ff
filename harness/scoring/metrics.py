"""Metrics per task type. ``point`` uses scikit-learn (the reference); ``fast`` is a numpy version of
the same number used inside the bootstrap, tested against ``point``. Undefined values are ``None``
with a reason, never a silent 0.5."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import rankdata
from sklearn import metrics as skm


class Undefined(Exception):
    """The metric has no value on these cases (e.g. a class without positives)."""


def predictions(task_type: str, probs: np.ndarray) -> np.ndarray:
    return (probs >= 0.5).astype(np.int64) if task_type == "multilabel" else probs.argmax(axis=1)


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    pos = y.astype(bool)
    n_pos = int(pos.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise Undefined("a class has no positive (or no negative) cases")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auroc_fast(task_type: str, y: np.ndarray, probs: np.ndarray) -> float:
    if task_type == "binary":
        return _binary_auc(y, probs[:, 1])
    if task_type == "multilabel":
        return float(np.mean([_binary_auc(y[:, j], probs[:, j]) for j in range(probs.shape[1])]))
    return float(np.mean([_binary_auc(y == c, probs[:, c]) for c in range(probs.shape[1])]))


def _auroc_point(task_type: str, y: np.ndarray, probs: np.ndarray) -> float:
    def one(t, s):
        if t.min() == t.max():
            raise Undefined("a class has no positive (or no negative) cases")
        return skm.roc_auc_score(t, s)

    if task_type == "binary":
        return float(one(y, probs[:, 1]))
    if task_type == "multilabel":
        return float(np.mean([one(y[:, j], probs[:, j]) for j in range(probs.shape[1])]))
    # MedMNIST's evaluator and sklearn's macro one-vs-rest agree: mean of per-class AUROCs.
    return float(np.mean([one((y == c).astype(int), probs[:, c]) for c in range(probs.shape[1])]))


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def _from_confusion(name: str, cm: np.ndarray) -> float:
    n = cm.sum()
    support, predicted, tp = cm.sum(axis=1), cm.sum(axis=0), np.diag(cm)
    if name == "accuracy":
        return float(tp.sum() / n)
    if name == "balanced_accuracy":  # sklearn: mean recall over classes present in y_true
        present = support > 0
        return float(np.mean(tp[present] / support[present]))
    if name == "macro_f1":  # sklearn: over labels present in y_true or y_pred
        labels = (support + predicted) > 0
        f1 = np.divide(2 * tp, support + predicted, out=np.zeros(len(tp)), where=(support + predicted) > 0)
        return float(np.mean(f1[labels]))
    if name == "qwk":
        k = len(cm)
        w = (np.subtract.outer(np.arange(k), np.arange(k)) ** 2).astype(float)
        expected = np.outer(support, predicted) / n
        denom = (w * expected).sum()
        if denom == 0:
            raise Undefined("quadratic weighted kappa is undefined when all cases share one grade")
        return float(1 - (w * cm).sum() / denom)
    raise KeyError(name)


def _label_point(name: str) -> Callable:
    def point(task_type: str, y: np.ndarray, probs: np.ndarray) -> float:
        pred = predictions(task_type, probs)
        if task_type == "multilabel":
            if name != "accuracy":
                raise Undefined(f"{name} is not defined for multilabel tasks here")
            return float(np.mean(pred == y))
        if name == "accuracy":
            return float(skm.accuracy_score(y, pred))
        if name == "balanced_accuracy":
            return float(skm.balanced_accuracy_score(y, pred))
        if name == "macro_f1":
            return float(skm.f1_score(y, pred, average="macro"))
        if name == "qwk":
            if len(np.unique(np.concatenate([y, pred]))) < 2:
                raise Undefined("quadratic weighted kappa is undefined when all cases share one grade")
            return float(skm.cohen_kappa_score(y, pred, weights="quadratic"))
        raise KeyError(name)

    return point


def _label_fast(name: str) -> Callable:
    def fast(task_type: str, y: np.ndarray, probs: np.ndarray) -> float:
        pred = predictions(task_type, probs)
        if task_type == "multilabel":
            return _label_point(name)(task_type, y, probs)
        return _from_confusion(name, _confusion(y, pred, probs.shape[1]))

    return fast


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    task_types: tuple[str, ...]
    point: Callable[[str, np.ndarray, np.ndarray], float]
    fast: Callable[[str, np.ndarray, np.ndarray], float]
    higher_is_better: bool = True


ALL_TYPES = ("binary", "multiclass", "ordinal", "multilabel")
SINGLE_LABEL = ("binary", "multiclass", "ordinal")

METRICS: dict[str, Metric] = {
    "auroc": Metric("auroc", "AUROC", ALL_TYPES, _auroc_point, _auroc_fast),
    "accuracy": Metric("accuracy", "Accuracy", ALL_TYPES, _label_point("accuracy"), _label_fast("accuracy")),
    "balanced_accuracy": Metric(
        "balanced_accuracy", "Balanced accuracy", SINGLE_LABEL, _label_point("balanced_accuracy"), _label_fast("balanced_accuracy")
    ),
    "macro_f1": Metric("macro_f1", "Macro F1", SINGLE_LABEL, _label_point("macro_f1"), _label_fast("macro_f1")),
    "qwk": Metric("qwk", "Quadratic weighted kappa", ("ordinal",), _label_point("qwk"), _label_fast("qwk")),
}


def metrics_for(task_type: str, official: str, secondary: tuple[str, ...] = ()) -> list[Metric]:
    names = [official] + [m for m in secondary if m != official]
    return [METRICS[n] for n in names if task_type in METRICS[n].task_types]
