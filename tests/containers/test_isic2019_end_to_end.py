"""The real ISIC 2019 sample end to end through the CLI: freeze, verify, prepare, and the linear
protocol with the baseline-histogram submission in its container (random weights, no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.store import ResultsStore

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def isic_env(tmp_path_factory, isic_sample):
    datasets = tmp_path_factory.mktemp("isic-datasets")
    shutil.copytree(REPO / "datasets" / "isic2019", datasets / "isic2019")
    return {**os.environ, "COLUMNS": "200", "MEDBENCH_DATASETS": str(datasets)}


def medbench(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=1800, env=env, cwd=REPO)


def test_real_sample_freezes_prepares_and_runs_the_linear_protocol(base_image, isic_env, isic_sample):
    data = ["--data", str(isic_sample)]
    proc = medbench(isic_env, "datasets", "freeze", "isic2019", *data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "'train': 189, 'val': 22, 'test': 53" in proc.stdout
    proc = medbench(isic_env, "datasets", "verify", "isic2019", *data)
    assert proc.returncode == 0 and "matches its lock" in proc.stdout and "265 files" in proc.stdout, proc.stdout + proc.stderr
    proc = medbench(isic_env, "datasets", "info", "isic2019")
    assert proc.returncode == 0 and "groups: none (split not grouped)" in proc.stdout, proc.stdout + proc.stderr
    proc = medbench(isic_env, "datasets", "prepare", "isic2019", *data)
    assert proc.returncode == 0 and "264 cases at 224px" in proc.stdout, proc.stdout + proc.stderr

    proc = medbench(isic_env, "run", "-s", "baseline-histogram", "--smoke", "--weights", "random", "-d", "isic2019", *data, "--resamples", "200")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [r for r in ResultsStore().latest_per_cell() if r["cell"]["dataset"] == "isic2019"]
    assert len(records) == 1
    rec = records[0]
    assert rec["status"] == "ok", rec.get("failure")
    assert rec["n_test"] == 53 and rec["headline_metric"] == "balanced_accuracy"
    assert rec["confidence"]["unit"] == "case"  # no lesion ids in the sample: resampled by image
    metrics = rec["metrics"]
    # defined: accuracy and balanced accuracy over the two classes the sample holds (NV, MEL)
    for name in ("accuracy", "balanced_accuracy"):
        m = metrics[name]
        assert 0 <= m["value"] <= 1 and m["ci_low"] <= m["value"] <= m["ci_high"], (name, m)
    # undefined, honestly: one-vs-rest AUROC of the six classes absent from the sample
    assert metrics["auroc"]["value"] is None and "no positive" in metrics["auroc"]["undefined_reason"]
    assert np.isfinite(metrics["accuracy"]["value"])
