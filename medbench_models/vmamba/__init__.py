"""VMamba (Liu et al., 2024): the released v2 ImageNet-1k classifiers as medbench trunks.

``model``: the architecture (module and parameter names as the authors' checkpoints); ``scan``: the
selective scan (pure PyTorch on any device, ``mamba-ssm``'s CUDA kernel when installed); ``release``: the
authors' checkpoint URLs and a safe reader for them.
"""

from medbench_models.vmamba.model import CONFIGS, VSSM, VSSMConfig, build_vssm
from medbench_models.vmamba.release import CHECKPOINTS
from medbench_models.vmamba.scan import selective_scan, selective_scan_torch

__all__ = ["CHECKPOINTS", "CONFIGS", "VSSM", "VSSMConfig", "build_vssm", "selective_scan", "selective_scan_torch"]
