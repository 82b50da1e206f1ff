"""What every backbone family provides: a trunk built from a model id, its declared pooling, and the
real pretrained weights (for baking at build time).

A trunk is an ``nn.Module`` with ``num_features`` (the pooled embedding's width), ``group_matcher(coarse)``
(timm's convention, used for layer-wise lr decay) and ``set_grad_checkpointing(enable)`` (activation
checkpointing while fine-tuning). timm models have all three; other families wrap their model to add them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class Backbone(nn.Module):
    """A trunk plus its family's pooling: ``forward(x [B,3,H,W]) -> [B, num_features]``."""

    def __init__(self, trunk: nn.Module, family: "Family"):
        super().__init__()
        self.trunk = trunk
        self._pool = family.pool
        self.num_features = int(trunk.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool(self.trunk, x)


class Family(ABC):
    """One backbone family. Subclasses say how to build, load and pool; the registry holds one instance each."""

    name: str
    pooling: str  # the declared pooling's name; a manifest's ``pooling`` starts with it
    size_multiple: int = 1  # input sides must be a multiple of this (Hiera: stride 4 x window 8)

    def input_size(self, requested: int) -> int:
        """The side actually used for ``requested``: rounded up to the family's multiple."""
        return -(-int(requested) // self.size_multiple) * self.size_multiple

    @abstractmethod
    def create_trunk(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> nn.Module:
        """The architecture of ``model_id`` for ``input_size``; with ``weights_file`` (a state dict baked by
        ``pretrained_trunk`` / a random init, safetensors), those weights, adapted to ``input_size``."""

    @abstractmethod
    def pretrained_trunk(self, model_id: str) -> nn.Module:
        """The trunk with the real released weights, downloaded (build time only; raises when offline)."""

    @abstractmethod
    def pool(self, trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The family's declared pooling: one ``[B, num_features]`` embedding per image."""

    def build(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> Backbone:
        return Backbone(self.create_trunk(model_id, input_size, weights_file), self).eval()
