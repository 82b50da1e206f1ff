"""DeLong, Holm, paired tests, rank distributions and Kendall's tau; the leaderboard's statistics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau, norm
from sklearn.metrics import roc_auc_score

from harness.publish.statistics import compute_statistics
from harness.publish.writers import publish
from harness.scoring.bootstrap import BootstrapConfig
from harness.scoring.compare import bootstrap_p_greater, holm, pairwise_tests
from harness.scoring.delong import delong_test, structural_components
from harness.scoring.ranks import kendall_tau_b, rank_models, rank_stability
from harness.store import ResultsStore, cache_key


def test_delong_on_a_hand_computed_case():
    # positives score 0.8, 0.4; negatives 0.6, 0.2 -> psi pairs 1, 1, 0, 1: AUC 0.75
    # V10 = [1, 0.5], V01 = [0.5, 1]: S10 = S01 = 0.125; Var = 0.125 / 2 + 0.125 / 2 = 0.125
    # model b: positives 0.9, 0.7; negatives 0.3, 0.8 -> V10 = [1, 0.5], V01 = [1, 0.5]
    # Cov = cov(V10a, V10b) / 2 + cov(V01a, V01b) / 2 = 0.0625 - 0.0625 = 0
    y = np.array([1, 1, 0, 0])
    r = delong_test(y, np.array([0.8, 0.4, 0.6, 0.2]), np.array([0.9, 0.7, 0.3, 0.8]))
    assert (r.auc_a, r.auc_b) == (0.75, 0.75)
    assert r.variance_a == pytest.approx(0.125) and r.variance_b == pytest.approx(0.125) and r.covariance == pytest.approx(0.0)
    assert r.z == 0.0 and r.p_two_sided == pytest.approx(1.0) and r.p_a_greater == pytest.approx(0.5)


def test_delong_auc_on_hanley_and_mcneils_published_rating_data():
    # Hanley & McNeil, Radiology 1982, table 1: 109 CT images rated 1-5; published AUC 0.893
    normal = np.repeat(np.arange(1, 6), [33, 6, 6, 11, 2])
    abnormal = np.repeat(np.arange(1, 6), [3, 2, 2, 11, 33])
    y = np.r_[np.zeros(58), np.ones(51)]
    aucs, _, _ = structural_components(y, np.r_[normal, abnormal].astype(float)[None])
    assert aucs[0] == pytest.approx(0.893, abs=5e-4)


def _asah() -> dict[str, np.ndarray]:
    with open(Path(__file__).parent / "fixtures" / "asah.csv", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    columns = {k: np.array([float(r[k]) for r in rows]) for k in ("wfns", "s100b", "ndka")}
    return {"poor": np.array([r["outcome"] == "Poor" for r in rows]), **columns}


def test_delong_reproduces_procs_published_asah_example():
    """pROC's worked example: 113 aSAH patients (41 Poor outcome), data in tests/fixtures/asah.csv.

    ``roc.test(aSAH$outcome, aSAH$s100b, aSAH$wfns)`` (DeLong, paired, two-sided) prints AUCs 0.7314 and
    0.8237, Z = -2.209, p-value = 0.02718. At full precision, pROC's own test suite (pROC on CRAN,
    tests/testthat/test-roc.test.R, https://rdrr.io/cran/pROC/src/tests/testthat/test-roc.test.R) has
    roc.test(wfns, s100b): Z = 2.20898359144091, p = 0.0271757822291882, 95% CI of the difference
    0.0104061769564846 to 0.174214419249478; roc.test(wfns, ndka): Z = 2.79777591868904,
    p = 0.00514557970691098; roc.test(ndka, s100b): Z = -1.39077002573558. test-var.R: DeLong variances
    0.00146991470882363 (wfns), 0.0031908105493913 (ndka), 0.00266868245717244 (s100b); test-Ops.R: the ndka
    AUC 0.611957994579946.
    """
    d = _asah()
    assert (len(d["poor"]), int(d["poor"].sum())) == (113, 41)
    r = delong_test(d["poor"], d["s100b"], d["wfns"])
    # the printed example, to its printed precision
    assert (round(r.auc_a, 4), round(r.auc_b, 4)) == (0.7314, 0.8237)
    assert round(r.z, 3) == -2.209 and float(f"{r.p_two_sided:.4g}") == 0.02718
    # the test suite, to its 15 significant digits
    assert r.variance_a == pytest.approx(0.00266868245717244, rel=1e-12)
    assert r.variance_b == pytest.approx(0.00146991470882363, rel=1e-12)
    t1 = delong_test(d["poor"], d["wfns"], d["s100b"])
    assert t1.z == pytest.approx(2.20898359144091, rel=1e-12) and t1.p_two_sided == pytest.approx(0.0271757822291882, rel=1e-12)
    assert t1.p_a_greater == pytest.approx(0.0271757822291882 / 2, rel=1e-12)
    half_width = norm.ppf(0.975) * np.sqrt(t1.variance_a + t1.variance_b - 2 * t1.covariance)
    assert t1.difference - half_width == pytest.approx(0.0104061769564846, rel=1e-12)
    assert t1.difference + half_width == pytest.approx(0.174214419249478, rel=1e-12)
    t2 = delong_test(d["poor"], d["wfns"], d["ndka"])
    assert t2.z == pytest.approx(2.79777591868904, rel=1e-12) and t2.p_two_sided == pytest.approx(0.00514557970691098, rel=1e-12)
    assert t2.auc_b == pytest.approx(0.611957994579946, rel=1e-12) and t2.variance_b == pytest.approx(0.0031908105493913, rel=1e-12)
    t3 = delong_test(d["poor"], d["ndka"], d["s100b"])
    assert t3.z == pytest.approx(-1.39077002573558, rel=1e-12)


def test_delong_components_equal_their_definition_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    scores = np.round(rng.random((2, 60)), 1)  # many ties
    aucs, v10, v01 = structural_components(y, scores)
    for k in range(2):
        pos, neg = scores[k, y == 1], scores[k, y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        np.testing.assert_allclose(v10[k], psi.mean(axis=1))
        np.testing.assert_allclose(v01[k], psi.mean(axis=0))
        assert aucs[k] == pytest.approx(roc_auc_score(y, scores[k]))


def test_delong_finds_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 800)
    good, weak = y + rng.normal(0, 0.7, 800), y + rng.normal(0, 2.0, 800)
    assert delong_test(y, good, weak).p_a_greater < 1e-6
    assert delong_test(y, weak, good).p_a_greater > 0.99


def test_holm_on_a_hand_computed_case():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # 0.5 x 2 = 1.0; 0.9 x 1 = 0.9, but never below the previous step


def test_paired_bootstrap_p_value():
    assert bootstrap_p_greater(np.array([0.8, 0.7, 0.9]), np.array([0.7, 0.75, 0.6])) == pytest.approx(2 / 4)
    assert bootstrap_p_greater(np.full(99, 1.0), np.zeros(99)) == pytest.approx(1 / 100)


def test_pairwise_tests_orient_each_pair_and_correct_for_multiplicity():
    rng = np.random.default_rng(2)
    base = rng.normal(0.7, 0.01, 500)
    resampled = [base + 0.05, base + 0.0001 * rng.normal(size=500), base]
    tests = pairwise_tests(["a", "b", "c"], [0.75, 0.7001, 0.70], resampled)
    by_pair = {(t.better, t.worse): t for t in tests}
    assert set(by_pair) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert by_pair[("a", "c")].significant and not by_pair[("b", "c")].significant
    assert all(t.p_holm >= t.p_value for t in tests)
    lower = pairwise_tests(["x", "y"], [0.1, 0.2], [base, base + 0.05], higher_is_better=False)[0]
    assert (lower.better, lower.worse) == ("x", "y") and lower.significant  # ECE: lower is better


def test_rank_models_ties_and_missing_cells():
    np.testing.assert_array_equal(rank_models(np.array([0.9, np.nan, 0.7, 0.9])), [1.5, 4.0, 3.0, 1.5])
    np.testing.assert_array_equal(rank_models(np.array([0.1, 0.3]), higher_is_better=False), [1.0, 2.0])


def test_kendall_tau_b_equals_scipy_with_ties():
    rng = np.random.default_rng(3)
    rankings = rng.integers(0, 4, (20, 7)).astype(float)
    reference = rng.integers(0, 4, 7).astype(float)
    np.testing.assert_allclose(kendall_tau_b(rankings, reference), [kendalltau(r, reference).statistic for r in rankings])


def test_rank_stability_is_deterministic_and_sensible():
    rng = np.random.default_rng(4)
    points = [np.array([0.9, 0.8, 0.7]), np.array([0.85, 0.86, 0.6])]
    resampled = [p + rng.normal(0, 0.02, (500, 3)) for p in points]
    a, b = rank_stability(points, resampled), rank_stability(points, resampled)
    np.testing.assert_array_equal(a.rank_distribution, b.rank_distribution)
    np.testing.assert_allclose(a.mean_rank, [1.5, 1.5, 3.0])
    np.testing.assert_allclose(a.rank_distribution.sum(axis=1), 1.0)
    assert a.rank_distribution[2, 2] == 1.0  # the clearly worst model is always last
    assert 0 < a.tau_summary()["mean"] <= 1


def _records_with_predictions(store: ResultsStore, groups: np.ndarray | None = None):
    """Three models on two binary datasets: 'strong' is clearly best, 'weak' and 'noise' near chance."""
    rng = np.random.default_rng(5)
    recs = []
    for dataset in ("d1", "d2"):
        y = rng.integers(0, 2, 600)
        for sub, noise in (("strong", 0.5), ("weak", 3.0), ("noise", 50.0)):
            score = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, noise, 600))))
            probs = np.stack([1 - score, score], 1).astype(np.float32)
            key = cache_key({"s": sub, "d": dataset})
            value = float(roc_auc_score(y, score))
            rec = {
                "record_version": 1, "status": "ok", "cache_key": key, "created_at": "2026-01-01T00:00:00+00:00",
                "cell": {"submission": sub, "variant": "v", "dataset": dataset, "protocol": "linear"},
                "provenance": {"image_id": "sha256:" + "ab" * 32, "split_lock_hash": "cd" * 32, "harness_version": "0.1.0",
                               "contract_version": 1, "scoring_version": 2, "weights_source": "pretrained"},
                "timings": {}, "headline_metric": "auroc",
                "metrics": {"auroc": {"value": value, "ci_low": value - 0.05, "ci_high": value + 0.05}},
                "confidence": {"method": "percentile-bootstrap", "level": 0.95, "resamples": 200, "seed": 0, "unit": "case"},
            }
            rec["predictions"] = store.put_predictions(key, y, [probs], "binary", groups=groups)
            store.put(rec)
            recs.append(rec)
    return recs


def test_statistics_from_stored_predictions(tmp_path):
    store = ResultsStore(tmp_path)
    recs = _records_with_predictions(store)
    boot = BootstrapConfig(resamples=300, seed=1)
    stats = compute_statistics(recs, store, boot)
    assert stats == compute_statistics(recs, store, boot)  # deterministic for a seed
    d1 = next(s for s in stats["significance"] if s["dataset"] == "d1")
    tests = {(t["better"], t["worse"]): t for t in d1["tests"]}
    assert tests[("strong/v", "noise/v")]["significant"] and tests[("strong/v", "noise/v")]["method"] == "delong"
    ranking = stats["rank_stability"]["linear"]
    assert [m["model"] for m in ranking["models"]][0] == "strong/v" and ranking["models"][0]["rank_distribution"][0] == 1.0
    assert ranking["datasets"] == ["d1", "d2"]


def test_published_leaderboard_shows_significance_and_rank_distributions(tmp_path):
    store = ResultsStore(tmp_path / "store")
    recs = _records_with_predictions(store)
    paths = publish(recs, tmp_path / "lb", store=store, bootstrap=BootstrapConfig(resamples=200))
    md = paths["markdown"].read_text()
    assert "## Significance: d1 - linear - auroc" in md and "| strong/v | noise/v |" in md
    assert "## Rank stability - linear" in md and "Kendall's tau" in md and "P(rank 1)" in md
    doc = json.loads(paths["json"].read_text())
    assert doc["statistics"]["rank_stability"]["linear"]["kendall_tau"]["mean"] is not None


def test_paired_statistics_resample_whole_groups_when_records_carry_them(tmp_path):
    groups = np.repeat(np.arange(100), 6).astype(str)  # 100 patients, 6 test images each
    grouped_store, plain_store = ResultsStore(tmp_path / "g"), ResultsStore(tmp_path / "p")
    grouped = compute_statistics(_records_with_predictions(grouped_store, groups), grouped_store, BootstrapConfig(resamples=200, seed=1))
    plain = compute_statistics(_records_with_predictions(plain_store), plain_store, BootstrapConfig(resamples=200, seed=1))
    assert {s["resampling_unit"] for s in grouped["significance"]} == {"group"}
    assert {s["resampling_unit"] for s in plain["significance"]} == {"case"}
    assert grouped_store.get_test_groups(grouped_store.get(next(iter(grouped_store.records()))["cache_key"])).tolist()[:7] == ["0"] * 6 + ["1"]
    # same models and point values; the resampled metric values differ with the resampling unit
    from harness.publish.statistics import _dataset_stats

    d1 = lambda store: [r for r in store.records() if r["cell"]["dataset"] == "d1"]  # noqa: E731
    g = _dataset_stats("d1", "linear", d1(grouped_store), grouped_store, BootstrapConfig(resamples=200, seed=1))
    p = _dataset_stats("d1", "linear", d1(plain_store), plain_store, BootstrapConfig(resamples=200, seed=1))
    assert (g.unit, p.unit) == ("group", "case")
    np.testing.assert_array_equal(g.points, p.points)
    assert not np.allclose(g.resampled, p.resampled)
