"""Metrics per task type. ``point`` uses scikit-learn (the reference; expected calibration error, which
scikit-learn lacks, is computed here from its definition). ``batch`` computes the same number for every
bootstrap resample at once from a ``[B, N]`` matrix of case counts (``scoring/batched.py``), tested
against ``point``. Undefined values are ``None`` with a reason, never a silent 0.5."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from harness.scoring import batched
from harness.scoring.batched import ece_bins, ece_terms, predictions


class Undefined(Exception):
    """The metric has no value on these cases (e.g. a class without positives)."""


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


def _ece_point(task_type: str, y: np.ndarray, probs: np.ndarray) -> float:
    """Expected calibration error, 15 equal-width bins: sum over bins of (cases in bin / all) x |accuracy -
    mean confidence|. Single-label: the top class's probability against whether it is right; multilabel:
    every (case, label) probability against its label."""
    conf, correct = ece_terms(task_type, y, probs)
    bins = ece_bins(conf)
    total = len(conf)
    gap = 0.0
    for b in np.unique(bins):
        inside = bins == b
        gap += abs(correct[inside].sum() - conf[inside].sum())
    return float(gap / total)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    task_types: tuple[str, ...]
    point: Callable[[str, np.ndarray, np.ndarray], float]
    batch: Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (task, y, probs, weights [B, N]) -> [B], NaN where undefined
    higher_is_better: bool = True


ALL_TYPES = ("binary", "multiclass", "ordinal", "multilabel")
SINGLE_LABEL = ("binary", "multiclass", "ordinal")

METRICS: dict[str, Metric] = {
    "auroc": Metric("auroc", "AUROC (macro)", ALL_TYPES, _auroc_point, batched.auroc),
    "accuracy": Metric("accuracy", "Accuracy", ALL_TYPES, _label_point("accuracy"), batched.label_metric("accuracy")),
    "balanced_accuracy": Metric(
        "balanced_accuracy", "Balanced accuracy", SINGLE_LABEL, _label_point("balanced_accuracy"), batched.label_metric("balanced_accuracy")
    ),
    "macro_f1": Metric("macro_f1", "Macro F1", SINGLE_LABEL, _label_point("macro_f1"), batched.label_metric("macro_f1")),
    "qwk": Metric("qwk", "Quadratic weighted kappa", ("ordinal",), _label_point("qwk"), batched.label_metric("qwk")),
    "ece": Metric("ece", "Expected calibration error", ALL_TYPES, _ece_point, batched.ece, higher_is_better=False),
}

# What every record reports beside the dataset's official metric (those that apply to its task type).
STANDARD_SECONDARY = ("auroc", "accuracy", "macro_f1", "balanced_accuracy", "qwk", "ece")


def metrics_for(task_type: str, official: str, secondary: tuple[str, ...] = ()) -> list[Metric]:
    names = [official] + [m for m in secondary if m != official]
    return [METRICS[n] for n in names if task_type in METRICS[n].task_types]
