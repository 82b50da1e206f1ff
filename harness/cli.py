"""The ``medbench`` command line (typer + rich)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from harness import __version__
from harness.errors import DatasetError, MedbenchError

app = typer.Typer(
    help="medbench: containerized, reproducible leaderboards for medical-imaging foundation models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
datasets_app = typer.Typer(help="Frozen dataset splits: list, info, freeze, verify, prepare, duplicates.", no_args_is_help=True)
engine_app = typer.Typer(help="The Docker engine and the medbench/base image.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(engine_app, name="engine")
# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)

WEIGHTS_HELP = "auto: model hub, else a labelled random init; pretrained: hub or fail; random: never touch the network."


def fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _client():
    from harness.runtime.engine import connect

    return connect()


def _results_table(results) -> Table:
    table = Table(title="cells")
    for col in ("cell", "status", "metric", "value", "95% CI", "weights", "cached"):
        table.add_column(col)
    for res in results:
        rec = res.record
        cell = rec["cell"]
        label = f"{cell['submission']}/{cell['variant']} x {cell['dataset']} x {cell['protocol']}"
        if rec["status"] == "ok":
            m = rec["metrics"][rec["headline_metric"]]
            value = "-" if m["value"] is None else f"{m['value']:.4f}"
            ci = "-" if m["ci_low"] is None else f"[{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
            table.add_row(label, "[green]ok[/]", rec["headline_metric"], value, ci, rec["provenance"]["weights_source"], "yes" if res.from_cache else "no")
        else:
            table.add_row(label, f"[red]failed: {rec['failure']['failure_class']}[/]", "-", "-", "-", rec["provenance"]["weights_source"], "yes" if res.from_cache else "no")
    return table


@app.command()
def version() -> None:
    """Print the harness version."""
    out.print(f"medbench {__version__}")


@app.command()
def validate(
    folder: Path = typer.Argument(..., help="Submission folder (holds submission.yaml and Dockerfile)."),
    base_image: Optional[str] = typer.Option(None, help="Base image (default medbench/base:latest)."),
    weights: str = typer.Option("random", help=WEIGHTS_HELP),
    input_size: Optional[int] = typer.Option(None, "--input-size", min=8, help="Smoke calls at this resolution (default: the smoke variant's native one)."),
) -> None:
    """Pre-flight a submission: manifest schema, Dockerfile, image build, smoke run on a tiny built-in split, outputs valid."""
    from harness.preflight import Step, preflight
    from harness.runtime.images import DEFAULT_BASE_IMAGE

    try:
        client = _client()
    except MedbenchError as exc:
        console.print(f"[yellow]{exc}[/]")
        client = None

    def show(step: Step) -> None:
        mark = "[green]PASS[/]" if step.ok else "[red]FAIL[/]"
        console.print(f"{mark} {step.name}: {step.detail}", highlight=False)

    report = preflight(folder, client, base_image=base_image or DEFAULT_BASE_IMAGE, weights=weights, input_size=input_size, progress=show)
    if not report.ok:
        fail(f"{folder} does not pass pre-flight")
    out.print(f"[green]{folder}: ready to submit[/]")


def _run(
    submissions: list[str],
    datasets: list[str],
    protocol: str,
    variant: Optional[str],
    smoke: bool,
    input_size: Optional[int],
    weights: str,
    data: Optional[Path],
    gpu: Optional[str],
    retry_failed: bool,
    timeout: float,
    memory_gb: float,
    resamples: int,
    solver: str = "sklearn",
    max_epochs: Optional[int] = None,
):
    from harness.cells import Cell, CellRunner, RunSettings, run_cells
    from harness.protocols import get_protocol
    from harness.runtime.container import ContainerLimits
    from harness.runtime.images import DEFAULT_BASE_IMAGE
    from harness.scoring.bootstrap import BootstrapConfig
    from harness.store import ResultsStore
    from harness.submission import available_submissions, load_submission

    specs = [load_submission(s) for s in (submissions or available_submissions())]
    if solver != "sklearn" and protocol != "linear":
        fail(f"--solver applies to the linear protocol only, not {protocol!r}")
    if max_epochs is not None and protocol != "finetune":
        fail(f"--max-epochs applies to the finetune protocol only, not {protocol!r}")
    options = {"solver": solver} if solver != "sklearn" else {}
    if max_epochs is not None:
        options["max_epochs"] = max_epochs
    proto = get_protocol(protocol, input_size=input_size, **options)
    cells = []
    for spec in specs:
        chosen = variant if variant else (spec.smoke_variant if smoke else spec.default_variant)
        spec.variant(chosen)  # clear error for an unknown variant
        cells += [Cell(spec, chosen, ds, proto) for ds in datasets]
    settings = RunSettings(
        base_image=DEFAULT_BASE_IMAGE,
        weights=weights,
        limits=ContainerLimits(timeout_s=timeout, memory_gb=memory_gb),
        gpu=gpu,
        data=data,
        bootstrap=BootstrapConfig(resamples=resamples),
        retry_failed=retry_failed,
    )
    runner = CellRunner(_client(), ResultsStore(), settings, log=lambda m: console.print(f"[dim]{m}[/]", highlight=False))
    return run_cells(runner, cells)


SUBMISSION_OPT = typer.Option([], "--submission", "-s", help="Submission name or folder (repeat; default: all).")
DATASET_OPT = typer.Option(["retinamnist"], "--dataset", "-d", help="Dataset name (repeat).")


@app.command()
def run(
    submission: list[str] = SUBMISSION_OPT,
    dataset: list[str] = DATASET_OPT,
    protocol: str = typer.Option("linear", help="Protocol: linear (logistic regression, C on val), knn (cosine k-NN, k on val), fewshot (1%/10%/100% of train labels, 5 seeds), finetune (the container trains; its test_probs are scored)."),
    variant: Optional[str] = typer.Option(None, help="Variant (default: the manifest's default_variant)."),
    smoke: bool = typer.Option(False, help="Use each manifest's small smoke_variant."),
    input_size: Optional[int] = typer.Option(None, help="Fix the input resolution (default: each variant's native one)."),
    weights: str = typer.Option("auto", help=WEIGHTS_HELP),
    data: Optional[Path] = typer.Option(None, help="Raw data file or folder (default: $MEDBENCH_DATA_DIR, ../shared/data, ~/.medmnist)."),
    gpu: Optional[str] = typer.Option(None, help="GPU index assigned to the containers (default: none, CPU)."),
    retry_failed: bool = typer.Option(False, help="Re-run cells whose stored record is a failure."),
    timeout: float = typer.Option(3600, help="Wall-clock limit per container, seconds."),
    memory_gb: float = typer.Option(8, help="Memory limit per container, GiB."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples for the 95% CIs."),
    solver: str = typer.Option("sklearn", help="Linear-probe solver: sklearn (the reference) or torch (full-batch L-BFGS, on the GPU when present)."),
    max_epochs: Optional[int] = typer.Option(None, help="Training budget in epochs for the finetune protocol (default 10)."),
) -> None:
    """Evaluate cells (submission x dataset x protocol) in isolated containers and store one record each."""
    results = _run(submission, dataset, protocol, variant, smoke, input_size, weights, data, gpu, retry_failed, timeout, memory_gb, resamples, solver, max_epochs)
    out.print(_results_table(results))


@app.command()
def leaderboard(
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: leaderboard/)."),
) -> None:
    """Aggregate the stored records into leaderboard.md / .json / .csv: ranks with 95% CIs, pairwise one-sided
    tests (Holm-corrected) and bootstrap rank distributions with Kendall's tau."""
    from harness.paths import leaderboard_dir
    from harness.publish.writers import publish
    from harness.store import ResultsStore

    store = ResultsStore()
    paths = publish(store.latest_per_cell(), out_dir or leaderboard_dir(), store=store)
    for kind, path in paths.items():
        out.print(f"{kind}: {path}")


@app.command()
def demo(
    data: Optional[Path] = typer.Option(None, help="RetinaMNIST retinamnist.npz, or a folder holding it."),
    weights: str = typer.Option("auto", help=WEIGHTS_HELP),
    input_size: Optional[int] = typer.Option(None, help="Fix the input resolution (default: native, 224 for DINOv2)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Leaderboard folder (default: leaderboard/)."),
) -> None:
    """The main job: build both reference submissions, evaluate them on RetinaMNIST (linear protocol), publish."""
    from harness.datasets.prepared import prepare_by_name
    from harness.paths import leaderboard_dir
    from harness.publish.writers import publish
    from harness.store import ResultsStore

    dataset = "retinamnist"
    try:
        prepare_by_name(dataset, data=data)
    except DatasetError as exc:
        if "refusing to score" in str(exc):
            fail(str(exc))
        console.print(f"[bold yellow]No real data reachable ({exc}).[/]")
        console.print("[bold yellow]Falling back to the SYNTHETIC dataset 'synthetic-fundus'; its numbers say nothing medical.[/]")
        dataset = "synthetic-fundus"
    results = _run(["baseline-histogram", "dinov2"], [dataset], "linear", None, True, input_size, weights, data, None, False, 3600, 8, 1000)
    out.print(_results_table(results))
    store = ResultsStore()
    ours = {r.record["cache_key"] for r in results}
    paths = publish([r for r in store.latest_per_cell() if r["cache_key"] in ours], out_dir or leaderboard_dir(), store=store)
    out.print(f"[bold]leaderboard written:[/] {paths['markdown']} (+ .json, .csv)")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the datasets under datasets/ and whether their raw files are found."""
    from harness.datasets.lock import load_lock
    from harness.datasets.source import locate_source
    from harness.datasets.spec import available_datasets, load_spec

    table = Table()
    for col in ("dataset", "task", "classes", "metric", "lock", "raw file"):
        table.add_column(col)
    for name in available_datasets():
        spec = load_spec(name)
        try:
            lock = load_lock(spec).lock_hash[:12]
        except DatasetError:
            lock = "not frozen"
        try:
            src = str(locate_source(spec))
        except DatasetError:
            src = "not found"
        table.add_row(name, spec.task_type, str(spec.num_classes), spec.official_metric, lock, src)
    out.print(table)


@datasets_app.command("freeze")
def datasets_freeze(
    name: str,
    data: Optional[Path] = typer.Option(None, help="Raw data file or folder."),
    overwrite: bool = typer.Option(False, help="Replace an existing lock (changes every cache key)."),
) -> None:
    """Freeze a dataset's split: case ids per split, sha256 per source file, label hash."""
    from harness.datasets.lock import freeze
    from harness.datasets.source import locate_source, read_source
    from harness.datasets.spec import load_spec

    spec = load_spec(name)
    raw = read_source(spec, locate_source(spec, data))
    lock = freeze(spec, raw, overwrite=overwrite)
    out.print(f"froze {name}: {lock.split_sizes()} lock {lock.lock_hash[:16]} -> {spec.lock_path}")


@datasets_app.command("verify")
def datasets_verify(name: str, data: Optional[Path] = typer.Option(None, help="Raw data file or folder.")) -> None:
    """Check the raw files against the frozen lock; names every changed, missing or extra file."""
    from harness.datasets.lock import load_lock
    from harness.datasets.source import locate_source, verify_source
    from harness.datasets.spec import load_spec

    spec = load_spec(name)
    lock = load_lock(spec)
    source = locate_source(spec, data)
    verify_source(spec, source, lock)
    out.print(f"[green]{name} matches its lock {lock.lock_hash[:16]}[/] ({len(lock.source_files)} files, {source})")


@datasets_app.command("info")
def datasets_info(name: str) -> None:
    """Show a dataset's card: task, classes, metric, split policy, grouping, and its frozen split."""
    from harness.datasets.info import describe

    out.print(describe(name), highlight=False)


@datasets_app.command("duplicates")
def datasets_duplicates(
    name: str,
    data: Optional[Path] = typer.Option(None, help="Raw data file or folder."),
    max_distance: int = typer.Option(4, help="Largest pHash Hamming distance (of 64 bits) counted as a near-duplicate."),
) -> None:
    """Report images that occur (near-identically, by perceptual hash) in more than one split."""
    from harness.datasets.duplicates import cross_split_duplicates
    from harness.datasets.prepared import prepare_by_name

    prepared = prepare_by_name(name, data=data)
    pairs = cross_split_duplicates(prepared.images(), prepared.offsets, prepared.lock.splits, max_distance)
    for p in pairs:
        out.print(f"{p.split_a}/{p.id_a} ~ {p.split_b}/{p.id_b} (distance {p.distance})", highlight=False)
    out.print(f"{name}: {len(pairs)} near-duplicate pair(s) across splits (pHash distance <= {max_distance})")


@datasets_app.command("prepare")
def datasets_prepare(
    name: str,
    data: Optional[Path] = typer.Option(None, help="Raw data file or folder."),
    resolution: Optional[int] = typer.Option(None, help="Resolution (default: the dataset's canonical one)."),
) -> None:
    """Decode the frozen split once into the memory-mappable uint8 cache."""
    from harness.datasets.prepared import prepare_by_name

    prepared = prepare_by_name(name, data=data, resolution=resolution)
    out.print(f"{name}: {prepared.n_cases} cases at {prepared.resolution}px -> {prepared.images_path}")


@engine_app.command("status")
def engine_status() -> None:
    """Is the engine up, and is medbench/base built?"""
    from harness.runtime.images import DEFAULT_BASE_IMAGE

    client = _client()
    info = client.version()
    out.print(f"engine: Docker {info.get('Version')} (API {info.get('ApiVersion')})")
    try:
        image = client.images.get(DEFAULT_BASE_IMAGE)
        out.print(f"base: {DEFAULT_BASE_IMAGE} = {image.id} ({image.attrs.get('Size', 0) / 2**30:.1f} GiB)")
    except Exception:  # noqa: BLE001
        fail(f"base image {DEFAULT_BASE_IMAGE} missing: run bash docker/engine.sh")


def main() -> None:
    try:
        app()
    except MedbenchError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
