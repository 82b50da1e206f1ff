"""CoCa (Yu et al., 2022) through open_clip: the image tower only (no text tower, no multimodal decoder).

Model ids are ``<open_clip architecture>.<pretrained tag>``, e.g. ``coca_ViT-B-32.laion2b_s13b_b90k``.
Embedding: open_clip's CoCa image latent: the ViT's tokens go through the attentional pooler (256 learned
queries), ``ln_post``, and the first pooled query is projected to the contrastive space (``embed_dim``).
"""

from __future__ import annotations

import torch
from torch import nn

from medbench_models.families.base import Family


def _split(model_id: str) -> tuple[str, str]:
    arch, _, tag = model_id.partition(".")
    if not arch.startswith("coca_") or not tag:
        raise ValueError(f"CoCa model id {model_id!r} is not '<coca architecture>.<pretrained tag>', e.g. 'coca_ViT-B-32.laion2b_s13b_b90k'")
    return arch, tag


class CocaTrunk(nn.Module):
    """open_clip's CoCa ``visual`` tower, with the trunk interface (``num_features``, ``group_matcher``,
    ``set_grad_checkpointing``). State-dict keys keep open_clip's ``visual.`` prefix."""

    def __init__(self, arch: str, input_size: int | None):
        super().__init__()
        import open_clip
        from open_clip.model import _build_vision_tower

        cfg = open_clip.get_model_config(arch)
        if cfg is None or not cfg.get("vision_cfg", {}).get("attentional_pool"):
            raise ValueError(f"{arch!r} is not an open_clip CoCa architecture")
        vision_cfg = dict(cfg["vision_cfg"])
        if input_size:
            vision_cfg["image_size"] = int(input_size)
        self.native_size = int(cfg["vision_cfg"]["image_size"])
        self.visual = _build_vision_tower(cfg["embed_dim"], vision_cfg, quick_gelu=bool(cfg.get("quick_gelu", False)))
        self.num_features = int(cfg["embed_dim"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, _tokens = self.visual(x)  # CoCa towers return (image latent, caption tokens)
        return pooled

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        """timm convention: the patch embedding first, then one group per residual block, then the pooler."""
        return {
            "stem": r"^visual\.(?:conv1|class_embedding|positional_embedding|ln_pre)",
            "blocks": [(r"^visual\.transformer\.resblocks\.(\d+)", None), (r"^visual\.(?:attn_pool|ln_post|proj)", (99999,))],
        }

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return {"visual.positional_embedding", "visual.class_embedding"}


class CocaFamily(Family):
    name = "coca"
    pooling = "attn-pool"

    def create_trunk(self, model_id: str, input_size: int | None, weights_file: str | None = None) -> nn.Module:
        arch, _tag = _split(model_id)
        trunk = CocaTrunk(arch, input_size)
        if weights_file:
            from open_clip.model import resize_pos_embed
            from safetensors.torch import load_file

            state = load_file(weights_file)
            resize_pos_embed(state, trunk)  # the baked grid (native size) to this input size's grid
            trunk.load_state_dict(state)
        return trunk

    def pretrained_trunk(self, model_id: str) -> nn.Module:
        import open_clip

        arch, tag = _split(model_id)
        full = open_clip.create_model(arch, pretrained=tag)
        trunk = CocaTrunk(arch, None)
        trunk.visual.load_state_dict(full.visual.state_dict())
        return trunk

    def pool(self, trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return trunk(x)
