"""VMamba (Liu et al., 2024) v2 ImageNet-1k classifiers, without their linear head (``medbench_models.vmamba``:
no package ships them). Model ids are the authors' builder names: ``vmamba_tiny_s1l8``,
``vmamba_small_s2l15``, ``vmamba_base_s2l15``. Embedding: the model's own pooling, the global average of
the last stage after the classifier's final LayerNorm. The SS2D selective scan runs in pure PyTorch on CPU
(and on GPU without ``mamba-ssm``), and on ``mamba-ssm``'s CUDA kernel when it is installed.
"""

from __future__ import annotations

import torch
from torch import nn

from medbench_models.families.base import Family


class VMambaFamily(Family):
    name = "vmamba"
    pooling = "avg"
    size_multiple = 1  # stride-2 convs round up: any side works (224 px, the released one, -> 7x7 last stage)

    def create_trunk(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> nn.Module:
        from medbench_models.vmamba import build_vssm

        trunk = build_vssm(model_id)  # no position embeddings: nothing depends on the input size
        if weights_file:
            from safetensors.torch import load_file

            trunk.load_state_dict(load_file(weights_file))
        return trunk

    def pretrained_trunk(self, model_id: str) -> nn.Module:
        from medbench_models.vmamba import CHECKPOINTS, build_vssm
        from medbench_models.vmamba.release import download_checkpoint, trunk_state

        trunk = build_vssm(model_id)
        if model_id not in CHECKPOINTS:
            raise ValueError(f"no released checkpoint for VMamba model {model_id!r}")
        trunk.load_state_dict(trunk_state(download_checkpoint(CHECKPOINTS[model_id])), strict=True)
        return trunk

    def pool(self, trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return trunk(x)
