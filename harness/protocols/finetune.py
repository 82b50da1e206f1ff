"""``finetune``: the container trains on train (choosing epochs and the rest on val) and writes
``test_probs.npy``; the harness checks the probabilities and scores them with its own metrics. What the
container chose (epochs run, best epoch, ...) comes from its ``result.json`` and is kept in the record."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.protocols.base import Protocol, ProtocolOutcome


class FinetuneProtocol(Protocol):
    name = "finetune"
    kind = "finetune"

    def __init__(self, input_size: int | None = None, seed: int = 0, max_epochs: int = 10, max_seconds: float = 3600.0, batch_size: int = 64):
        super().__init__(input_size=input_size, seed=seed, max_epochs=int(max_epochs), max_seconds=float(max_seconds), batch_size=int(batch_size))

    def accept_predictions(self, test_probs: np.ndarray, container_choices: dict[str, Any]) -> ProtocolOutcome:
        choices = {"trained_by": "container", "selected_on": "val (by the container)", "budget": {k: self.options[k] for k in ("max_epochs", "max_seconds")}}
        choices["container"] = dict(container_choices)
        return ProtocolOutcome(test_probs=np.asarray(test_probs, dtype=np.float32), choices=choices)
