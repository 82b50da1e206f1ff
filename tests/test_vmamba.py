"""VMamba: the selective scan against the recurrence it computes, the architecture against the authors'
checkpoint layout and published sizes, the release reader, and a fine-tuning step.
(tests/test_model_families.py covers the submission itself: embedding, determinism, manifest agreement.)"""

from __future__ import annotations

import argparse
import math
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medbench_models.families import get_family
from medbench_models.vmamba import CHECKPOINTS, CONFIGS, build_vssm
from medbench_models.vmamba import release as release_mod
from medbench_models.vmamba.release import read_checkpoint, trunk_state
from medbench_models.vmamba.scan import (
    default_backend,
    linear_scan,
    linear_scan_autograd,
    mamba_ssm_selective_scan,
    selective_scan,
    selective_scan_cuda,
    selective_scan_torch,
)
from medbench_models.weights import bake, load_manifest

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "submissions" / "vmamba" / "submission.yaml"


# --- the selective scan --------------------------------------------------------------------------------


def reference_recurrence(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    x = torch.zeros_like(b[..., 0])
    out = []
    for t in range(a.shape[-1]):
        x = a[..., t] * x + b[..., t]
        out.append(x)
    return torch.stack(out, dim=-1)


def reference_selective_scan(u, delta, A, B, C, D, delta_bias, softplus=True):
    """Mamba's S6 recurrence, one step at a time, channel by channel group (float64)."""
    batch, dim, length = u.shape
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    per = dim // B.shape[1]
    delta = delta + delta_bias[None, :, None]
    if softplus:
        delta = torch.log1p(torch.exp(delta))
    x = torch.zeros(batch, dim, A.shape[1], dtype=u.dtype)
    ys = []
    for t in range(length):
        bt = B[:, :, :, t].repeat_interleave(per, dim=1)  # [b, d, n]
        ct = C[:, :, :, t].repeat_interleave(per, dim=1)
        x = torch.exp(delta[:, :, t, None] * A[None]) * x + (delta[:, :, t] * u[:, :, t])[:, :, None] * bt
        ys.append((x * ct).sum(-1) + D[None] * u[:, :, t])
    return torch.stack(ys, dim=-1)


def _scan_inputs(batch=2, groups=4, per=3, n=2, length=37, dtype=torch.float64, seed=0, grouped=True):
    g = torch.Generator().manual_seed(seed)
    dim = groups * per
    shape_bc = (batch, groups, n, length) if grouped else (batch, n, length)
    return dict(
        u=torch.randn(batch, dim, length, generator=g, dtype=dtype),
        delta=torch.randn(batch, dim, length, generator=g, dtype=dtype),
        A=-torch.exp(torch.randn(dim, n, generator=g, dtype=dtype)),
        B=torch.randn(*shape_bc, generator=g, dtype=dtype),
        C=torch.randn(*shape_bc, generator=g, dtype=dtype),
        D=torch.randn(dim, generator=g, dtype=dtype),
        delta_bias=torch.randn(dim, generator=g, dtype=dtype),
    )


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 15, 16, 17, 49, 63, 64, 65, 196, 257, 1000])
def test_linear_scan_equals_the_step_by_step_recurrence(length):
    g = torch.Generator().manual_seed(length)
    a = torch.rand(2, 3, length, generator=g, dtype=torch.float64)
    b = torch.randn(2, 3, length, generator=g, dtype=torch.float64)
    torch.testing.assert_close(linear_scan(a.log(), b), reference_recurrence(a, b), rtol=1e-12, atol=1e-12)


def test_linear_scan_with_strong_decay_neither_overflows_nor_loses_the_recent_past():
    a = torch.full((1, 5000), 1e-30, dtype=torch.float32)
    a[:, ::7] = 1.0
    b = torch.randn(1, 5000, generator=torch.Generator().manual_seed(0))
    out = linear_scan(a.log(), b)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference_recurrence(a, b))


@pytest.mark.parametrize("grouped", [True, False])
@pytest.mark.parametrize("length", [1, 7, 64, 150])
def test_selective_scan_equals_the_reference_recurrence(length, grouped):
    inp = _scan_inputs(length=length, grouped=grouped)
    ours = selective_scan_torch(**inp, delta_softplus=True)
    ref = reference_selective_scan(*(inp[k] for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")))
    assert ours.dtype == torch.float32  # the pure path always computes in float32
    torch.testing.assert_close(ours.double(), ref, rtol=1e-5, atol=1e-5)


def test_selective_scan_in_float64_is_exact():
    # float64 through the same arithmetic: the scan itself adds no error beyond rounding
    inp = _scan_inputs(length=100)
    u, delta, A, B, C, D, bias = (inp[k] for k in ("u", "delta", "A", "B", "C", "D", "delta_bias"))
    d = F.softplus(delta + bias[None, :, None])
    per = u.shape[1] // B.shape[1]
    log_decay = d.view(2, 4, per, 1, -1) * A.view(4, per, 2, 1)
    drive = (d * u).view(2, 4, per, 1, -1) * B.view(2, 4, 1, 2, -1)
    states = linear_scan_autograd(log_decay, drive)
    y = (states * C.view(2, 4, 1, 2, -1)).sum(3).view(2, 4 * per, -1) + u * D[None, :, None]
    torch.testing.assert_close(y, reference_selective_scan(u, delta, A, B, C, D, bias), rtol=1e-12, atol=1e-12)


def test_linear_scan_backward_is_the_gradient():
    g = torch.Generator().manual_seed(1)
    log_a = torch.rand(2, 3, 41, generator=g, dtype=torch.float64).log().requires_grad_(True)
    b = torch.randn(2, 3, 41, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_scan_autograd, (log_a, b))


def test_selective_scan_gradients_match_the_reference_recurrence():
    inp = _scan_inputs(length=23, dtype=torch.float32)
    ours_in = {k: v.clone().requires_grad_(True) for k, v in inp.items()}
    ref_in = {k: v.double().clone().requires_grad_(True) for k, v in inp.items()}
    weights = torch.randn(2, 12, 23, generator=torch.Generator().manual_seed(3))
    (selective_scan_torch(**ours_in) * weights).sum().backward()
    (reference_selective_scan(*(ref_in[k] for k in ("u", "delta", "A", "B", "C", "D", "delta_bias"))) * weights.double()).sum().backward()
    for k in inp:
        torch.testing.assert_close(ours_in[k].grad.double(), ref_in[k].grad, rtol=1e-4, atol=1e-4, msg=k)


def test_backend_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert default_backend(cpu) == "torch"
    monkeypatch.setenv("MEDBENCH_VMAMBA_SCAN", "torch")
    assert default_backend(torch.device("cuda")) == "torch"
    inp = _scan_inputs(length=5, dtype=torch.float32)
    with pytest.raises(ValueError, match="unknown selective-scan backend"):
        selective_scan(**inp, backend="triton")
    if mamba_ssm_selective_scan() is None:
        with pytest.raises(RuntimeError, match="mamba_ssm is not installed"):
            selective_scan_cuda(**inp)


needs_cuda_kernel = pytest.mark.skipif(not torch.cuda.is_available() or mamba_ssm_selective_scan() is None,
                                       reason="needs a CUDA GPU and mamba-ssm (pip install 'medbench[vmamba-cuda]')")


@needs_cuda_kernel
def test_cuda_kernel_agrees_with_the_pure_pytorch_scan():
    inp = {k: v.float().cuda() for k, v in _scan_inputs(batch=2, groups=4, per=16, n=1, length=3136, seed=5).items()}
    inp["delta"] = inp["delta"] - 2.0  # realistic step sizes (softplus around 0.1)
    cuda = selective_scan(**inp, backend="cuda")
    pure = selective_scan(**inp, backend="torch")
    torch.testing.assert_close(cuda, pure, rtol=1e-3, atol=1e-3)


@needs_cuda_kernel
def test_model_on_the_cuda_kernel_agrees_with_the_pure_path(monkeypatch):
    torch.manual_seed(0)
    model = build_vssm("vmamba_tiny_s1l8").cuda().eval()
    x = torch.randn(4, 3, 64, 64, device="cuda")
    with torch.no_grad():
        cuda = model(x)
        monkeypatch.setenv("MEDBENCH_VMAMBA_SCAN", "torch")
        pure = model(x)
    torch.testing.assert_close(cuda, pure, rtol=1e-3, atol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_pure_path_embeds_in_bf16_on_gpu(monkeypatch):
    from medbench_models.embed import embed

    monkeypatch.setenv("MEDBENCH_VMAMBA_SCAN", "torch")
    torch.manual_seed(0)
    model = get_family("vmamba").build("vmamba_tiny_s1l8", 224)
    images = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    cpu = embed(model, images, 224, mean, std, batch_size=4)
    gpu = embed(model.cuda(), images, 224, mean, std, batch_size=4, device="cuda")
    assert gpu.shape == (8, 768) and np.isfinite(gpu).all()
    assert np.corrcoef(gpu.ravel(), cpu.ravel())[0, 1] > 0.99


# --- the architecture ----------------------------------------------------------------------------------


def authors_state_dict_shapes(depths, dim, ssm_ratio, d_state=1, num_classes=1000) -> dict[str, tuple]:
    """The keys and shapes of the authors' VSSM (classification/models/vmamba.py) for a released v2 config:
    ``patchembed_version="v2"`` (an 8-entry nn.Sequential), ``downsample_version="v3"`` (4 entries),
    VSSBlock(norm, op=SS2D(forward_type="v05_noz", conv_bias=False), norm2, mlp), classifier(norm, head)."""
    dims = [dim * 2**i for i in range(4)]
    s = {
        "patch_embed.0.weight": (dims[0] // 2, 3, 3, 3), "patch_embed.0.bias": (dims[0] // 2,),
        "patch_embed.2.weight": (dims[0] // 2,), "patch_embed.2.bias": (dims[0] // 2,),
        "patch_embed.5.weight": (dims[0], dims[0] // 2, 3, 3), "patch_embed.5.bias": (dims[0],),
        "patch_embed.7.weight": (dims[0],), "patch_embed.7.bias": (dims[0],),
    }
    for i, depth in enumerate(depths):
        c = dims[i]
        di, rank = int(ssm_ratio * c), math.ceil(c / 16)
        for j in range(depth):
            p = f"layers.{i}.blocks.{j}."
            s.update({
                p + "norm.weight": (c,), p + "norm.bias": (c,),
                p + "op.in_proj.weight": (di, c),  # "_noz": no gate half
                p + "op.conv2d.weight": (di, 1, 3, 3),
                p + "op.x_proj_weight": (4, rank + 2 * d_state, di),
                p + "op.dt_projs_weight": (4, di, rank), p + "op.dt_projs_bias": (4, di),
                p + "op.A_logs": (4 * di, d_state), p + "op.Ds": (4 * di,),
                p + "op.out_norm.weight": (di,), p + "op.out_norm.bias": (di,),
                p + "op.out_proj.weight": (c, di),
                p + "norm2.weight": (c,), p + "norm2.bias": (c,),
                p + "mlp.fc1.weight": (4 * c, c), p + "mlp.fc1.bias": (4 * c,),
                p + "mlp.fc2.weight": (c, 4 * c), p + "mlp.fc2.bias": (c,),
            })
        if i < 3:
            s.update({
                f"layers.{i}.downsample.1.weight": (dims[i + 1], c, 3, 3), f"layers.{i}.downsample.1.bias": (dims[i + 1],),
                f"layers.{i}.downsample.3.weight": (dims[i + 1],), f"layers.{i}.downsample.3.bias": (dims[i + 1],),
            })
    s.update({"classifier.norm.weight": (dims[3],), "classifier.norm.bias": (dims[3],),
              "classifier.head.weight": (num_classes, dims[3]), "classifier.head.bias": (num_classes,)})
    return s


@pytest.mark.parametrize("model_id", list(CONFIGS))
def test_state_dict_has_the_authors_checkpoint_layout(model_id):
    cfg = CONFIGS[model_id]
    with torch.device("meta"):
        full = build_vssm(model_id, num_classes=1000)
        trunk = build_vssm(model_id)
    expected = authors_state_dict_shapes(cfg.depths, cfg.dim, cfg.ssm_ratio, cfg.ssm_d_state)
    assert {k: tuple(v.shape) for k, v in full.state_dict().items()} == expected
    assert set(trunk.state_dict()) == set(trunk_state(expected))


# The authors' README (ImageNet-1k, 224 px, with the 1000-class head): T 30M, S 50M, B 89M.
@pytest.mark.parametrize("model_id, published_m", [("vmamba_tiny_s1l8", 30), ("vmamba_small_s2l15", 50), ("vmamba_base_s2l15", 89)])
def test_parameter_counts_match_the_published_ones(model_id, published_m):
    with torch.device("meta"):
        full = build_vssm(model_id, num_classes=1000)
        trunk = build_vssm(model_id)
    n_full = sum(p.numel() for p in full.parameters())
    n_trunk = sum(p.numel() for p in trunk.parameters())
    assert abs(n_full / 1e6 - published_m) < 0.5 + 0.01 * published_m  # rounded to whole millions
    assert n_full - n_trunk == trunk.num_features * 1000 + 1000  # only the linear head is dropped


def test_manifest_names_the_release_checkpoints():
    manifest = load_manifest(str(MANIFEST))
    for name, variant in manifest["variants"].items():
        assert variant["checkpoint"] == CHECKPOINTS[variant["model_id"]], name
        assert variant["checkpoint"].startswith("https://github.com/MzeroMiko/VMamba/releases/download/")
    assert manifest["variants"][manifest["smoke_variant"]]["model_id"] == "vmamba_tiny_s1l8"


@pytest.mark.parametrize("side", [28, 33, 64])
def test_any_input_side_embeds(side):
    torch.manual_seed(0)
    model = get_family("vmamba").build("vmamba_tiny_s1l8", side)
    assert get_family("vmamba").input_size(side) == side
    with torch.inference_mode():
        out = model(torch.randn(2, 3, side, side))
    assert out.shape == (2, 768) and torch.isfinite(out).all()


def test_pooling_is_the_classifiers_norm_then_average():
    torch.manual_seed(0)
    trunk = build_vssm("vmamba_tiny_s1l8").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        feats = trunk.forward_features(x)  # [B, h, w, C]
        expected = trunk.classifier.norm(feats).mean(dim=(1, 2))
        torch.testing.assert_close(trunk(x), expected)


# --- the authors' release files ----------------------------------------------------------------------------


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def release_file(tmp_path, monkeypatch):
    """A file shaped like the authors' checkpoints: {'model': state dict, 'config': a yacs-like object of a
    module that is gone at load time, ...}, plus a payload that would run a command if unpickled blindly."""
    torch.manual_seed(1)
    model = build_vssm("vmamba_tiny_s1l8", num_classes=1000)
    fake_yacs = types.ModuleType("fake_yacs_config")

    class CfgNode(dict):
        pass

    CfgNode.__module__, CfgNode.__qualname__ = "fake_yacs_config", "CfgNode"
    fake_yacs.CfgNode = CfgNode
    monkeypatch.setitem(sys.modules, "fake_yacs_config", fake_yacs)
    cfg = CfgNode(MODEL={"NAME": "vssm1_tiny_0230s"})
    marker = tmp_path / "pwned"
    path = tmp_path / "vssm1_tiny_0230s_ckpt_epoch_264.pth"
    torch.save({"model": model.state_dict(), "config": cfg, "epoch": 264, "max_accuracy": 82.6,
                "args": argparse.Namespace(lr=1e-3), "payload": _RunsCode(marker)}, path)
    monkeypatch.delitem(sys.modules, "fake_yacs_config")
    return path, model, marker


def test_release_file_is_read_without_running_anything(release_file):
    path, model, marker = release_file
    with pytest.raises(Exception):  # noqa: B017 - a plain load needs the config's module
        torch.load(path, map_location="cpu", weights_only=False)
    state = read_checkpoint(str(path))
    assert not marker.exists()
    assert set(state) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k
    trunk = build_vssm("vmamba_tiny_s1l8")
    trunk.load_state_dict(trunk_state(state), strict=True)


def test_pretrained_trunk_downloads_and_loads_the_release_strictly(release_file, monkeypatch):
    path, model, marker = release_file
    monkeypatch.setitem(release_mod.CHECKPOINTS, "vmamba_tiny_s1l8", path.as_uri())
    trunk = get_family("vmamba").pretrained_trunk("vmamba_tiny_s1l8")
    assert not marker.exists()
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        model.eval()
        expected = model.classifier[:-1](model.forward_features(x))  # the classifier without its head
        torch.testing.assert_close(trunk.eval()(x), expected)


def test_offline_auto_build_bakes_a_labelled_random_init(tmp_path, monkeypatch):
    monkeypatch.setitem(release_mod.CHECKPOINTS, "vmamba_tiny_s1l8", "http://127.0.0.1:9/vssm1_tiny_0230s_ckpt_epoch_264.pth")
    info = bake(load_manifest(str(MANIFEST)), "vmamba-t", "auto", str(tmp_path))
    assert info["source"] == "random-init" and "unreachable" in info["reason"]
    assert (tmp_path / "model.safetensors").exists()
    with pytest.raises(SystemExit, match="cannot download"):
        bake(load_manifest(str(MANIFEST)), "vmamba-t", "pretrained", str(tmp_path / "p"))


# --- fine-tuning -----------------------------------------------------------------------------------------


def test_layer_decay_groups_and_weight_decay():
    from timm.optim import param_groups_layer_decay

    trunk = build_vssm("vmamba_tiny_s1l8")
    groups = param_groups_layer_decay(trunk, weight_decay=0.05, no_weight_decay_list=trunk.no_weight_decay(), layer_decay=0.75)
    scales = sorted({g["lr_scale"] for g in groups})
    # stem + 14 blocks + 3 downsamplings; the final norm shares the last block's rate
    assert len(scales) == 18 and scales[-1] == 1.0 and math.isclose(scales[0], 0.75**17)
    named = dict(trunk.named_parameters())
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert id(named["layers.0.blocks.0.op.A_logs"]) in no_decay and id(named["layers.0.blocks.0.op.Ds"]) in no_decay
    assert id(named["layers.0.blocks.0.op.x_proj_weight"]) not in no_decay
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert scale_of[id(named["patch_embed.0.weight"])] == scales[0]
    assert scale_of[id(named["layers.0.blocks.1.mlp.fc1.weight"])] < scale_of[id(named["layers.0.downsample.1.weight"])] \
        < scale_of[id(named["layers.1.blocks.0.op.in_proj.weight"])]
    assert scale_of[id(named["classifier.norm.weight"])] == scale_of[id(named["layers.3.blocks.1.mlp.fc2.weight"])] == 1.0


def test_backward_with_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    trunk = build_vssm("vmamba_tiny_s1l8").train()
    x = torch.randn(2, 3, 32, 32)

    def grads(checkpointing: bool) -> dict[str, torch.Tensor]:
        trunk.zero_grad(set_to_none=True)
        trunk.set_grad_checkpointing(checkpointing)
        trunk(x).square().sum().backward()
        return {n: p.grad.clone() for n, p in trunk.named_parameters()}

    plain, ckpt = grads(False), grads(True)
    assert set(plain) == set(dict(trunk.named_parameters()))  # every parameter gets a gradient
    for n in plain:
        assert torch.isfinite(plain[n]).all(), n
        torch.testing.assert_close(ckpt[n], plain[n], rtol=1e-4, atol=1e-6, msg=n)
    assert plain["layers.0.blocks.0.op.A_logs"].abs().sum() > 0 and plain["layers.0.blocks.0.op.dt_projs_bias"].abs().sum() > 0


def test_finetune_runs_one_epoch():
    from medbench_models.finetune import FinetuneConfig, finetune

    torch.manual_seed(0)
    backbone = get_family("vmamba").build("vmamba_tiny_s1l8", 32)
    rng = np.random.default_rng(0)
    data = {
        "train_images": rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), "train_labels": np.array([0, 1, 2, 0, 1, 2]),
        "val_images": rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), "val_labels": np.array([0, 1, 2]),
        "test_images": rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
    }
    cfg = FinetuneConfig(batch_size=3, max_epochs=1, max_seconds=300)
    test_probs, val_probs, info = finetune(backbone, "multiclass", 3, data, 32, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], cfg)
    assert test_probs.shape == (4, 3) and np.allclose(test_probs.sum(1), 1, atol=1e-5)
    assert info["epochs_run"] == 1 and info["best_epoch"] == 1


def test_base_image_carries_the_model_subpackages():
    from harness.runtime.base_image import _arcname, _package_files

    names = {_arcname(p) for p in _package_files()}
    assert {"medbench_models/families/vmamba.py", "medbench_models/vmamba/scan.py", "medbench_models/vmamba/model.py",
            "medbench_models/families/base.py", "medbench_models/submission.py", "medbench_sdk/serve.py"} <= names
    assert not any("__pycache__" in n for n in names)
