"""Writing the leaderboard: ``leaderboard.md`` (people), ``leaderboard.json`` (machines), ``leaderboard.csv``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from harness import SCORING_VERSION, __version__
from harness.publish.statistics import compute_statistics, markdown_sections
from harness.publish.table import COLUMNS, overall, rank_cells, records_frame
from harness.scoring.bootstrap import BootstrapConfig
from harness.store import ResultsStore
from medbench_sdk.contract import CONTRACT_VERSION


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _short(digest: Any) -> str:
    return str(digest).replace("sha256:", "")[:12] if isinstance(digest, str) else "-"


def _secondary(values: Any) -> str:
    if not isinstance(values, dict) or not values:
        return "-"
    return ", ".join(f"{name} {'undefined' if v is None else f'{v:.3f}'}" for name, v in values.items())


def markdown(ranked: pd.DataFrame, summary: pd.DataFrame, stats: dict[str, Any] | None = None) -> str:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = ["# medbench leaderboard", "", f"Generated {now} by medbench {__version__} (contract v{CONTRACT_VERSION}, scoring v{SCORING_VERSION}).", ""]
    if ranked.empty:
        return "\n".join(lines + ["No records yet: run `medbench run` or `medbench demo`.", ""])
    if ranked["synthetic"].any():
        lines += ["> **SYNTHETIC DATA.** Some rows were scored on a generated dataset because no real data was reachable;", "> their numbers say nothing about medical performance.", ""]
    if (ranked["weights_source"] == "random-init").any():
        lines += ["> **RANDOM-INIT WEIGHTS.** Some images were built without access to the model hub and carry a seeded", "> random initialisation instead of the pretrained checkpoint (column *weights*).", ""]
    lines += ["## Overall (mean rank across datasets; failed or missing cells take the worst rank)", "", "| protocol | rank | submission | variant | mean rank | datasets | failed/missing |", "|---|---|---|---|---|---|---|"]
    for protocol, group in summary.groupby("protocol", sort=True):
        for i, row in enumerate(group.itertuples(index=False), start=1):
            lines.append(f"| {protocol} | {i} | {row.submission} | {row.variant} | {row.mean_rank:.2f} | {row.cells} | {row.failed_or_missing} |")
    for (dataset, protocol), group in ranked.groupby(["dataset", "protocol"], sort=True):
        metric = group["metric"].dropna().iloc[0] if group["metric"].notna().any() else "-"
        flag = " (SYNTHETIC)" if group["synthetic"].any() else ""
        lines += ["", f"## {dataset}{flag} - {protocol} - {metric} (95% bootstrap CI)", "", "| rank | submission | variant | " + metric + " | 95% CI | secondary | weights | images/s | image | split lock |", "|---|---|---|---|---|---|---|---|---|---|"]
        for row in group.itertuples(index=False):
            if row.status == "ok":
                ci = f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]"
                value = _fmt(row.value) + (f" (seed SD {_fmt(row.seed_sd)})" if row.seed_sd is not None and not pd.isna(row.seed_sd) else "")
                lines.append(f"| {int(row.rank)} | {row.submission} | {row.variant} | {value} | {ci} | {_secondary(row.secondary)} | {row.weights_source} | {_fmt(row.images_per_second, 1)} | `{_short(row.image_id)}` | `{_short(row.split_lock_hash)}` |")
            else:
                lines.append(f"| {int(row.rank)} (failed) | {row.submission} | {row.variant} | FAILED: {row.failure_class} | - | - | {row.weights_source} | - | `{_short(row.image_id)}` | `{_short(row.split_lock_hash)}` |")
    failed = ranked[ranked.status != "ok"]
    if not failed.empty:
        lines += ["", "## Failed cells", "", "| submission | variant | dataset | protocol | failure class | message |", "|---|---|---|---|---|---|"]
        for row in failed.itertuples(index=False):
            msg = str(row.failure_message).replace("|", "\\|")
            lines.append(f"| {row.submission} | {row.variant} | {row.dataset} | {row.protocol} | {row.failure_class} | {msg} |")
    if stats is not None:
        lines += markdown_sections(stats)
    lines += ["", "Provenance: every row names its image by content digest (`image`) and its frozen split by lock hash; the full records are in `leaderboard.json`.", ""]
    return "\n".join(lines)


def publish(records: list[dict[str, Any]], out_dir: Path, store: ResultsStore | None = None, bootstrap: BootstrapConfig | None = None) -> dict[str, Path]:
    """Write the leaderboard; with ``store`` (where the records' test predictions live) also the pairwise
    significance tests and the bootstrap rank distributions."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ranked = rank_cells(records_frame(records))
    summary = overall(ranked)
    stats = compute_statistics(records, store, bootstrap) if store is not None and records else None
    paths = {"markdown": out_dir / "leaderboard.md", "json": out_dir / "leaderboard.json", "csv": out_dir / "leaderboard.csv"}
    paths["markdown"].write_text(markdown(ranked, summary, stats))
    doc = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "contract_version": CONTRACT_VERSION,
        "scoring_version": SCORING_VERSION,
        "overall": json.loads(summary.to_json(orient="records")),
        "cells": json.loads(ranked.drop(columns=["secondary", "seed_sd"], errors="ignore").to_json(orient="records")),
        "statistics": stats,
        "records": records,
    }
    paths["json"].write_text(json.dumps(doc, indent=2))
    csv = ranked.reindex(columns=COLUMNS) if not ranked.empty else pd.DataFrame(columns=COLUMNS)
    csv.to_csv(paths["csv"], index=False)
    return paths
