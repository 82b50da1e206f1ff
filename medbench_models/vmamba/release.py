"""The authors' released VMamba checkpoints: where they are, and how to read one safely.

The release files are full training checkpoints (``torch.save`` of a dict whose ``"model"`` entry is the
state dict; other entries may be the optimizer, scheduler, epoch and the training config, a ``yacs``
object). They are read with a restricted unpickler: tensors, storages, ``OrderedDict`` and plain Python
values are rebuilt, every other pickled class or function is replaced by an inert placeholder. So a
config class that is not installed here does not break the load, and nothing in the file is executed.
"""

from __future__ import annotations

import collections
import os
import pickle
import socket
import tempfile
import types
from urllib.parse import urlparse

import torch

RELEASE = "https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/"
CHECKPOINTS: dict[str, str] = {  # model id -> the authors' release URL (their README, "#v2cls" release)
    "vmamba_tiny_s1l8": RELEASE + "vssm1_tiny_0230s_ckpt_epoch_264.pth",
    "vmamba_small_s2l15": RELEASE + "vssm_small_0229_ckpt_epoch_222.pth",
    "vmamba_base_s2l15": RELEASE + "vssm_base_0229_ckpt_epoch_237.pth",
}
DOWNLOAD_TIMEOUT_S = 60.0  # per socket operation; a build without network fails fast instead of hanging


class Ignored(dict):
    """Stands in for any pickled object whose class is not a tensor or a plain container: it takes whatever
    the pickle gives it (arguments, items, state) and keeps nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


_BUILTINS = {"set", "frozenset", "slice", "complex", "bytearray", "range", "tuple", "list", "dict"}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name.startswith("_rebuild_"):
            return getattr(torch._utils, name)
        if module == "torch" and (name == "Size" or isinstance(getattr(torch, name, None), torch.dtype)):
            return getattr(torch, name)
        if module == "builtins" and name in _BUILTINS:
            return getattr(__import__("builtins"), name)
        return Ignored


restricted_pickle = types.ModuleType("medbench_restricted_pickle")
restricted_pickle.Unpickler = _RestrictedUnpickler
restricted_pickle.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()
restricted_pickle.__name__ = "medbench_restricted_pickle"


def read_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint file (its ``"model"`` entry, or the file itself when that is a state
    dict), with DataParallel ``module.`` prefixes and profiler counters (``total_ops``/``total_params``)
    removed."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=restricted_pickle)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: no state dict of tensors under 'model'")
    out = {}
    for key, value in state.items():
        if key.endswith(("total_ops", "total_params")):
            continue
        out[key.removeprefix("module.")] = value
    return out


def download_checkpoint(url: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> dict[str, torch.Tensor]:
    """Download ``url`` (``torch.hub``'s downloader, ``timeout`` seconds per socket operation) into a
    temporary folder, read its state dict, delete the file."""
    name = os.path.basename(urlparse(url).path) or "checkpoint.pth"
    old = socket.getdefaulttimeout()
    with tempfile.TemporaryDirectory(prefix="vmamba-") as tmp:
        path = os.path.join(tmp, name)
        socket.setdefaulttimeout(timeout)
        try:
            torch.hub.download_url_to_file(url, path, progress=False)
        finally:
            socket.setdefaulttimeout(old)
        return read_checkpoint(path)


def trunk_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A classifier's state dict without its linear head (``classifier.head.*``): the trunk's."""
    return {k: v for k, v in state.items() if not k.startswith("classifier.head.")}
