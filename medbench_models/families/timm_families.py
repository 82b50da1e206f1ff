"""Families that timm builds: DINOv2, MAE, AIMv2 (ViTs, token pooling), SAM2.1 Hiera and supervised CNNs
(timm's own global average pooling)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from medbench_models.families.base import Family


def _timm():
    import timm  # imported lazily: the harness imports the registry to count parameters on 'meta'

    return timm


def pool_cls(tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """The final-norm CLS token."""
    return tokens[:, 0]


def pool_patch_mean(tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """Mean of the patch tokens (prefix tokens such as CLS / registers excluded), after the final norm."""
    return tokens[:, prefix:].mean(dim=1)


class TimmFamily(Family):
    def __init__(self, name: str, pooling: str, token_pool: Callable[[torch.Tensor, int], torch.Tensor] | None,
                 takes_img_size: bool, size_multiple: int = 1):
        self.name = name
        self.pooling = pooling
        self.token_pool = token_pool  # None: timm's own global pooling (``num_classes=0``)
        self.takes_img_size = takes_img_size  # the trunk is built for the input size (ViT position embeddings)
        self.size_multiple = size_multiple

    def create_trunk(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> nn.Module:
        kwargs: dict = {"num_classes": 0}
        if self.takes_img_size and input_size:
            kwargs["img_size"] = input_size
        timm = _timm()
        if weights_file:
            # our own baked timm state dict; timm resamples position embeddings to img_size on load
            return timm.create_model(model_id, pretrained=True, pretrained_cfg_overlay={"file": weights_file}, **kwargs)
        return timm.create_model(model_id, pretrained=False, **kwargs)

    def pretrained_trunk(self, model_id: str) -> nn.Module:
        return _timm().create_model(model_id, pretrained=True, num_classes=0)

    def pool(self, trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.token_pool is None:
            return trunk(x)  # spatial average of the last stage
        return self.token_pool(trunk.forward_features(x), int(getattr(trunk, "num_prefix_tokens", 0)))


TIMM_FAMILIES = (
    TimmFamily("dinov2", "cls", pool_cls, takes_img_size=True),
    TimmFamily("mae", "patch-mean", pool_patch_mean, takes_img_size=True),
    TimmFamily("aimv2", "patch-mean", pool_patch_mean, takes_img_size=True),
    TimmFamily("sam2", "avg", None, takes_img_size=False, size_multiple=32),
    TimmFamily("supervised", "avg", None, takes_img_size=False),
)
