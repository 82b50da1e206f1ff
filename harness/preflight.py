"""``medbench validate``: a submitter's pre-flight, step by step, on a tiny built-in split.

Manifest schema -> Dockerfile -> image builds -> non-root user -> smoke ``embed`` (and ``finetune`` if
declared) in the real isolated runtime -> outputs valid. Nothing here needs real data.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import docker
import numpy as np

from harness.cells import CellFailure, classify_outcome, read_result_json
from harness.contract.arrays import ArrayProblem, check_embeddings, check_probabilities
from harness.datasets.synthetic import fake_fundus_image
from harness.errors import MedbenchError
from harness.runtime.container import ContainerLimits, run_contract_call
from harness.runtime.images import DEFAULT_BASE_IMAGE, BuiltImage, ImageBuildFailed, build_submission_image
from harness.runtime.inputs import embed_input, finetune_input, task_document
from harness.submission import SubmissionSpec, load_submission

SMOKE_DATASET = {
    "name": "smoke",
    "task_type": "multiclass",
    "class_names": ["a", "b", "c"],
    "modality": "synthetic",
    "original_channels": 3,
    "official_metric": "balanced_accuracy",
}


@dataclass
class Step:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class PreflightReport:
    submission: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


def smoke_arrays(n: int = 12, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    return np.stack([fake_fundus_image(rng, int(g), size) for g in labels]), labels.astype(np.int64)


def _smoke_embed(client, spec: SubmissionSpec, built: BuiltImage, work: Path, limits: ContainerLimits, input_size: int | None) -> str:
    images, _ = smoke_arrays()
    np.save(work / "smoke_images.npy", images)
    task = task_document("embed", SMOKE_DATASET, spec.smoke_variant, input_size, {"images.npy": list(images.shape)}, batch_size=8)
    mounts = embed_input(work / "embed-in", work / "smoke_images.npy", task)
    outcome = run_contract_call(client, built.image_id, "embed", work / "embed-in", work / "embed-out", mounts, limits)
    failure = classify_outcome(outcome)
    if failure:
        raise failure
    result = read_result_json(work / "embed-out", "embed", spec, spec.smoke_variant)
    try:
        emb = check_embeddings(work / "embed-out" / "embeddings.npy", len(images), result["model"]["embedding_dim"])
    except ArrayProblem as exc:
        raise CellFailure("invalid_output", "validate", str(exc), log=outcome.logs) from None
    return f"{emb.shape[0]}x{emb.shape[1]} embeddings in {outcome.wall_seconds:.1f} s, weights {result['model']['weights']['source']}"


def _smoke_finetune(client, spec: SubmissionSpec, built: BuiltImage, work: Path, limits: ContainerLimits, input_size: int | None) -> str:
    images, labels = smoke_arrays(n=18)
    arrays = {
        "train_images": images[:9], "train_labels": labels[:9],
        "val_images": images[9:12], "val_labels": labels[9:12],
        "test_images": images[12:],
    }
    task = task_document(
        "finetune", SMOKE_DATASET, spec.smoke_variant, input_size,
        {f"{k}.npy": list(v.shape) for k, v in arrays.items()}, max_epochs=2, max_seconds=300, batch_size=8,
    )
    finetune_input(work / "ft-in", arrays, task)
    outcome = run_contract_call(client, built.image_id, "finetune", work / "ft-in", work / "ft-out", None, limits)
    failure = classify_outcome(outcome)
    if failure:
        raise failure
    read_result_json(work / "ft-out", "finetune", spec, spec.smoke_variant)
    try:
        probs = check_probabilities(work / "ft-out" / "test_probs.npy", 6, 3, multilabel=False)
    except ArrayProblem as exc:
        raise CellFailure("invalid_output", "validate", str(exc), log=outcome.logs) from None
    return f"test_probs {probs.shape} in {outcome.wall_seconds:.1f} s"


def preflight(
    folder: Path,
    client: docker.DockerClient | None,
    base_image: str = DEFAULT_BASE_IMAGE,
    weights: str = "random",
    limits: ContainerLimits = ContainerLimits(timeout_s=900),
    input_size: int | None = None,
    progress: Callable[[Step], None] = lambda step: None,
) -> PreflightReport:
    report = PreflightReport(submission=str(folder))

    def add(step: Step) -> bool:
        report.steps.append(step)
        progress(step)
        return step.ok

    try:
        spec = load_submission(folder)
    except MedbenchError as exc:
        add(Step("manifest + Dockerfile", False, str(exc)))
        return report
    add(Step("manifest + Dockerfile", True, f"{spec.name} {spec.version}, variants {', '.join(spec.variants)}"))
    if client is None:
        add(Step("image builds", False, "no Docker engine; start it with: bash docker/engine.sh"))
        return report
    try:
        built = build_submission_image(client, spec, spec.smoke_variant, base_image=base_image, weights=weights)
    except ImageBuildFailed as exc:
        add(Step("image builds", False, f"{exc}\n{exc.log[-2000:]}"))
        return report
    except MedbenchError as exc:
        add(Step("image builds", False, str(exc)))
        return report
    add(Step("image builds", True, f"{built.tag} = {built.image_id[:19]}"))
    if not add(Step("non-root user", not built.runs_as_root, f"USER {built.user or '(unset: root)'}")):
        return report
    work = Path(tempfile.mkdtemp(prefix="medbench-preflight-"))
    try:
        for kind, fn in (("embed", _smoke_embed), ("finetune", _smoke_finetune)):
            if kind not in spec.kinds:
                continue
            try:
                add(Step(f"smoke {kind}: outputs valid", True, fn(client, spec, built, work, limits, input_size)))
            except CellFailure as exc:
                add(Step(f"smoke {kind}: outputs valid", False, f"{exc.failure_class}: {exc.message}\n{exc.log[-2000:]}"))
            except MedbenchError as exc:
                add(Step(f"smoke {kind}: outputs valid", False, str(exc)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report
