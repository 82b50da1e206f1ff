"""The selective scan of Mamba (S6) that VMamba's SS2D runs over its four scan directions.

For every channel ``d`` and state ``n`` (channels in ``g`` groups that share ``B`` and ``C``)::

    delta_t = softplus(delta_t + delta_bias)                    (when delta_softplus)
    x_t     = exp(delta_t * A[d, n]) * x_{t-1} + delta_t * B[g, n, t] * u_t,   x_{-1} = 0
    y_t     = sum_n C[g, n, t] * x_t[n] + D[d] * u_t

Two implementations of the same function:

* ``selective_scan_torch``: pure PyTorch, any device. The first-order linear recurrence is evaluated in
  chunks (``linear_scan``: about ``2 sqrt(L)`` vectorised steps instead of ``L``, no overflow). Its
  backward pass is the same scan run backwards (a custom autograd function), so training keeps the
  states once rather than a tape of every step. Computed in float32 whatever the input dtype (bf16
  autocast included).
* ``mamba_ssm.ops.selective_scan_interface.selective_scan_fn`` (the ``mamba-ssm`` package's CUDA kernel):
  used for CUDA tensors when the package is installed (the optional ``vmamba-cuda`` extra).

``selective_scan`` picks one: ``backend=None`` means the CUDA kernel when it applies, else PyTorch;
``MEDBENCH_VMAMBA_SCAN=torch`` forces the PyTorch path everywhere.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import torch
import torch.nn.functional as F


def linear_scan(log_a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``x_t = exp(log_a_t) x_{t-1} + b_t`` over the last dim with ``x_{-1} = 0``, for all ``t`` (no autograd
    tape). ``log_a <= 0`` in the selective scan (decays), though any finite value works.

    The length ``L`` is cut into about ``sqrt(L)`` chunks of about ``sqrt(L)`` steps, laid out step-major
    so that each step is one contiguous multiply-add over all chunks at once; then the states at the chunk
    ends are carried forward (one step per chunk) and added in, scaled by each position's decay since its
    chunk began (``exp`` of a cumulative sum of ``log_a``: no running product that could sink into slow
    denormal floats). About ``2 sqrt(L)`` tensor operations instead of ``L``.
    """
    length = log_a.shape[-1]
    steps = math.isqrt(length - 1) + 1 if length > 1 else 1  # ceil(sqrt(L))
    n_chunks = -(-length // steps)
    pad = n_chunks * steps - length
    if pad:  # padding at the end never reaches earlier positions
        log_a = F.pad(log_a, (0, pad))
        b = F.pad(b, (0, pad))
    log_a = log_a.unflatten(-1, (n_chunks, steps)).movedim(-1, 0)  # [steps, ..., n_chunks]
    x = b.unflatten(-1, (n_chunks, steps)).movedim(-1, 0).contiguous()
    a = log_a.exp()
    for t in range(1, steps):
        x[t].addcmul_(a[t], x[t - 1])
    if n_chunks > 1:
        decay = torch.cumsum(log_a, dim=0).exp_()  # decay since the chunk began, [steps, ..., n_chunks]
        ends = x[-1].movedim(-1, 0).contiguous()  # [n_chunks, ...]: each chunk's end state, from zero
        across = decay[-1].movedim(-1, 0).contiguous()
        for c in range(1, n_chunks):
            ends[c].addcmul_(across[c], ends[c - 1])
        entering = F.pad(ends[:-1].movedim(0, -1), (1, 0))  # [..., n_chunks]: the state entering chunk c
        x.addcmul_(decay, entering.unsqueeze(0))
    return x.movedim(0, -1).flatten(-2)[..., :length]


class _LinearScan(torch.autograd.Function):
    """``linear_scan`` with a backward pass that is itself a (reversed) linear scan.

    With ``lam_t = dL/dx_t`` accumulated over the future (``lam_t = g_t + a_{t+1} lam_{t+1}``):
    ``dL/db_t = lam_t`` and ``dL/dlog_a_t = lam_t a_t x_{t-1}``.
    """

    @staticmethod
    def forward(ctx, log_a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = linear_scan(log_a, b)
        ctx.save_for_backward(log_a, x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        log_a, x = ctx.saved_tensors
        log_a_next = F.pad(log_a[..., 1:], (0, 1))
        lam = linear_scan(log_a_next.flip(-1), grad.flip(-1)).flip(-1)
        grad_log_a = lam * F.pad(x[..., :-1], (1, 0)) * log_a.exp() if ctx.needs_input_grad[0] else None
        return grad_log_a, lam


def linear_scan_autograd(log_a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _LinearScan.apply(log_a, b)


def selective_scan_torch(u, delta, A, B, C, D=None, delta_bias=None, delta_softplus: bool = True) -> torch.Tensor:
    """Pure-PyTorch selective scan. ``u``, ``delta``: ``[b, d, l]``; ``A``: ``[d, n]``; ``B``, ``C``:
    ``[b, g, n, l]`` (or ``[b, n, l]``: one group); ``D``, ``delta_bias``: ``[d]``. Returns float32 ``[b, d, l]``."""
    u, delta, A, B, C = (t.float() for t in (u, delta, A, B, C))
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    batch, dim, length = u.shape
    groups, n_state = B.shape[1], A.shape[1]
    if dim % groups:
        raise ValueError(f"{dim} channels do not split into {groups} groups")
    if delta_bias is not None:
        delta = delta + delta_bias.float().view(1, dim, 1)
    if delta_softplus:
        delta = F.softplus(delta)
    per = dim // groups
    delta_g = delta.view(batch, groups, per, 1, length)
    log_decay = delta_g * A.view(groups, per, n_state, 1)  # [b, g, d/g, n, l], <= 0 for A <= 0
    drive = (delta * u).view(batch, groups, per, 1, length) * B.view(batch, groups, 1, n_state, length)
    states = linear_scan_autograd(log_decay, drive)
    y = (states * C.view(batch, groups, 1, n_state, length)).sum(dim=3).view(batch, dim, length)
    if D is not None:
        y = y + u * D.float().view(1, dim, 1)
    return y


@lru_cache(maxsize=1)
def mamba_ssm_selective_scan():
    """``mamba_ssm``'s CUDA selective scan, or ``None`` when the package (or its extension) is absent."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # noqa: BLE001 - not installed, or built against another torch / CUDA
        return None
    return selective_scan_fn


def selective_scan_cuda(u, delta, A, B, C, D=None, delta_bias=None, delta_softplus: bool = True) -> torch.Tensor:
    """The ``mamba-ssm`` CUDA kernel, with the dtypes it requires (``delta``, ``B``, ``C`` as ``u``; ``A``,
    ``D``, ``delta_bias`` float32). Returns float32 ``[b, d, l]``."""
    fn = mamba_ssm_selective_scan()
    if fn is None:
        raise RuntimeError("mamba_ssm is not installed (pip install 'medbench[vmamba-cuda]')")
    dtype = u.dtype if u.dtype in (torch.float32, torch.float16, torch.bfloat16) else torch.float32
    u, delta, B, C = (t.to(dtype).contiguous() for t in (u, delta, B, C))
    out = fn(u, delta, A.float().contiguous(), B, C,
             D=None if D is None else D.float().contiguous(), z=None,
             delta_bias=None if delta_bias is None else delta_bias.float().contiguous(),
             delta_softplus=delta_softplus)
    return out.float()


def default_backend(device: torch.device) -> str:
    if os.environ.get("MEDBENCH_VMAMBA_SCAN", "").lower() == "torch":
        return "torch"
    return "cuda" if device.type == "cuda" and mamba_ssm_selective_scan() is not None else "torch"


def selective_scan(u, delta, A, B, C, D=None, delta_bias=None, delta_softplus: bool = True, backend: str | None = None) -> torch.Tensor:
    """The selective scan on ``backend`` (``"torch"`` or ``"cuda"``; ``None``: ``default_backend``)."""
    backend = backend or default_backend(u.device)
    if backend == "cuda":
        return selective_scan_cuda(u, delta, A, B, C, D, delta_bias, delta_softplus)
    if backend == "torch":
        return selective_scan_torch(u, delta, A, B, C, D, delta_bias, delta_softplus)
    raise ValueError(f"unknown selective-scan backend {backend!r} (torch, cuda)")
