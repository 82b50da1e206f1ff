"""The entrypoint loop: ``python -m yoursubmission embed|finetune`` -> arrays + ``result.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from medbench_sdk.contract import (
    CONTRACT_VERSION,
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_SUBMISSION_ERROR,
    EXIT_USAGE,
    KINDS,
    OUTPUT_DIR,
)
from medbench_sdk.outputs import write_embeddings, write_predictions, write_result
from medbench_sdk.task import InputError, Task, read_task

WEIGHTS_INFO_PATH = os.environ.get("MEDBENCH_WEIGHTS_INFO", "/opt/medbench/weights/weights.json")


@dataclass
class ModelInfo:
    """What ``load`` reports about the model it built; copied into ``result.json``."""

    model_id: str
    variant: str
    parameters: int
    embedding_dim: int
    input_size: int
    pooling: str
    normalization_mean: list[float]
    normalization_std: list[float]
    weights_source: str  # "pretrained" or "random-init"
    checkpoint: str
    device: str = "cpu"
    device_name: str = field(default_factory=platform.processor)
    notes: str = ""


class Submission(Protocol):
    name: str
    version: str

    def load(self, task: Task) -> ModelInfo: ...

    def embed(self, task: Task, images: np.ndarray) -> np.ndarray: ...

    # Optional: implement only the kinds the manifest declares.
    def finetune(self, task: Task) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]: ...

    def peak_gpu_memory_mb(self) -> float | None: ...


def read_weights_info(path: str = WEIGHTS_INFO_PATH) -> dict[str, Any]:
    """The build-time record of where the baked weights came from (``weights.json``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"source": "random-init", "checkpoint": "none", "reason": f"{path} absent"}


def _result(submission: Submission, task: Task, info: ModelInfo, timings: dict, extra: dict) -> dict:
    peak = submission.peak_gpu_memory_mb() if hasattr(submission, "peak_gpu_memory_mb") else None
    result = {
        "contract_version": CONTRACT_VERSION,
        "kind": task.kind,
        "submission": {"name": submission.name, "version": submission.version},
        "model": {
            "id": info.model_id,
            "variant": info.variant,
            "parameters": int(info.parameters),
            "embedding_dim": int(info.embedding_dim),
            "input_size": int(info.input_size),
            "pooling": info.pooling,
            "normalization": {"mean": list(info.normalization_mean), "std": list(info.normalization_std)},
            "weights": {"source": info.weights_source, "checkpoint": info.checkpoint},
        },
        "timings": timings,
        "device": {"type": info.device, "name": info.device_name or "unknown", "peak_gpu_memory_mb": peak},
    }
    if info.notes:
        result["notes"] = info.notes
    if extra:
        result["finetune"] = extra
    return result


def serve(submission: Submission, argv: list[str] | None = None) -> int:
    """Run one contract call and return its exit code (use ``sys.exit(serve(...))``)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in KINDS:
        print(f"usage: <entrypoint> {{{'|'.join(KINDS)}}}", file=sys.stderr)
        return EXIT_USAGE
    kind = argv[0]
    if not callable(getattr(submission, kind, None)):
        print(f"medbench-sdk: submission {submission.name} does not implement {kind}", file=sys.stderr)
        return EXIT_USAGE
    try:
        task = read_task()
        if task.kind != kind:
            raise InputError(f"task.json: field 'kind' is {task.kind!r} but the entrypoint was called with {kind!r}")
    except InputError as exc:
        print(f"medbench-sdk: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        t0 = time.perf_counter()
        info = submission.load(task)
        t1 = time.perf_counter()
        if kind == "embed":
            images = task.images()
            embeddings = submission.embed(task, images)
            t2 = time.perf_counter()
            write_embeddings(embeddings)
            n_images, extra = len(images), {}
        else:
            test_probs, val_probs, extra = submission.finetune(task)
            t2 = time.perf_counter()
            write_predictions(test_probs, val_probs)
            n_images = len(task.train_images()) + len(task.val_images()) + len(task.test_images())
        compute = t2 - t1
        timings = {
            "load_seconds": round(t1 - t0, 6),
            "compute_seconds": round(compute, 6),
            "images_per_second": round(n_images / compute, 3) if compute > 0 else None,
        }
        write_result(_result(submission, task, info, timings, extra))
    except InputError as exc:
        print(f"medbench-sdk: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001 - the harness classifies it from the exit code and this log
        print(f"medbench-sdk: submission {submission.name} failed in {kind}:", file=sys.stderr)
        traceback.print_exc()
        return EXIT_SUBMISSION_ERROR
    print(f"medbench-sdk: {kind} done, outputs in {OUTPUT_DIR}", file=sys.stderr)
    return EXIT_OK


__all__ = ["ModelInfo", "Submission", "read_weights_info", "serve"]
