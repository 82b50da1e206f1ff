"""Evaluating cells: (submission, variant, dataset, protocol) -> one record, success or classified failure.

A submission's fault never stops the run: it becomes a failure record and the next cell goes on. Only
problems of the harness's own inputs (a dataset that no longer matches its lock, an unreachable
engine) stop the run, with a clear error.
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import docker
import numpy as np
from threadpoolctl import threadpool_limits

from harness import SCORING_VERSION, __version__
from harness.contract.arrays import ArrayProblem, check_embeddings, check_probabilities
from harness.contract.validation import describe_errors, read_document
from harness.datasets.prepared import PreparedDataset, prepare_by_name
from harness.errors import EngineError, SchemaError
from harness.paths import medbench_home
from harness.protocols.base import EmbedProtocol, Protocol
from harness.protocols.finetune import FinetuneProtocol
from harness.runtime.container import ContainerLimits, RunOutcome, run_contract_call
from harness.runtime.images import DEFAULT_BASE_IMAGE, BuiltImage, ImageBuildFailed, build_submission_image
from harness.runtime.inputs import embed_input, finetune_input, task_document
from harness.scoring.bootstrap import BootstrapConfig, point_value, resample_weights, score_with_ci
from harness.scoring.metrics import STANDARD_SECONDARY, Undefined, metrics_for
from harness.store import ResultsStore, cache_key
from harness.submission import SubmissionSpec
from medbench_sdk.contract import CONTRACT_VERSION, EXIT_BAD_INPUT

RECORD_VERSION = 1


@dataclass(frozen=True)
class Cell:
    submission: SubmissionSpec
    variant: str
    dataset: str
    protocol: Protocol

    @property
    def label(self) -> str:
        return f"{self.submission.name}/{self.variant} x {self.dataset} x {self.protocol.name}"

    def ident(self) -> dict[str, str]:
        return {"submission": self.submission.name, "variant": self.variant, "dataset": self.dataset, "protocol": self.protocol.name}


@dataclass
class RunSettings:
    base_image: str = DEFAULT_BASE_IMAGE
    weights: str = "auto"
    limits: ContainerLimits = field(default_factory=ContainerLimits)
    gpu: str | None = None
    data: Path | None = None
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    retry_failed: bool = False
    keep_workdir: bool = False


class CellFailure(Exception):
    def __init__(self, failure_class: str, stage: str, message: str, exit_code: int | None = None, log: str = ""):
        super().__init__(message)
        self.failure_class, self.stage, self.message, self.exit_code, self.log = failure_class, stage, message, exit_code, log


@dataclass
class CellResult:
    record: dict[str, Any]
    from_cache: bool
    container_started: bool


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def classify_outcome(outcome: RunOutcome) -> CellFailure | None:
    """Map a finished container run to a failure class, or None when it exited cleanly."""
    if outcome.timed_out:
        return CellFailure("timeout", "run", f"wall-clock timeout after {outcome.wall_seconds:.0f} s", outcome.exit_code, outcome.logs)
    if outcome.output_too_large:
        return CellFailure("output_too_large", "run", f"/output exceeded its size cap ({outcome.output_bytes} bytes)", outcome.exit_code, outcome.logs)
    if outcome.oom_killed:
        return CellFailure("oom", "run", "killed for exceeding its memory limit", outcome.exit_code, outcome.logs)
    if outcome.exit_code == EXIT_BAD_INPUT:
        return CellFailure("bad_input", "run", "the submission rejected its /input as malformed", outcome.exit_code, outcome.logs)
    if outcome.exit_code != 0:
        return CellFailure("crashed", "run", f"exited with code {outcome.exit_code}", outcome.exit_code, outcome.logs)
    return None


def read_result_json(output_dir: Path, kind: str, spec: SubmissionSpec, variant: str) -> dict[str, Any]:
    path = output_dir / "result.json"
    if not path.exists():
        raise CellFailure("invalid_output", "validate", "result.json is missing from /output")
    try:
        doc = read_document(path)
    except SchemaError as exc:
        raise CellFailure("invalid_output", "validate", str(exc)) from None
    problems = describe_errors(doc, "result")
    if problems:
        raise CellFailure("invalid_output", "validate", "result.json is invalid: " + "; ".join(problems))
    declared = spec.variant(variant)
    if doc["kind"] != kind:
        problems.append(f"field 'kind': {doc['kind']!r}, the call was {kind!r}")
    if doc["submission"]["name"] != spec.name:
        problems.append(f"field 'submission.name': {doc['submission']['name']!r}, manifest says {spec.name!r}")
    if doc["model"]["variant"] != variant:
        problems.append(f"field 'model.variant': {doc['model']['variant']!r}, the task asked for {variant!r}")
    if doc["model"]["embedding_dim"] != declared.embedding_dim:
        problems.append(f"field 'model.embedding_dim': {doc['model']['embedding_dim']}, manifest declares {declared.embedding_dim}")
    if doc["model"]["pooling"] != spec.pooling:  # fairness rule 3: the pooling declared is the pooling used
        problems.append(f"field 'model.pooling': {doc['model']['pooling']!r}, manifest declares {spec.pooling!r}")
    if problems:
        raise CellFailure("invalid_output", "validate", "result.json disagrees with the contract: " + "; ".join(problems))
    return doc


def bootstrap_unit(prepared: PreparedDataset) -> str:
    """What the bootstrap resamples: whole groups (patient / lesion) where the dataset knows them."""
    return "case" if prepared.groups("test") is None else "group"


def cell_metrics(prepared: PreparedDataset):
    spec = prepared.spec
    secondary = tuple(spec.secondary_metrics) + tuple(m for m in STANDARD_SECONDARY if m not in spec.secondary_metrics)
    return metrics_for(spec.task_type, spec.official_metric, secondary)


def metric_block(prepared: PreparedDataset, members: list[np.ndarray], bootstrap: BootstrapConfig) -> dict[str, Any]:
    """Every metric of the dataset with its bootstrap CI; several members (few-shot seeds) are averaged."""
    spec = prepared.spec
    y = prepared.labels("test")
    weights = resample_weights(len(y), bootstrap, groups=prepared.groups("test"))  # by patient / lesion where known
    with threadpool_limits(limits=1):  # probe-sized array ops: threads only add overhead
        return {m.name: score_with_ci(m, spec.task_type, y, members, weights, bootstrap.level) for m in cell_metrics(prepared)}


def settings_block(prepared: PreparedDataset, settings: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Per setting (e.g. few-shot fraction): every member's point metrics, and their mean and spread (SD)."""
    spec, y = prepared.spec, prepared.labels("test")
    out: dict[str, Any] = {}
    for label, members in settings.items():
        per_member, mean, spread = [], {}, {}
        for probs in members:
            row = {}
            for m in cell_metrics(prepared):
                try:
                    row[m.name] = point_value(m, spec.task_type, y, [probs])
                except Undefined:
                    row[m.name] = None
            per_member.append(row)
        for m in cell_metrics(prepared):
            values = [r[m.name] for r in per_member if r[m.name] is not None]
            mean[m.name] = float(np.mean(values)) if values else None
            spread[m.name] = float(np.std(values, ddof=1)) if len(values) > 1 else (0.0 if values else None)
        out[label] = {"members": len(members), "per_member": per_member, "mean": mean, "sd": spread}
    return out


class CellRunner:
    def __init__(
        self,
        client: docker.DockerClient,
        store: ResultsStore,
        settings: RunSettings | None = None,
        log: Callable[[str], None] = lambda message: None,
    ):
        self.client, self.store, self.settings, self.log = client, store, settings or RunSettings(), log
        self._images: dict[tuple[str, str], BuiltImage | ImageBuildFailed] = {}
        self._prepared: dict[str, PreparedDataset] = {}

    # -- inputs shared between cells -------------------------------------------------------------
    def image(self, spec: SubmissionSpec, variant: str) -> BuiltImage | ImageBuildFailed:
        key = (str(spec.folder), variant)
        if key not in self._images:
            self.log(f"building {spec.name}/{variant} on {self.settings.base_image} (weights={self.settings.weights})")
            try:
                self._images[key] = build_submission_image(
                    self.client, spec, variant, base_image=self.settings.base_image, weights=self.settings.weights
                )
            except ImageBuildFailed as exc:
                self._images[key] = exc
        return self._images[key]

    def prepared(self, dataset: str) -> PreparedDataset:
        if dataset not in self._prepared:
            self._prepared[dataset] = prepare_by_name(dataset, data=self.settings.data)
        return self._prepared[dataset]

    # -- one cell -------------------------------------------------------------------------------
    def key_inputs(self, cell: Cell, image_id: str | None, prepared: PreparedDataset) -> dict[str, Any]:
        return {
            "cell": cell.ident(),
            "image_id": image_id,
            "split_lock_hash": prepared.lock.lock_hash,
            "prepared_resolution": prepared.resolution,
            "protocol": cell.protocol.config(),
            "bootstrap": self.settings.bootstrap.describe(bootstrap_unit(prepared)),
            "contract_version": CONTRACT_VERSION,
            "scoring_version": SCORING_VERSION,
        }

    def run(self, cell: Cell) -> CellResult:
        t_start = time.perf_counter()
        prepared = self.prepared(cell.dataset)  # a dataset that fails its lock stops the run here
        built = self.image(cell.submission, cell.variant)
        image_id = built.image_id if isinstance(built, BuiltImage) else None
        key_inputs = self.key_inputs(cell, image_id, prepared)
        key = cache_key(key_inputs)
        cached = self.store.get(key)
        if cached is not None and (cached["status"] == "ok" or not self.settings.retry_failed):
            self.log(f"cache hit {cell.label} ({key[:12]})")
            return CellResult(cached, from_cache=True, container_started=False)
        base = self._record_base(cell, key, key_inputs, prepared, built)
        started = False
        try:
            if isinstance(built, ImageBuildFailed):
                raise CellFailure("build_failed", "build", str(built), log=built.log)
            if built.runs_as_root:
                raise CellFailure(
                    "refused", "policy", f"image {built.tag} runs as root (USER {built.user or 'unset'}); submissions must declare a non-root USER"
                )
            started = True
            workdir = medbench_home() / "work" / key[:16]
            try:
                record = self._evaluate(cell, built, prepared, base, workdir)
            except EngineError as exc:  # the engine failed this cell; the run goes on
                raise CellFailure("engine_error", "run", str(exc)) from None
            finally:
                if not self.settings.keep_workdir:
                    shutil.rmtree(workdir, ignore_errors=True)
        except CellFailure as failure:
            record = {
                **base,
                "status": "failed",
                "failure": {
                    "failure_class": failure.failure_class,
                    "stage": failure.stage,
                    "message": failure.message,
                    "exit_code": failure.exit_code,
                    "log_excerpt": failure.log[-self.settings.limits.log_cap_bytes :],
                },
            }
            self.log(f"FAILED {cell.label}: {failure.failure_class}: {failure.message.splitlines()[0]}")
        record["timings"]["total_seconds"] = round(time.perf_counter() - t_start, 3)
        self.store.put(record)
        return CellResult(record, from_cache=False, container_started=started)

    def _record_base(self, cell: Cell, key: str, key_inputs: dict, prepared: PreparedDataset, built) -> dict[str, Any]:
        return {
            "record_version": RECORD_VERSION,
            "cell": cell.ident(),
            "cache_key": key,
            "cache_key_inputs": key_inputs,
            "protocol_config": cell.protocol.config(),
            "provenance": {
                "image_id": built.image_id if isinstance(built, BuiltImage) else None,
                "image_tag": built.tag if isinstance(built, BuiltImage) else None,
                "split_lock_hash": prepared.lock.lock_hash,
                "dataset_synthetic": prepared.spec.synthetic,
                "harness_version": __version__,
                "contract_version": CONTRACT_VERSION,
                "scoring_version": SCORING_VERSION,
                "weights_source": "unknown",
                "host": platform.node(),
            },
            "timings": {},
            "created_at": _now(),
        }

    def _evaluate(self, cell: Cell, built: BuiltImage, prepared: PreparedDataset, record: dict[str, Any], workdir: Path) -> dict[str, Any]:
        protocol = cell.protocol
        if isinstance(protocol, EmbedProtocol):
            outcome_p, result, outcome = self._embed_cell(cell, built, prepared, record, workdir)
        elif isinstance(protocol, FinetuneProtocol):
            outcome_p, result, outcome = self._finetune_cell(cell, built, prepared, record, workdir)
        else:
            raise CellFailure("scoring_failed", "protocol", f"protocol {protocol.name} has no scoring path for its {protocol.kind!r} call")
        spec = prepared.spec
        t0 = time.perf_counter()
        try:
            metrics = metric_block(prepared, outcome_p.headline_members(), self.settings.bootstrap)
            settings = settings_block(prepared, outcome_p.settings) if outcome_p.settings else None
        except (Undefined, ValueError) as exc:
            raise CellFailure("scoring_failed", "score", f"{type(exc).__name__}: {exc}") from None
        record["timings"]["scoring_seconds"] = round(record["timings"].get("scoring_seconds", 0.0) + time.perf_counter() - t0, 3)
        record["timings"]["load_seconds"] = result["timings"]["load_seconds"]
        record["timings"]["compute_seconds"] = result["timings"]["compute_seconds"]
        device = result["device"]
        record["provenance"]["weights_source"] = result["model"]["weights"]["source"]
        record.update(
            status="ok",
            headline_metric=spec.official_metric,
            metrics=metrics,
            confidence=self.settings.bootstrap.describe(bootstrap_unit(prepared)),
            protocol_choices=outcome_p.choices,
            n_test=int(prepared.offsets["test"][1] - prepared.offsets["test"][0]),
            model=result["model"],
            compute={
                "device": device["type"] + (f" ({device['name']})" if device.get("name") else ""),
                "images_per_second": result["timings"]["images_per_second"],
                "gpu_seconds": round(outcome.wall_seconds, 3) if device["type"] == "cuda" else None,
                "peak_gpu_memory_mb": device.get("peak_gpu_memory_mb"),
            },
        )
        if settings is not None:
            record["settings"] = settings
        record["predictions"] = self.store.put_predictions(
            record["cache_key"], prepared.labels("test"), outcome_p.headline_members(), spec.task_type, groups=prepared.groups("test")
        )
        self.log(f"done {cell.label}: {spec.official_metric}={metrics[spec.official_metric]['value']}")
        return record

    def _call(self, cell: Cell, built: BuiltImage, kind: str, workdir: Path, mounts: dict[str, Path], record: dict[str, Any]) -> RunOutcome:
        outcome = run_contract_call(
            self.client,
            built.image_id,
            kind,
            workdir / "input",
            workdir / "output",
            file_mounts=mounts,
            limits=self.settings.limits,
            gpu=self.settings.gpu,
            labels={"org.medbench.cell": cell.label},
        )
        record["timings"]["container_wall_seconds"] = round(outcome.wall_seconds, 3)
        record["log_excerpt"] = outcome.logs[-4000:]
        record["isolation"] = outcome.isolation
        failure = classify_outcome(outcome)
        if failure:
            raise failure
        return outcome

    def _embed_cell(self, cell: Cell, built: BuiltImage, prepared: PreparedDataset, record: dict[str, Any], workdir: Path):
        spec, protocol = prepared.spec, cell.protocol
        images = prepared.images()
        task = task_document("embed", spec.task_block(), cell.variant, protocol.input_size, {"images.npy": list(images.shape)}, seed=protocol.seed)
        mounts = embed_input(workdir / "input", prepared.images_path, task)
        self.log(f"running {cell.label} ({len(images)} images)")
        outcome = self._call(cell, built, "embed", workdir, mounts, record)
        t0 = time.perf_counter()
        result = read_result_json(workdir / "output", "embed", cell.submission, cell.variant)
        try:
            emb = check_embeddings(workdir / "output" / "embeddings.npy", len(images), result["model"]["embedding_dim"])
        except ArrayProblem as exc:
            raise CellFailure("invalid_output", "validate", str(exc), outcome.exit_code, outcome.logs) from None
        record["timings"]["validate_seconds"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        splits = {s: emb[slice(*prepared.offsets[s])] for s in ("train", "val", "test")}
        labels = {"train": prepared.labels("train"), "val": prepared.labels("val"), "n_classes": spec.num_classes}
        try:
            outcome_p = protocol.score_embeddings(spec.task_type, splits, labels, spec.official_metric)
        except (Undefined, ValueError, np.linalg.LinAlgError) as exc:
            raise CellFailure("scoring_failed", "score", f"{type(exc).__name__}: {exc}") from None
        record["timings"]["scoring_seconds"] = round(time.perf_counter() - t0, 3)
        return outcome_p, result, outcome

    def _finetune_cell(self, cell: Cell, built: BuiltImage, prepared: PreparedDataset, record: dict[str, Any], workdir: Path):
        spec, protocol = prepared.spec, cell.protocol
        if "finetune" not in cell.submission.kinds:
            raise CellFailure(
                "refused", "policy", f"{cell.submission.name} does not implement finetune (its manifest declares kinds {list(cell.submission.kinds)})"
            )
        arrays = {
            "train_images": prepared.images("train"), "train_labels": prepared.labels("train"),
            "val_images": prepared.images("val"), "val_labels": prepared.labels("val"),
            "test_images": prepared.images("test"),
        }  # test labels never go in
        opts = protocol.options
        task = task_document(
            "finetune", spec.task_block(), cell.variant, protocol.input_size, {f"{k}.npy": list(v.shape) for k, v in arrays.items()},
            seed=protocol.seed, max_epochs=opts["max_epochs"], max_seconds=opts["max_seconds"], batch_size=opts["batch_size"],
        )
        mounts = finetune_input(workdir / "input", arrays, task)
        self.log(f"running {cell.label} (finetune: {len(arrays['train_images'])} train, {len(arrays['test_images'])} test images)")
        outcome = self._call(cell, built, "finetune", workdir, mounts, record)
        t0 = time.perf_counter()
        result = read_result_json(workdir / "output", "finetune", cell.submission, cell.variant)
        try:
            probs = check_probabilities(
                workdir / "output" / "test_probs.npy", len(arrays["test_images"]), spec.num_classes, multilabel=spec.task_type == "multilabel"
            )
        except ArrayProblem as exc:
            raise CellFailure("invalid_output", "validate", str(exc), outcome.exit_code, outcome.logs) from None
        record["timings"]["validate_seconds"] = round(time.perf_counter() - t0, 3)
        return protocol.accept_predictions(probs, result.get("finetune") or {}), result, outcome


def run_cells(runner: CellRunner, cells: list[Cell]) -> list[CellResult]:
    """Run every cell; a failing submission is recorded and the next cell still runs."""
    return [runner.run(cell) for cell in cells]
