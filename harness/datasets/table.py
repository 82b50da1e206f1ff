"""``CaseTable``: one row per case read from a publisher's CSV layout, before any split is frozen,
and the CSV helpers every folder adapter shares (pandas; errors name the file, row and field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import DatasetError


@dataclass
class CaseTable:
    ids: list[str]
    labels: np.ndarray  # [N] int64 class index, or [N, L] {0,1} for multilabel
    paths: list[Path]  # absolute image path per case
    root: Path  # the dataset folder; lock file names are relative to it
    csv_files: list[Path]
    image_globs: tuple[str, ...]  # where image files live, relative to root (for 'extra file' checks)
    groups: list[str] | None = None  # patient / lesion id per case, None when the data has no key
    official_split: list[str] | None = None  # 'train' / 'test' per case where the publisher splits
    subsets: list[str] | None = None  # e.g. CBIS-DDSM 'mass' / 'calc'
    rows: list[str] = field(default_factory=list)  # 'csv, row N' per case, for error messages
    skipped: set[str] = field(default_factory=set)  # image files the label policy drops (not 'extra')
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for i, case in enumerate(self.ids):
            if case in seen:
                raise DatasetError(f"{self.root}: case id {case!r} occurs twice (cases {seen[case]} and {i})")
            seen[case] = i

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def source_files(self) -> dict[str, Path]:
        files = {self.relative(p): p for p in self.csv_files}
        files.update({self.relative(p): p for p in self.paths})
        return files


def where(path: Path, row: int) -> str:
    """'file, row N (line M)': row counts data rows from 1; line counts the header as line 1."""
    return f"{path}, row {row + 1} (line {row + 2})"


def read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    """The CSV as published, every cell a string (blank cells stay blank); refuse missing columns."""
    if not path.exists():
        raise DatasetError(f"{path}: not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: column(s) {', '.join(repr(c) for c in missing)} missing; the header is {list(frame.columns)}"
        )
    return frame


def image_path(root: Path, value: str, csv: Path, row: int, column: str) -> Path:
    """A CSV cell naming an image, resolved under ``root`` (existence is checked by ``require_files``
    at freeze time, and by lock verification afterwards, which names every missing file)."""
    rel = value.strip()
    if not rel:
        raise DatasetError(f"{where(csv, row)}: field {column!r} is blank")
    return root / rel


def require_files(table: CaseTable) -> None:
    """Refuse a CSV row whose image file is absent, naming the CSV, the row and the file."""
    for i, path in enumerate(table.paths):
        if not path.is_file():
            at = table.rows[i] if table.rows else str(table.root)
            raise DatasetError(f"{at}: names image {table.relative(path)!r}, but {path} does not exist")


def integer(value: str, csv: Path, row: int, column: str, allowed: range) -> int:
    try:
        number = int(float(value))
        if float(value) != number:
            raise ValueError
    except ValueError:
        raise DatasetError(f"{where(csv, row)}: field {column!r} is {value!r}, not an integer") from None
    if number not in allowed:
        raise DatasetError(
            f"{where(csv, row)}: field {column!r} is {number}, outside the classes {allowed.start}..{allowed.stop - 1}"
        )
    return number
