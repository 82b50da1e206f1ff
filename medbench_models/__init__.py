"""Torch-side helpers shared by the model submissions (installed in ``medbench/base`` next to the SDK).

``families``: one entry per backbone family (how to build it, how it pools); ``embed``: batched
feature extraction (resize + normalize, bf16 autocast on CUDA, out-of-memory back-off); ``finetune``:
full fine-tuning with a linear head; ``weights``: baking one variant's weights at build time;
``submission``: the contract implementation every family folder's ``main.py`` serves.
"""

__all__ = ["families", "embed", "finetune", "metrics", "weights", "submission"]
