"""VMamba v2 (Liu et al., 2024, "VMamba: Visual State Space Model") image classifiers, the three released
ImageNet-1k configurations only, written for medbench.

This is not a copy of the authors' code (github.com/MzeroMiko/VMamba, MIT licence, (c) 2024 UCAS): it is
an independent implementation of the same function whose module tree, parameter names and shapes follow
the authors' ``classification/models/vmamba.py`` (``VSSM`` with ``forward_type="v05_noz"``,
``patchembed_version="v2"``, ``downsample_version="v3"``), so that the state dicts of their released
checkpoints load with ``strict=True``. What the released configurations use, and nothing else:

* stem: conv 3x3 stride 2 -> LayerNorm -> GELU -> conv 3x3 stride 2 -> LayerNorm
  (``patch_embed.{0,2,5,7}``; 1, 3, 4, 6 hold no parameters);
* four stages of VSS blocks (``layers.i.blocks.j``), each block
  ``x + SS2D(LN(x))`` then ``x + MLP(LN(x))``; between stages a conv 3x3 stride 2 + LayerNorm
  (``layers.i.downsample.{1,3}``, after stage i's blocks);
* SS2D without its gate branch ("_noz"): linear in-projection, depthwise conv 3x3, SiLU, the 2-D selective
  scan over four directions (row-major, column-major and both reversed: ``scan.selective_scan``, groups of
  channels sharing B and C per direction), the four outputs summed back onto the grid, LayerNorm
  (``out_norm``), linear out-projection;
* head: ``classifier.norm`` (LayerNorm) -> global average pool -> ``classifier.head`` (linear, only when
  ``num_classes > 0``).

Tensors are channel-last between layers (the authors' ``norm_layer="ln"`` layout; their builders default
to channel-first with ``LayerNorm2d`` and 1x1-conv ``Linear2d``, which hold the same parameters, with the
same shapes, and compute the same function). Stochastic depth, dropout, position embeddings, the gate branch, the other forward types and
the FLOP counters of the authors' file are left out (none is used by the released checkpoints at
inference; fine-tuning here runs without stochastic depth, as for the other families).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from medbench_models.vmamba.scan import selective_scan

DIRECTIONS = 4  # row-major, column-major, and both reversed


@dataclass(frozen=True)
class VSSMConfig:
    depths: tuple[int, int, int, int]
    dim: int  # stage-1 width; doubled at every stage
    ssm_ratio: float  # SS2D inner width = ssm_ratio * block width
    ssm_d_state: int = 1
    ssm_conv: int = 3
    ssm_conv_bias: bool = False
    mlp_ratio: float = 4.0

    @property
    def dims(self) -> list[int]:
        return [self.dim * 2**i for i in range(len(self.depths))]


class Permute(nn.Module):
    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


def cross_scan(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B, 4, C, H*W]``: row-major, column-major, then both reversed."""
    rows = x.flatten(2)
    cols = x.transpose(2, 3).flatten(2)
    xs = torch.stack([rows, cols], dim=1)
    return torch.cat([xs, xs.flip(-1)], dim=1)


def cross_merge(ys: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``[B, 4, C, H*W]`` (the four scans' outputs) -> ``[B, C, H*W]`` in row-major order, summed."""
    b, _, c, length = ys.shape
    ys = ys[:, 0:2] + ys[:, 2:4].flip(-1)
    return ys[:, 0] + ys[:, 1].view(b, c, w, h).transpose(2, 3).reshape(b, c, length)


class SS2D(nn.Module):
    """The 2-D selective-scan mixer of a VSS block (the authors' ``SS2D``, ``forward_type="v05_noz"``)."""

    def __init__(self, d_model: int, d_state: int = 1, ssm_ratio: float = 2.0, d_conv: int = 3, conv_bias: bool = False,
                 dt_min: float = 0.001, dt_max: float = 0.1, dt_init_floor: float = 1e-4):
        super().__init__()
        self.d_inner = int(ssm_ratio * d_model)
        self.d_state = int(d_state)
        self.dt_rank = math.ceil(d_model / 16)
        self.dt_range = (dt_min, dt_max, dt_init_floor)
        k, di, n, r = DIRECTIONS, self.d_inner, self.d_state, self.dt_rank
        self.in_proj = nn.Linear(d_model, di, bias=False)
        self.act = nn.SiLU()
        self.conv2d = nn.Conv2d(di, di, kernel_size=d_conv, padding=(d_conv - 1) // 2, groups=di, bias=conv_bias)
        self.x_proj_weight = nn.Parameter(torch.empty(k, r + 2 * n, di))  # per direction: dt (rank r), B, C
        self.dt_projs_weight = nn.Parameter(torch.empty(k, di, r))
        self.dt_projs_bias = nn.Parameter(torch.empty(k, di))
        self.A_logs = nn.Parameter(torch.empty(k * di, n))
        self.Ds = nn.Parameter(torch.empty(k * di))
        self.out_norm = nn.LayerNorm(di)
        self.out_proj = nn.Linear(di, d_model, bias=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Mamba's initialisation (as the authors' ``mamba_init``): S4D-real ``A``, ``D = 1``, ``dt`` log-uniform
        in ``[dt_min, dt_max]`` through the inverse softplus of its bias."""
        dt_min, dt_max, floor = self.dt_range
        bound = self.d_inner**-0.5  # nn.Linear's default for the per-direction x projections
        self.x_proj_weight.uniform_(-bound, bound)
        self.dt_projs_weight.uniform_(-(self.dt_rank**-0.5), self.dt_rank**-0.5)
        dt = torch.exp(torch.rand(self.dt_projs_bias.shape, device=self.dt_projs_bias.device)
                       * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
        self.dt_projs_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        a = torch.arange(1, self.d_state + 1, dtype=torch.float32, device=self.A_logs.device)
        self.A_logs.copy_(torch.log(a).expand_as(self.A_logs))
        self.Ds.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, H, W, C] -> [B, H, W, C]
        x = self.in_proj(x).permute(0, 3, 1, 2).contiguous()
        x = self.act(self.conv2d(x))
        return self.out_proj(self._scan(x))

    def _scan(self, x: torch.Tensor) -> torch.Tensor:  # [B, Di, H, W] -> [B, H, W, Di] (after out_norm)
        b, di, h, w = x.shape
        k, n, r, length = DIRECTIONS, self.d_state, self.dt_rank, h * w
        xs = cross_scan(x)  # [B, K, Di, L]
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight.to(xs.dtype))
        dts, bs, cs = torch.split(x_dbl, [r, n, n], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight.to(dts.dtype))
        ys = selective_scan(
            xs.reshape(b, k * di, length), dts.reshape(b, k * di, length),
            -torch.exp(self.A_logs.float()), bs.contiguous(), cs.contiguous(), self.Ds.float(),
            delta_bias=self.dt_projs_bias.reshape(-1).float(), delta_softplus=True,
        )  # float32 [B, K*Di, L]
        y = cross_merge(ys.view(b, k, di, length), h, w)
        y = self.out_norm(y.transpose(1, 2).reshape(b, h, w, di))
        return y.to(x.dtype)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class VSSBlock(nn.Module):
    def __init__(self, dim: int, cfg: VSSMConfig):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.op = SS2D(dim, d_state=cfg.ssm_d_state, ssm_ratio=cfg.ssm_ratio, d_conv=cfg.ssm_conv, conv_bias=cfg.ssm_conv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.op(self.norm(x))
        return x + self.mlp(self.norm2(x))


def _stem(in_chans: int, dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chans, dim // 2, kernel_size=3, stride=2, padding=1),
        Permute(0, 2, 3, 1),
        nn.LayerNorm(dim // 2),
        Permute(0, 3, 1, 2),
        nn.GELU(),
        nn.Conv2d(dim // 2, dim, kernel_size=3, stride=2, padding=1),
        Permute(0, 2, 3, 1),
        nn.LayerNorm(dim),
    )


def _downsample(dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        Permute(0, 3, 1, 2),
        nn.Conv2d(dim, out_dim, kernel_size=3, stride=2, padding=1),
        Permute(0, 2, 3, 1),
        nn.LayerNorm(out_dim),
    )


class VSSM(nn.Module):
    """The classifier (``num_classes > 0``) or, with ``num_classes=0``, the trunk medbench embeds with:
    ``forward(x [B,3,H,W]) -> [B, num_features]``, the global average of the last stage after its final
    LayerNorm. Any input side works (every stride-2 conv rounds up); the released weights are for 224."""

    def __init__(self, cfg: VSSMConfig, num_classes: int = 0, in_chans: int = 3):
        super().__init__()
        self.cfg = cfg
        dims = cfg.dims
        self.num_features = dims[-1]
        self.grad_checkpointing = False
        self.patch_embed = _stem(in_chans, dims[0])
        self.layers = nn.ModuleList()
        for i, depth in enumerate(cfg.depths):
            last = i == len(cfg.depths) - 1
            self.layers.append(nn.Sequential(OrderedDict(
                blocks=nn.Sequential(*(VSSBlock(dims[i], cfg) for _ in range(depth))),
                downsample=nn.Identity() if last else _downsample(dims[i], dims[i + 1]),
            )))
        head = OrderedDict(norm=nn.LayerNorm(self.num_features), permute=Permute(0, 3, 1, 2),
                           avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1))
        if num_classes:
            head["head"] = nn.Linear(self.num_features, num_classes)
        self.classifier = nn.Sequential(head)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        # the authors' init: truncated normal (std 0.02) linear weights, zero biases, unit LayerNorms
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> the last stage, channel-last ``[B, h, w, num_features]`` (before the final norm)."""
        x = self.patch_embed(x)
        for layer in self.layers:
            for block in layer.blocks:
                if self.grad_checkpointing and torch.is_grad_enabled():
                    x = checkpoint(block, x, use_reentrant=False)
                else:
                    x = block(x)
            x = layer.downsample(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))

    # --- the trunk interface of medbench_models.families.base (timm's conventions) ---

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        """Layer-wise lr decay groups: the stem; then per stage, one group per block (coarse: per stage)
        and the stage's downsampling after its blocks; the final norm goes with the last block."""
        if coarse:
            return {"stem": r"^patch_embed", "blocks": [(r"^layers\.(\d+)", None), (r"^classifier\.", (99999,))]}
        return {
            "stem": r"^patch_embed",
            "blocks": [
                (r"^layers\.(\d+)\.blocks\.(\d+)\.", None),
                (r"^layers\.(\d+)\.downsample\.", (100000,)),
                (r"^classifier\.", (99999,)),
            ],
        }

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = bool(enable)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """As the authors' optimizer: no weight decay on the SSM's ``A_logs`` and ``Ds`` (1-D parameters and
        biases are excluded anyway)."""
        return {"*.A_logs", "*.Ds"}


CONFIGS: dict[str, VSSMConfig] = {
    # the authors' builder names (classification/models/vmamba.py) for the three released v2 checkpoints
    "vmamba_tiny_s1l8": VSSMConfig(depths=(2, 2, 8, 2), dim=96, ssm_ratio=1.0),
    "vmamba_small_s2l15": VSSMConfig(depths=(2, 2, 15, 2), dim=96, ssm_ratio=2.0),
    "vmamba_base_s2l15": VSSMConfig(depths=(2, 2, 15, 2), dim=128, ssm_ratio=2.0),
}


def build_vssm(name: str, num_classes: int = 0) -> VSSM:
    try:
        cfg = CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown VMamba model {name!r} (known: {', '.join(CONFIGS)})") from None
    return VSSM(cfg, num_classes=num_classes)
