"""From records to ranked tables: per (dataset, protocol) by the official metric, then overall by mean
rank across datasets. Failed or missing cells take the worst rank and are flagged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COLUMNS = [
    "dataset", "protocol", "rank", "submission", "variant", "status", "metric", "value", "ci_low", "ci_high",
    "failure_class", "weights_source", "images_per_second", "device", "container_wall_seconds", "image_id",
    "split_lock_hash", "harness_version", "synthetic", "created_at",
]


def _headline_sd(rec: dict[str, Any]) -> float | None:
    """Spread (SD over seeds) of the headline metric where a protocol averages several draws (few-shot)."""
    choices, settings = rec.get("protocol_choices") or {}, rec.get("settings") or {}
    fraction = choices.get("headline_fraction")
    if fraction is None:
        return None
    block = settings.get(f"{fraction:g}")
    return None if block is None else block["sd"].get(rec.get("headline_metric"))


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for rec in records:
        cell, prov = rec["cell"], rec["provenance"]
        ok = rec["status"] == "ok"
        headline = rec.get("headline_metric")
        metric = rec["metrics"][headline] if ok else {}
        rows.append(
            {
                **cell,
                "status": rec["status"],
                "metric": headline,
                "value": metric.get("value"),
                "ci_low": metric.get("ci_low"),
                "ci_high": metric.get("ci_high"),
                "failure_class": None if ok else rec["failure"]["failure_class"],
                "failure_message": None if ok else rec["failure"]["message"].splitlines()[0][:200],
                "weights_source": prov.get("weights_source"),
                "images_per_second": (rec.get("compute") or {}).get("images_per_second"),
                "device": (rec.get("compute") or {}).get("device"),
                "container_wall_seconds": rec["timings"].get("container_wall_seconds"),
                "image_id": prov.get("image_id"),
                "split_lock_hash": prov.get("split_lock_hash"),
                "harness_version": prov.get("harness_version"),
                "synthetic": bool(prov.get("dataset_synthetic")),
                "created_at": rec["created_at"],
                "secondary": {k: v.get("value") for k, v in rec.get("metrics", {}).items() if k != headline},
                "seed_sd": _headline_sd(rec),
            }
        )
    return pd.DataFrame(rows)


def rank_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Rank within each (dataset, protocol); higher metric is better; failures share the worst rank."""
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype=float))
    parts = []
    for _, group in frame.groupby(["dataset", "protocol"], sort=True):
        group = group.copy()
        ok = group["status"].eq("ok") & group["value"].notna()
        ranks = group.loc[ok, "value"].rank(ascending=False, method="min")
        group["rank"] = np.nan
        group.loc[ok, "rank"] = ranks
        group.loc[~ok, "rank"] = len(group)  # worst rank, flagged by status / failure_class
        parts.append(group.sort_values(["rank", "submission", "variant"]))
    return pd.concat(parts, ignore_index=True)


def overall(ranked: pd.DataFrame) -> pd.DataFrame:
    """Mean rank across datasets per (submission, variant, protocol); a missing cell counts as worst."""
    if ranked.empty:
        return pd.DataFrame(columns=["protocol", "submission", "variant", "mean_rank", "cells", "failed_or_missing"])
    rows = []
    for protocol, group in ranked.groupby("protocol"):
        datasets = sorted(group["dataset"].unique())
        models = group[["submission", "variant"]].drop_duplicates().itertuples(index=False)
        for sub, var in models:
            ranks, bad = [], 0
            for ds in datasets:
                cell = group[(group.submission == sub) & (group.variant == var) & (group.dataset == ds)]
                worst = group[group.dataset == ds][["submission", "variant"]].drop_duplicates().shape[0] + (1 if cell.empty else 0)
                if cell.empty or cell.iloc[0]["status"] != "ok":
                    bad += 1
                    ranks.append(worst)
                else:
                    ranks.append(float(cell.iloc[0]["rank"]))
            rows.append({"protocol": protocol, "submission": sub, "variant": var, "mean_rank": float(np.mean(ranks)), "cells": len(datasets), "failed_or_missing": bad})
    return pd.DataFrame(rows).sort_values(["protocol", "mean_rank", "submission"]).reset_index(drop=True)
