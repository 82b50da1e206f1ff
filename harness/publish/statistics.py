"""Statistics at publish time, from the test predictions stored beside each record.

Per (dataset, protocol): pairwise one-sided tests between every two models, Holm-corrected (DeLong for
binary AUROC, a paired bootstrap otherwise). Per protocol: rank-then-aggregate over datasets, redone on
every bootstrap resample, giving each model's rank distribution and Kendall's tau to the full ranking.
All models of a dataset share one resample matrix, so every comparison is paired.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from harness.scoring.bootstrap import BootstrapConfig, resample_values, resample_weights
from harness.scoring.compare import pairwise_tests
from harness.scoring.metrics import METRICS
from harness.scoring.ranks import rank_stability
from harness.store import ResultsStore


def dataset_seed(seed: int, dataset: str) -> int:
    return int(hashlib.sha256(f"{seed}:{dataset}".encode()).hexdigest()[:8], 16)


def model_name(rec: dict[str, Any]) -> str:
    return f"{rec['cell']['submission']}/{rec['cell']['variant']}"


@dataclass
class DatasetStats:
    dataset: str
    protocol: str
    metric: str
    models: list[str]
    points: np.ndarray  # [M] headline values (NaN: failed / no predictions)
    resampled: np.ndarray  # [B, M]
    tests: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unit: str = "case"  # what the paired bootstrap resampled: cases, or whole groups (patients / lesions)


def _dataset_stats(dataset: str, protocol: str, recs: list[dict], store: ResultsStore, boot: BootstrapConfig) -> DatasetStats | None:
    metric_name = next((r["headline_metric"] for r in recs if r["status"] == "ok"), None)
    if metric_name is None:
        return None
    metric = METRICS[metric_name]
    models = sorted(model_name(r) for r in recs)
    by_name = {model_name(r): r for r in recs}
    loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    notes = []
    for name in models:
        rec = by_name[name]
        if rec["status"] != "ok":
            continue
        pred = store.get_predictions(rec)
        if pred is None:
            notes.append(f"{name}: no stored test predictions (older record); left out of the paired statistics")
            continue
        loaded[name] = pred
    y_ref = next(iter(loaded.values()))[0] if loaded else None
    for name in list(loaded):
        if not np.array_equal(loaded[name][0], y_ref):
            notes.append(f"{name}: scored on different test labels; left out of the paired statistics")
            del loaded[name]
    points = np.full(len(models), np.nan)
    resampled = np.full((boot.resamples, len(models)), np.nan)
    stats_unit = "case"
    if loaded:
        # one resample matrix per dataset, shared by its models (paired); seeded per dataset so that two
        # datasets of the same size are not resampled in lockstep
        # resample whole patients / lesions where the records carry the test groups (all of them, identically)
        group_sets = [store.get_test_groups(by_name[name]) for name in loaded]
        groups = group_sets[0] if all(g is not None and np.array_equal(g, group_sets[0]) for g in group_sets) else None
        weights = resample_weights(len(y_ref), dataclasses.replace(boot, seed=dataset_seed(boot.seed, dataset)), groups=groups)
        stats_unit = "case" if groups is None else "group"
        for k, name in enumerate(models):
            if name in loaded:
                value = by_name[name]["metrics"][metric_name]["value"]
                points[k] = np.nan if value is None else value
                task_type = by_name[name]["predictions"]["task_type"]
                resampled[:, k] = resample_values(metric, task_type, loaded[name][0], list(loaded[name][1]), weights)
    stats = DatasetStats(dataset, protocol, metric_name, models, points, resampled, notes=notes, unit=stats_unit)
    names = [m for m in models if m in loaded]
    if len(names) >= 2:
        idx = [models.index(m) for m in names]
        task_type = by_name[names[0]]["predictions"]["task_type"]
        single = all(loaded[m][1].shape[0] == 1 for m in names)
        delong = (y_ref, [loaded[m][1][0][:, 1] for m in names]) if metric_name == "auroc" and task_type == "binary" and single else None
        pts = [None if np.isnan(points[i]) else float(points[i]) for i in idx]
        stats.tests = pairwise_tests(names, pts, [resampled[:, i] for i in idx], metric.higher_is_better, delong)
    return stats


def compute_statistics(records: list[dict[str, Any]], store: ResultsStore, boot: BootstrapConfig | None = None) -> dict[str, Any]:
    boot = boot or BootstrapConfig()
    groups: dict[tuple[str, str], list[dict]] = {}
    for rec in records:
        groups.setdefault((rec["cell"]["dataset"], rec["cell"]["protocol"]), []).append(rec)
    per_dataset: list[DatasetStats] = []
    with threadpool_limits(limits=1):
        for (dataset, protocol), recs in sorted(groups.items()):
            stats = _dataset_stats(dataset, protocol, recs, store, boot)
            if stats is not None:
                per_dataset.append(stats)
        ranking = {}
        for protocol in sorted({s.protocol for s in per_dataset}):
            parts = [s for s in per_dataset if s.protocol == protocol]
            models = sorted({m for s in parts for m in s.models})
            points, resampled = [], []
            for s in parts:  # a model missing from a dataset takes the worst rank there (NaN)
                cols = [s.models.index(m) if m in s.models else None for m in models]
                points.append(np.array([s.points[c] if c is not None else np.nan for c in cols]))
                resampled.append(np.stack([s.resampled[:, c] if c is not None else np.full(boot.resamples, np.nan) for c in cols], axis=1))
            higher = METRICS[parts[0].metric].higher_is_better
            rs = rank_stability(points, resampled, higher)
            ranking[protocol] = {
                "datasets": [s.dataset for s in parts],
                "kendall_tau": rs.tau_summary(),
                "models": [
                    {
                        "model": m,
                        "mean_rank": float(rs.mean_rank[k]),
                        "mean_rank_ci": [float(x) for x in rs.mean_rank_ci[k]],
                        "rank_distribution": [float(x) for x in rs.rank_distribution[k]],
                    }
                    for k, m in sorted(enumerate(models), key=lambda km: rs.mean_rank[km[0]])
                ],
            }
    return {
        "bootstrap": boot.describe("case, or group where every record of a dataset carries the same test groups"),
        "significance": [
            {
                "dataset": s.dataset,
                "protocol": s.protocol,
                "metric": s.metric,
                "resampling_unit": s.unit,
                "notes": s.notes,
                "tests": [
                    {"better": t.better, "worse": t.worse, "difference": t.difference, "method": t.method, "p": t.p_value, "p_holm": t.p_holm, "significant": t.significant}
                    for t in s.tests
                ],
            }
            for s in per_dataset
        ],
        "rank_stability": ranking,
    }


def markdown_sections(stats: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for block in stats["significance"]:
        if not block["tests"] and not block["notes"]:
            continue
        lines += ["", f"## Significance: {block['dataset']} - {block['protocol']} - {block['metric']}", "",
                  "One-sided test per pair in the direction observed; Holm-corrected over the pairs of this table (significant: p_holm < 0.05).", ""]
        if block["tests"]:
            lines += ["| better | worse | difference | test | p | p (Holm) | significant |", "|---|---|---|---|---|---|---|"]
            for t in block["tests"]:
                lines.append(f"| {t['better']} | {t['worse']} | {t['difference']:.4f} | {t['method']} | {t['p']:.4g} | {t['p_holm']:.4g} | {'yes' if t['significant'] else 'no'} |")
        lines += [f"- {note}" for note in block["notes"]]
    for protocol, block in stats["rank_stability"].items():
        tau = block["kendall_tau"]
        n = len(block["models"])
        tau_line = (
            f"Kendall's tau of the resampled rankings to the full ranking: mean {tau['mean']:.3f}, 95% interval [{tau['ci_low']:.3f}, {tau['ci_high']:.3f}]."
            if tau["mean"] is not None else "Kendall's tau is undefined: every model shares one rank."
        )
        lines += ["", f"## Rank stability - {protocol} (mean rank over {len(block['datasets'])} datasets, {stats['bootstrap']['resamples']} bootstrap resamples)", "",
                  tau_line, "",
                  "| model | mean rank | 95% interval | " + " | ".join(f"P(rank {r})" for r in range(1, n + 1)) + " |", "|---|---|---|" + "---|" * n]
        for m in block["models"]:
            dist = " | ".join(f"{p:.2f}" for p in m["rank_distribution"])
            lines.append(f"| {m['model']} | {m['mean_rank']:.2f} | [{m['mean_rank_ci'][0]:.2f}, {m['mean_rank_ci'][1]:.2f}] | {dist} |")
    return lines
