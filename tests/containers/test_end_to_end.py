"""The real thing through the CLI: both reference submissions built, run in containers on real
RetinaMNIST, scored, stored, cached, published; pre-flight on every shipped submission."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import ResultsStore
from harness.submission import available_submissions

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def medbench(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


RUN = ["run", "-s", "baseline-histogram", "-s", "dinov2", "--smoke", "--input-size", "56", "--weights", "random", "-d", "retinamnist", "--resamples", "200"]


@pytest.fixture(scope="module")
def first_run(base_image, retinamnist_npz):
    proc = medbench(*RUN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_run_scores_both_submissions_on_real_data(first_run):
    records = {r["cell"]["submission"]: r for r in ResultsStore().latest_per_cell() if r["cell"]["dataset"] == "retinamnist"}
    assert set(records) == {"baseline-histogram", "dinov2"}
    for rec in records.values():
        assert rec["status"] == "ok", rec.get("failure")
        auroc = rec["metrics"]["auroc"]
        assert 0.5 < auroc["value"] < 1 and auroc["ci_low"] < auroc["value"] < auroc["ci_high"]
        assert rec["n_test"] == 400 and rec["provenance"]["image_id"].startswith("sha256:")
        assert rec["protocol_choices"]["selected_on"] == "val"
    dino = records["dinov2"]
    assert dino["model"]["embedding_dim"] == 384 and dino["model"]["input_size"] == 56
    assert dino["provenance"]["weights_source"] == "random-init"
    assert records["baseline-histogram"]["provenance"]["image_id"] != dino["provenance"]["image_id"]


def test_second_run_is_a_cache_hit_and_starts_no_container(first_run, docker_client):
    before = {c.id for c in docker_client.containers.list(all=True)}
    events_since = docker_client.api.version()  # engine reachable
    proc = medbench(*RUN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("cache hit") == 2 and "running " not in proc.stderr
    assert {c.id for c in docker_client.containers.list(all=True)} == before and events_since


def test_leaderboard_ranks_both_with_provenance(first_run, tmp_path):
    proc = medbench("leaderboard", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "leaderboard.md").read_text()
    assert "baseline-histogram" in md and "dinov2" in md and "RANDOM-INIT" in md
    assert "## Significance: retinamnist - linear - auroc" in md and "paired-bootstrap" in md  # from the stored test predictions
    assert "## Rank stability - linear" in md
    doc = json.loads((tmp_path / "leaderboard.json").read_text())
    ranks = sorted(c["rank"] for c in doc["cells"] if c["dataset"] == "retinamnist")
    assert ranks == [1, 2]
    assert all(c["split_lock_hash"] and c["image_id"] for c in doc["cells"])


@pytest.mark.parametrize("name", available_submissions())
def test_validate_passes_on_every_shipped_submission(base_image, name):
    # smoke at 64 px: native resolutions (SAM2.1 at 896 px) fine-tune for minutes on a CPU runner; native
    # builds are covered by tests/test_model_families.py and the CLI's default
    proc = medbench("validate", f"submissions/{name}", "--input-size", "64")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready to submit" in proc.stdout
    assert proc.stderr.count("PASS") >= 4 and "FAIL" not in proc.stderr


def test_validate_fails_clearly_on_a_broken_submission(base_image, tmp_path):
    import shutil

    folder = tmp_path / "baseline-histogram"
    shutil.copytree(REPO / "submissions" / "baseline-histogram", folder)
    (folder / "features.py").write_text("DIM = 240\ndef embed(images):\n    raise RuntimeError('boom')\n")
    proc = medbench("validate", str(folder))
    assert proc.returncode == 1
    assert "FAIL smoke embed" in proc.stderr and "crashed" in proc.stderr and "boom" in proc.stderr
    assert "Traceback" not in proc.stdout


def test_demo_falls_back_to_labelled_synthetic_data(base_image, tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    proc = medbench("demo", "--data", str(empty), "--input-size", "28", "--weights", "random", "--out", str(tmp_path / "lb"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SYNTHETIC" in proc.stderr
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "SYNTHETIC DATA" in md and "synthetic-fundus (SYNTHETIC)" in md
