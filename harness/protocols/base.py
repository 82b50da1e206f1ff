"""What every protocol provides: its container call, its config (part of the cache key) and scoring.

``embed`` protocols fit harness-owned heads on frozen embeddings (:class:`EmbedProtocol`); a
``finetune`` protocol lets the container train and accepts its test probabilities.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from harness.scoring.metrics import METRICS, Undefined


@dataclass
class ProtocolOutcome:
    test_probs: np.ndarray  # [N_test, C]: the headline prediction
    choices: dict[str, Any] = field(default_factory=dict)  # what was chosen on val, for audit
    # Several predictions behind one headline number (e.g. few-shot seeds): the headline metric is
    # their mean, and each one is stored for the paired statistics. None: ``test_probs`` alone.
    members: list[np.ndarray] | None = None
    # Further settings reported beside the headline (e.g. every few-shot fraction): label -> per-seed probs.
    settings: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def headline_members(self) -> list[np.ndarray]:
        return self.members if self.members else [self.test_probs]


class Protocol(ABC):
    name: str
    kind: str  # the container call: "embed" or "finetune"

    def __init__(self, input_size: int | None = None, seed: int = 0, **options: Any):
        self.input_size = input_size
        self.seed = seed
        self.options = options

    def config(self) -> dict[str, Any]:
        """Everything that changes the protocol's numbers; hashed into the cache key."""
        return {"name": self.name, "kind": self.kind, "input_size": self.input_size, "seed": self.seed, **self.options}


class EmbedProtocol(Protocol):
    kind = "embed"

    @abstractmethod
    def score_embeddings(self, task_type: str, splits: dict[str, np.ndarray], labels: dict[str, np.ndarray], official_metric: str) -> ProtocolOutcome:
        """Given per-split embeddings and the train/val labels (never test), predict test probabilities."""


def select_on_val(
    candidates: Iterable[tuple[str, np.ndarray]],
    official_metric: str,
    task_type: str,
    y_val: np.ndarray,
    tie_key: Callable[[str], float],
    what: str,
) -> tuple[str, dict[str, float | None]]:
    """Score each candidate's val probabilities with the official metric and return the best candidate and
    every score (undefined scores are None). Ties go to the larger ``tie_key`` (e.g. the stronger
    regularization). Raises Undefined when no candidate has a defined score."""
    metric = METRICS[official_metric]
    scores: dict[str, float | None] = {}
    for label, probs in candidates:
        try:
            scores[label] = metric.point(task_type, y_val, probs)
        except Undefined:
            scores[label] = None
    defined = {label: s for label, s in scores.items() if s is not None}
    if not defined:
        raise Undefined(f"{official_metric} is undefined on the val split for every {what}; cannot select {what}")
    return max(defined, key=lambda label: (defined[label], tie_key(label))), scores
