"""Backbone families: how each is built from its model id and how it pools one embedding per image.

Each family declares its pooling (fairness rule 3); the manifest's ``pooling`` must start with that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


def _timm():
    import timm  # imported lazily: the harness imports this module to count parameters on 'meta'

    return timm


def pool_cls(tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """The final-norm CLS token."""
    return tokens[:, 0]


def pool_patch_mean(tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """Mean of the patch tokens (prefix tokens such as CLS / registers excluded), after the final norm."""
    return tokens[:, prefix:].mean(dim=1)


class Backbone(nn.Module):
    """A trunk plus its family's pooling: ``forward(x [B,3,H,W]) -> [B, num_features]``."""

    def __init__(self, trunk: nn.Module, pool: Callable[[nn.Module, torch.Tensor], torch.Tensor], num_features: int):
        super().__init__()
        self.trunk = trunk
        self._pool = pool
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool(self.trunk, x)


def _token_pool(reduce: Callable[[torch.Tensor, int], torch.Tensor]):
    def pool(trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return reduce(trunk.forward_features(x), int(getattr(trunk, "num_prefix_tokens", 0)))

    return pool


def _head_pool(trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """timm's own global pooling (``num_classes=0``): spatial average of the last stage."""
    return trunk(x)


@dataclass(frozen=True)
class Family:
    name: str
    pooling: str  # the declared pooling's name; the manifest's ``pooling`` starts with it
    pool: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    takes_img_size: bool  # the trunk is built for the input size (ViT position embeddings)
    size_multiple: int = 1  # input sides must be a multiple of this (Hiera: stride 4 x window 8)

    def input_size(self, requested: int) -> int:
        """The side actually used for ``requested``: rounded up to the family's multiple."""
        return -(-int(requested) // self.size_multiple) * self.size_multiple

    def create_trunk(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> nn.Module:
        kwargs: dict = {"num_classes": 0}
        if self.takes_img_size and input_size:
            kwargs["img_size"] = input_size
        timm = _timm()
        if weights_file:
            # our own baked timm state dict; timm resamples position embeddings to img_size on load
            return timm.create_model(model_id, pretrained=True, pretrained_cfg_overlay={"file": weights_file}, **kwargs)
        return timm.create_model(model_id, pretrained=False, **kwargs)

    def build(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> Backbone:
        trunk = self.create_trunk(model_id, input_size, weights_file)
        return Backbone(trunk, self.pool, int(trunk.num_features)).eval()


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("dinov2", "cls", _token_pool(pool_cls), takes_img_size=True),
        Family("mae", "patch-mean", _token_pool(pool_patch_mean), takes_img_size=True),
        Family("aimv2", "patch-mean", _token_pool(pool_patch_mean), takes_img_size=True),
        Family("sam2", "avg", _head_pool, takes_img_size=False, size_multiple=32),
        Family("supervised", "avg", _head_pool, takes_img_size=False),
    )
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown backbone family {name!r} (known: {', '.join(sorted(FAMILIES))})") from None


def count_parameters(family: str, model_id: str, input_size: int | None) -> int:
    """Parameters of the architecture, instantiated on the 'meta' device (no memory, no weights)."""
    with torch.device("meta"):
        trunk = get_family(family).create_trunk(model_id, input_size)
    return sum(p.numel() for p in trunk.parameters())
