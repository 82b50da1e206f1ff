"""``medbench datasets info``: a dataset's card, from its dataset.yaml and (when frozen) its lock."""

from __future__ import annotations

from harness.datasets.lock import load_lock
from harness.datasets.raw import SPLITS
from harness.datasets.spec import load_spec
from harness.errors import DatasetError


def describe(name: str) -> str:
    spec = load_spec(name)
    doc = spec.raw
    lines = [
        f"{spec.name}: {spec.title}" + ("  [SYNTHETIC]" if spec.synthetic else ""),
        f"  task: {spec.task_type}, {spec.num_classes} classes: {', '.join(spec.class_names)}",
        f"  official metric: {spec.official_metric}" + (f" (secondary: {', '.join(spec.secondary_metrics)})" if spec.secondary_metrics else ""),
        f"  modality: {spec.modality}, {spec.original_channels} channel(s) (grayscale replicated to 3)",
        f"  canonical resolution: {spec.canonical_resolution} px, {doc.get('resize', 'as published')}",
        f"  layout: {spec.layout['format']} ({spec.layout['file']})",
        f"  split policy: {spec.split_policy}",
        f"  grouping: {spec.grouping}",
    ]
    if "split" in doc:
        lines.append(f"  split settings: {doc['split']}")
    if "label_policy" in doc:
        lines.append(f"  label policy: {doc['label_policy']}")
    if doc.get("notes"):
        lines.append(f"  notes: {doc['notes']}")
    try:
        lock = load_lock(spec)
    except DatasetError as exc:
        lines.append(f"  lock: {exc}")
        return "\n".join(lines)
    lines.append(f"  lock: {lock.lock_hash[:16]}, {len(lock.source_files)} source files, label hash {lock.label_hash[:12]}")
    lines.append("  split sizes: " + ", ".join(f"{s} {n}" for s, n in lock.split_sizes().items()))
    if lock.groups is not None:
        counts = ", ".join(f"{s} {len(set(lock.groups[s]))}" for s in SPLITS)
        overlap = lock.doc.get("group_overlap", {})
        lines.append(f"  groups: {counts}; in more than one split: {len(overlap)}" + (f" ({', '.join(list(overlap)[:5])} ...)" if overlap else ""))
    else:
        lines.append("  groups: none (split not grouped)")
    for note in lock.doc.get("notes", []):
        lines.append(f"  lock note: {note}")
    return "\n".join(lines)

