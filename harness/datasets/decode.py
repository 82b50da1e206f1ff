"""Decoding source images: DICOM through pydicom, JPEG / PNG through Pillow; then grayscale ->
3 channels and aspect-preserving resize + centred zero pad to the canonical resolution. Decoding runs
in parallel worker processes behind a progress bar."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_voi_lut
from tqdm import tqdm

from harness.errors import DatasetError


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    pixels = pixels.astype(np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    if high <= low:
        return np.zeros(pixels.shape, dtype=np.uint8)
    return np.round((pixels - low) * (255.0 / (high - low))).astype(np.uint8)


def read_dicom(path: Path) -> np.ndarray:
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if "WindowCenter" in ds or "VOILUTSequence" in ds:
        pixels = apply_voi_lut(pixels, ds)
    out = _to_uint8(pixels)
    if ds.get("PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        out = 255 - out
    return out


def read_picture(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        if im.mode in ("I", "I;16", "I;16B", "F"):
            return _to_uint8(np.asarray(im))
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        return np.asarray(im)


def read_image(path: Path, where: str = "") -> np.ndarray:
    """The image as uint8 ``[H, W]`` or ``[H, W, 3]``; an unreadable file is a DatasetError naming it."""
    try:
        if path.suffix.lower() == ".dcm":
            return read_dicom(path)
        return read_picture(path)
    except (OSError, ValueError, UnidentifiedImageError, InvalidDicomError, AttributeError, KeyError) as exc:
        listed = f" (listed at {where})" if where else ""
        raise DatasetError(f"{path}: unreadable image{listed}: {type(exc).__name__}: {exc}") from None


def check_readable(path: Path, where: str = "") -> None:
    """Freeze-time check: the image decodes completely (a truncated file whose header parses fails
    here, before any lock is written, not later in the middle of building a cache)."""
    read_image(path, where)


def to_rgb_square(image: np.ndarray, size: int) -> np.ndarray:
    """Grayscale -> 3 channels (replicated), then aspect-preserving resize and centred zero pad."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = resized
    return out


def decode_one(job: tuple[Path, str, int]) -> np.ndarray:
    path, where, size = job
    return to_rgb_square(read_image(path, where), size)


def decode_many(paths: list[Path], rows: list[str], size: int, workers: int | None = None, label: str = "decoding") -> Iterator[np.ndarray]:
    """Each image decoded and squared, in order; parallel worker processes, with a progress bar."""
    jobs = [(p, w, size) for p, w in zip(paths, rows)]
    workers = workers or min(os.cpu_count() or 1, max(1, len(jobs) // 64))
    bar = tqdm(total=len(jobs), desc=label, unit="img", disable=None)
    try:
        if workers <= 1:
            for job in jobs:
                yield decode_one(job)
                bar.update()
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for image in pool.map(decode_one, jobs, chunksize=16):
                yield image
                bar.update()
    finally:
        bar.close()
