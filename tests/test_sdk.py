"""The SDK reads /input, writes /output and maps faults to contract exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cells import classify_outcome
from harness.contract.validation import validate_file
from harness.runtime.container import RunOutcome
from harness.runtime.inputs import embed_input, task_document

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "submissions" / "baseline-histogram" / "main.py"
DATASET = {"name": "t", "task_type": "multiclass", "class_names": ["a", "b", "c"], "modality": "m", "original_channels": 3}


def _run(kind: str, input_dir: Path, output_dir: Path) -> subprocess.CompletedProcess:
    env = {"MEDBENCH_INPUT": str(input_dir), "MEDBENCH_OUTPUT": str(output_dir), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, str(BASELINE), kind], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def embed_dirs(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (7, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    task = task_document("embed", DATASET, "hist16-thumb8", None, {"images.npy": list(images.shape)})
    embed_input(tmp_path / "in", tmp_path / "images.npy", task)
    # outside a container there is no bind mount: put the array where the mount would be
    (tmp_path / "in" / "images.npy").write_bytes((tmp_path / "images.npy").read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    return tmp_path / "in", out


def test_serve_writes_valid_outputs(embed_dirs):
    inp, out = embed_dirs
    proc = _run("embed", inp, out)
    assert proc.returncode == 0, proc.stderr
    result = validate_file(out / "result.json", "result")
    emb = np.load(out / "embeddings.npy")
    assert emb.shape == (7, result["model"]["embedding_dim"]) and emb.dtype == np.float32
    assert result["timings"]["images_per_second"] > 0


def test_bad_task_json_is_exit_code_3_naming_the_field(embed_dirs):
    inp, out = embed_dirs
    task = json.loads((inp / "task.json").read_text())
    del task["seed"]
    (inp / "task.json").write_text(json.dumps(task))
    proc = _run("embed", inp, out)
    assert proc.returncode == 3
    assert "field 'seed' is missing" in proc.stderr and "task.json" in proc.stderr
    failure = classify_outcome(RunOutcome(exit_code=3, wall_seconds=1, logs=proc.stderr))
    assert failure.failure_class == "bad_input"


def test_unknown_kind_is_usage_error(embed_dirs):
    inp, out = embed_dirs
    assert _run("train", inp, out).returncode == 2


def test_kind_mismatch_between_argv_and_task(embed_dirs):
    inp, out = embed_dirs
    proc = _run("finetune", inp, out)
    assert proc.returncode == 3 and "called with 'finetune'" in proc.stderr
    assert not (out / "result.json").exists()
