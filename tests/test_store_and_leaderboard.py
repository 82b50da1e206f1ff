"""Cache keys, the record store and the published leaderboard."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.errors import SchemaError
from harness.publish.table import overall, rank_cells, records_frame
from harness.publish.writers import publish
from harness.store import ResultsStore, cache_key


def record(sub, value=None, dataset="retinamnist", failure=None, created="2026-01-01T00:00:00+00:00", key=None):
    rec = {
        "record_version": 1,
        "cell": {"submission": sub, "variant": "v", "dataset": dataset, "protocol": "linear"},
        "cache_key": key or cache_key({"s": sub, "d": dataset, "c": created}),
        "provenance": {"image_id": "sha256:" + "ab" * 32, "split_lock_hash": "cd" * 32, "harness_version": "0.1.0", "contract_version": 1,
                       "scoring_version": 1, "weights_source": "random-init", "dataset_synthetic": False},
        "timings": {"container_wall_seconds": 1.0},
        "created_at": created,
    }
    if failure:
        rec.update(status="failed", failure={"failure_class": failure, "message": "it broke", "exit_code": 1})
    else:
        rec.update(status="ok", headline_metric="auroc", metrics={"auroc": {"value": value, "ci_low": value - 0.05, "ci_high": value + 0.05}},
                   confidence={"method": "percentile-bootstrap", "level": 0.95, "resamples": 10, "seed": 0, "unit": "case"})
    return rec


def test_cache_key_changes_with_every_input():
    base = {"image_id": "sha256:1", "split_lock_hash": "a", "protocol": {"name": "linear"}, "contract_version": 1, "scoring_version": 1}
    key = cache_key(base)
    assert key == cache_key(dict(reversed(list(base.items()))))
    for field, other in [("image_id", "sha256:2"), ("split_lock_hash", "b"), ("protocol", {"name": "knn"}), ("scoring_version", 2)]:
        assert cache_key({**base, field: other}) != key


def test_store_validates_and_round_trips(tmp_path):
    store = ResultsStore(tmp_path)
    rec = record("a", 0.8)
    store.put(rec)
    assert store.get(rec["cache_key"]) == rec
    bad = dict(rec)
    bad.pop("metrics")
    with pytest.raises(SchemaError, match="'metrics' is a required property"):
        store.put(bad)


def test_latest_per_cell_keeps_newest(tmp_path):
    store = ResultsStore(tmp_path)
    store.put(record("a", 0.7, created="2026-01-01T00:00:00+00:00"))
    store.put(record("a", 0.9, created="2026-02-01T00:00:00+00:00"))
    latest = store.latest_per_cell()
    assert len(latest) == 1 and latest[0]["metrics"]["auroc"]["value"] == 0.9


def test_ranking_puts_failures_last_and_averages_ranks():
    recs = [record("a", 0.9), record("b", 0.7), record("c", failure="crashed"),
            record("a", 0.6, dataset="other"), record("b", 0.8, dataset="other"), record("c", 0.5, dataset="other")]
    ranked = rank_cells(records_frame(recs))
    first = ranked[ranked.dataset == "retinamnist"]
    assert list(first.submission) == ["a", "b", "c"] and list(first["rank"]) == [1, 2, 3]
    summary = overall(ranked).set_index("submission")
    assert summary.loc["a", "mean_rank"] == pytest.approx(1.5)
    assert summary.loc["c", "mean_rank"] == pytest.approx(3.0) and summary.loc["c", "failed_or_missing"] == 1


def test_publish_writes_markdown_json_csv(tmp_path):
    paths = publish([record("a", 0.9), record("b", failure="invalid_output")], tmp_path)
    md = paths["markdown"].read_text()
    assert "| 1 | a | v | 0.9000 | [0.8500, 0.9500]" in md
    assert "FAILED: invalid_output" in md and "RANDOM-INIT" in md
    doc = json.loads(paths["json"].read_text())
    assert [c["submission"] for c in doc["cells"]] == ["a", "b"] and len(doc["records"]) == 2
    csv = pd.read_csv(paths["csv"])
    assert list(csv.submission) == ["a", "b"] and csv.loc[1, "failure_class"] == "invalid_output"
    assert csv.loc[0, "image_id"].startswith("sha256:")


def test_predictions_are_stored_beside_the_record_and_checked(tmp_path):
    import numpy as np

    store = ResultsStore(tmp_path)
    rec = record("a", 0.8)
    probs = [np.full((5, 2), 0.5, np.float32), np.eye(2, dtype=np.float32)[[0, 1, 1, 0, 1]]]
    rec["predictions"] = store.put_predictions(rec["cache_key"], np.array([0, 1, 1, 0, 0]), probs, "binary")
    store.put(rec)
    y, stacked = store.get_predictions(store.get(rec["cache_key"]))
    assert stacked.shape == (2, 5, 2) and list(y) == [0, 1, 1, 0, 0]
    assert store.predictions_path(rec["cache_key"]).name == rec["predictions"]["file"]
    store.predictions_path(rec["cache_key"]).write_bytes(b"tampered")
    assert store.get_predictions(rec) is None  # a changed file is not used for statistics
