"""Every protocol through the CLI on real RetinaMNIST with the baseline submission: fine-tune (the
container trains, the harness scores its test_probs), k-NN and few-shot on its embeddings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.store import ResultsStore

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def medbench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=1800, env=env, cwd=REPO)


def _record(protocol: str) -> dict:
    recs = [r for r in ResultsStore().latest_per_cell() if r["cell"]["protocol"] == protocol and r["cell"]["submission"] == "baseline-histogram"]
    assert len(recs) == 1
    return recs[0]


@pytest.fixture(scope="module")
def protocol_runs(base_image, retinamnist_npz):
    for protocol in ("finetune", "knn", "fewshot"):
        extra = ["--max-epochs", "5"] if protocol == "finetune" else []
        proc = medbench("run", "-s", "baseline-histogram", "-d", "retinamnist", "--protocol", protocol, "--weights", "random", "--resamples", "200", *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return ResultsStore()


def test_finetune_scores_the_containers_test_probs(protocol_runs):
    rec = _record("finetune")
    assert rec["status"] == "ok", rec.get("failure")
    assert rec["n_test"] == 400 and rec["protocol_config"]["kind"] == "finetune"
    choices = rec["protocol_choices"]
    assert choices["budget"]["max_epochs"] == 5 and choices["container"]["epochs_run"] == 5
    assert choices["trained_by"] == "container" and 1 <= choices["container"]["best_epoch"] <= 5
    assert 0.5 < rec["metrics"]["auroc"]["value"] < 1 and rec["metrics"]["ece"]["value"] is not None
    y, probs = protocol_runs.get_predictions(rec)
    assert probs.shape == (1, 400, 5) and len(y) == 400
    np.testing.assert_allclose(probs[0].sum(axis=1), 1, atol=1e-3)


def test_knn_records_its_k(protocol_runs):
    rec = _record("knn")
    assert rec["status"] == "ok", rec.get("failure")
    assert rec["protocol_choices"]["k"] in (10, 20, 50) and set(rec["protocol_choices"]["val_scores"]) == {"10", "20", "50"}
    assert rec["metrics"]["auroc"]["ci_low"] < rec["metrics"]["auroc"]["value"] < rec["metrics"]["auroc"]["ci_high"]


def test_fewshot_reports_mean_and_spread_per_fraction(protocol_runs):
    rec = _record("fewshot")
    assert rec["status"] == "ok", rec.get("failure")
    assert set(rec["settings"]) == {"0.01", "0.1", "1"}
    one = rec["settings"]["0.01"]
    assert one["members"] == 5 and len(one["per_member"]) == 5 and one["sd"]["auroc"] > 0
    assert rec["metrics"]["auroc"]["value"] == pytest.approx(one["mean"]["auroc"])
    assert rec["settings"]["1"]["members"] == 1 and rec["predictions"]["members"] == 5
    assert [d["seed"] for d in rec["protocol_choices"]["draws"]["0.01"]] == [0, 1, 2, 3, 4]


def test_leaderboard_lists_every_protocol_with_secondary_metrics(protocol_runs, tmp_path):
    proc = medbench("leaderboard", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = (tmp_path / "leaderboard.md").read_text()
    for protocol in ("finetune", "knn", "fewshot"):
        assert f"## retinamnist - {protocol} - auroc (95% bootstrap CI)" in md
    assert "seed SD" in md and "ece " in md and "qwk " in md


def test_options_of_one_protocol_are_refused_for_another():
    proc = medbench("run", "-s", "baseline-histogram", "--protocol", "knn", "--max-epochs", "3")
    assert proc.returncode == 1 and "--max-epochs applies to the finetune protocol only, not 'knn'" in proc.stderr
    proc = medbench("run", "-s", "baseline-histogram", "--protocol", "fewshot", "--solver", "torch")
    assert proc.returncode == 1 and "--solver applies to the linear protocol only" in proc.stderr
