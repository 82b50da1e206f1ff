"""Small fixtures written in exactly each publisher's layout: the official CSV headers, value formats
and path conventions, with tiny real image files (JPEG / PNG / DICOM) whose pixels are seeded noise."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

ISIC_HEADER = ["image", "MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
ISIC_META_HEADER = ["image", "age_approx", "anatom_site_general", "lesion_id", "sex"]
CHEXPERT_HEADER = [
    "Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly",
    "Lung Opacity", "Lung Lesion", "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax",
    "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices",
]
MASS_HEADER = [
    "patient_id", "breast_density", "left or right breast", "image view", "abnormality id", "abnormality type",
    "mass shape", "mass margins", "assessment", "pathology", "subtlety", "image file path",
    "cropped image file path", "ROI mask file path",
]
CALC_HEADER = [
    "patient_id", "breast density", "left or right breast", "image view", "abnormality id", "abnormality type",
    "calc type", "calc distribution", "assessment", "pathology", "subtlety", "image file path",
    "cropped image file path", "ROI mask file path",
]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def noise_image(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Blocky seeded noise: distinct images whose perceptual hashes differ."""
    small = rng.integers(0, 256, size=(6, 6, *shape[2:]), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((shape[1], shape[0]), Image.Resampling.NEAREST))


def write_picture(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_dicom(path: Path, pixels: np.ndarray, uid_seed: str, photometric: str = "MONOCHROME2") -> Path:
    """A minimal, valid 16-bit MONOCHROME2 DICOM file (as CBIS-DDSM ships)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[uid_seed])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def isic2019(root: Path, n: int = 60, lesions: bool = True, seed: int = 0) -> Path:
    """ISIC 2019: one-hot ground truth as the official file writes it (1.0 / 0.0), the metadata CSV with
    lesion_id (two or three images per lesion, some images without one), JPEGs in the input folder."""
    rng = np.random.default_rng(seed)
    classes = ISIC_HEADER[1:-1]
    rows, meta = [], []
    lesion = 0
    for i in range(n):
        case = f"ISIC_{i:07d}"
        if i % 3 == 0:
            lesion += 1
        label = lesion % 3 if lesion % 5 else 3  # MEL, NV, BCC and some AK
        rows.append([case, *[1.0 if j == label else 0.0 for j in range(len(classes))], 0.0])
        lesion_id = "" if i % 17 == 16 else f"IL_{lesion:07d}"
        meta.append([case, 35 + i % 40, "anterior torso", lesion_id, "female" if i % 2 else "male"])
        write_picture(root / "ISIC_2019_Training_Input" / f"{case}.jpg", noise_image(rng, (40, 52, 3)))
    write_csv(root / "ISIC_2019_Training_GroundTruth.csv", ISIC_HEADER, rows)
    if lesions:
        write_csv(root / "ISIC_2019_Training_Metadata.csv", ISIC_META_HEADER, meta)
    return root


def aptos2019(root: Path, n: int = 100, seed: int = 0) -> Path:
    """APTOS 2019: train.csv (id_code, diagnosis), train_images/<id_code>.png; test.csv carries no labels."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        code = f"{rng.integers(0, 2**48):012x}"
        rows.append([code, i % 5])
        write_picture(root / "train_images" / f"{code}.png", noise_image(rng, (48, 64, 3)))
    write_csv(root / "train.csv", ["id_code", "diagnosis"], rows)
    write_csv(root / "test.csv", ["id_code"], [[f"{rng.integers(0, 2**48):012x}"]])
    return root


def chexpert(parent: Path, n_train_patients: int = 60, n_valid_patients: int = 4, seed: int = 0) -> Path:
    """CheXpert-v1.0-small: train.csv / valid.csv with paths starting at the release folder name,
    frontal and lateral views, labels 1.0 / 0.0 / -1.0 / blank (valid.csv has no -1 or blanks)."""
    rng = np.random.default_rng(seed)
    root = parent / "CheXpert-v1.0-small"
    values = ["1.0", "0.0", "-1.0", ""]
    for name, folder, patients, first in (("train.csv", "train", n_train_patients, 1), ("valid.csv", "valid", n_valid_patients, 64541)):
        rows = []
        for p in range(first, first + patients):
            for view, (fl, appa) in enumerate([("Frontal", "AP"), ("Lateral", "")] if p % 2 else [("Frontal", "PA")]):
                rel = f"{folder}/patient{p:05d}/study1/view{view + 1}_{fl.lower()}.jpg"
                write_picture(root / rel, noise_image(rng, (48, 40)))
                pool = values if folder == "train" else values[:2]
                labels = [pool[int(rng.integers(0, len(pool)))] for _ in CHEXPERT_HEADER[5:]]
                rows.append([f"CheXpert-v1.0-small/{rel}", "Female", 60, fl, appa, *labels])
        write_csv(root / name, CHEXPERT_HEADER, rows)
    return root


def cbis_ddsm(root: Path, n_patients: int = 16, seed: int = 0) -> Path:
    """CBIS-DDSM: the four case-description CSVs with TCIA's DICOM path convention (the ROI mask path
    ends in a newline, as in the published CSVs); DICOM files under CBIS-DDSM/."""
    rng = np.random.default_rng(seed)
    pathologies = ["MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK"]
    for kind, header, prefix in (("mass", MASS_HEADER, "Mass"), ("calc", CALC_HEADER, "Calc")):
        for split, word in (("train", "Training"), ("test", "Test")):
            rows = []
            patients = range(1, n_patients + 1) if split == "train" else range(1001, 1001 + n_patients // 2)
            for p in patients:
                pid = f"P_{p:05d}"
                for side in ("LEFT",) if p % 3 else ("LEFT", "RIGHT"):
                    view = "CC" if p % 2 else "MLO"
                    n_abn = 2 if p % 4 == 0 else 1
                    for abn in range(1, n_abn + 1):
                        base = f"{prefix}-{word}_{pid}_{side}_{view}"
                        study, series = f"1.3.6.1.4.1.9590.100.1.2.{p}{abn}1", f"1.3.6.1.4.1.9590.100.1.2.{p}{abn}2"
                        full = f"{base}/{study}/{series}/000000.dcm"
                        crop = f"{base}_{abn}/{study}/{series}3/000000.dcm"
                        mask = f"{base}_{abn}/{study}/{series}3/000001.dcm\n"
                        write_dicom(root / "CBIS-DDSM" / crop, rng.integers(0, 4096, size=(30, 26)), crop)
                        pathology = pathologies[(p + abn) % 3]
                        if kind == "mass":
                            extra = ["OVAL", "CIRCUMSCRIBED"]
                        else:
                            extra = ["AMORPHOUS", "CLUSTERED"]
                        rows.append([pid, 2, side, view, abn, "mass" if kind == "mass" else "calcification", *extra, 4, pathology, 3, full, crop, mask])
            write_csv(root / f"{kind}_case_description_{split}_set.csv", header, rows)
    return root
