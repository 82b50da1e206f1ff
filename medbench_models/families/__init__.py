"""Backbone families: how each is built from its model id and how it pools one embedding per image.

One module per source of architectures: ``timm_families`` (DINOv2, MAE, AIMv2, SAM2.1, supervised),
``coca`` (open_clip), ``vmamba`` (medbench's own VMamba implementation, ``medbench_models.vmamba``). Each
family declares its pooling (fairness rule 3); a manifest's ``pooling`` must start with that name.
"""

from __future__ import annotations

import torch

from medbench_models.families.base import Backbone, Family
from medbench_models.families.coca import CocaFamily
from medbench_models.families.timm_families import TIMM_FAMILIES, pool_cls, pool_patch_mean
from medbench_models.families.vmamba import VMambaFamily

FAMILIES: dict[str, Family] = {f.name: f for f in (*TIMM_FAMILIES, CocaFamily(), VMambaFamily())}


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


__all__ = ["Backbone", "Family", "FAMILIES", "get_family", "count_parameters", "pool_cls", "pool_patch_mean"]
