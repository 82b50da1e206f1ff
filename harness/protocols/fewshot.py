"""``fewshot``: the linear probe trained on a fraction of the training labels.

For each fraction (1%, 10%, 100%) and each of 5 seeds a stratified subset of train is drawn (per class
``max(1, round(fraction * n_class))`` cases; for multilabel a plain random draw of
``max(1, round(fraction * n))`` cases). C is swept on the full val split exactly as in ``linear``, and
the head is fitted on the subset alone (no refit on val: that would add labels). 100% is one draw, as
every seed would draw the same set. The headline is one fraction (1% by default): its metric is the mean
over seeds, and every fraction is reported with its mean and spread.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from harness.protocols.base import EmbedProtocol, ProtocolOutcome
from harness.protocols.linear import C_GRID, LinearProtocol

FRACTIONS = (0.01, 0.1, 1.0)
SEEDS = 5


def stratified_draw(y: np.ndarray, fraction: float, seed: int, multilabel: bool) -> np.ndarray:
    """Sorted row indices of a seeded draw of ``fraction`` of the cases, at least one per class."""
    rng = np.random.default_rng(seed)
    if fraction >= 1.0:
        return np.arange(len(y))
    if multilabel:
        return np.sort(rng.choice(len(y), size=max(1, round(fraction * len(y))), replace=False))
    picked = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picked.append(rng.choice(members, size=max(1, round(fraction * len(members))), replace=False))
    return np.sort(np.concatenate(picked))


def fraction_label(fraction: float) -> str:
    return f"{fraction:g}"


class FewshotProtocol(EmbedProtocol):
    name = "fewshot"

    def __init__(
        self,
        input_size: int | None = None,
        seed: int = 0,
        fractions: tuple[float, ...] = FRACTIONS,
        seeds: int = SEEDS,
        headline_fraction: float = FRACTIONS[0],
        c_grid: tuple[float, ...] = C_GRID,
        max_iter: int = 300,
    ):
        fractions = sorted(float(f) for f in fractions)
        if any(not 0 < f <= 1 for f in fractions):
            raise ValueError(f"few-shot fractions must lie in (0, 1], got {fractions}")
        if float(headline_fraction) not in fractions:
            raise ValueError(f"headline fraction {headline_fraction} is not one of the fractions {fractions}")
        super().__init__(
            input_size=input_size, seed=seed, fractions=fractions, seeds=int(seeds), headline_fraction=float(headline_fraction),
            c_grid=[float(c) for c in c_grid], max_iter=int(max_iter),
        )

    def draw_seeds(self, fraction: float) -> list[int]:
        return [self.seed] if fraction >= 1.0 else [self.seed + i for i in range(self.options["seeds"])]

    def score_embeddings(self, task_type, splits, labels, official_metric) -> ProtocolOutcome:
        with threadpool_limits(limits=1):
            return self._score(task_type, splits, labels, official_metric)

    def _score(self, task_type, splits, labels, official_metric) -> ProtocolOutcome:
        probe = LinearProtocol(seed=self.seed, c_grid=tuple(self.options["c_grid"]), max_iter=self.options["max_iter"])
        settings: dict[str, list[np.ndarray]] = {}
        draws: dict[str, list[dict]] = {}
        for fraction in self.options["fractions"]:
            label = fraction_label(fraction)
            settings[label], draws[label] = [], []
            for seed in self.draw_seeds(fraction):
                rows = stratified_draw(np.asarray(labels["train"]), fraction, seed, task_type == "multilabel")
                sub_splits = {**splits, "train": splits["train"][rows]}
                sub_labels = {**labels, "train": labels["train"][rows]}
                out = probe.select_and_fit(task_type, sub_splits, sub_labels, official_metric, refit=False)
                settings[label].append(out.test_probs)
                draws[label].append({"seed": seed, "n_train": int(len(rows)), "C": out.choices["C"], "val_scores": out.choices["val_scores"]})
        headline = fraction_label(self.options["headline_fraction"])
        choices = {
            "headline_fraction": self.options["headline_fraction"],
            "selected_on": "val",
            "selection_metric": official_metric,
            "refit": "none (fitted on the drawn subset only)",
            "draws": draws,
        }
        members = settings[headline]
        return ProtocolOutcome(test_probs=members[0], choices=choices, members=members, settings=settings)
