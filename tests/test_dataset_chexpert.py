"""CheXpert: train.csv / valid.csv with the release folder in each Path; uncertainty policies, blanks,
frontal-only, the competition 5 and all 14; valid.csv as the test split; grouping by patient."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

import layouts
from harness.datasets.chexpert import OBSERVATIONS
from harness.datasets.lock import freeze
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source
from harness.datasets.spec import load_spec
from harness.errors import DatasetError


def with_policy(spec, **changes):
    doc = yaml.safe_load((spec.folder / "dataset.yaml").read_text())
    for key, value in changes.items():
        if key == "class_names":
            doc["class_names"] = value
        else:
            doc["label_policy"][key] = value
    (spec.folder / "dataset.yaml").write_text(yaml.safe_dump(doc))
    return load_spec(spec.folder)


def expected(cell: str, uncertain: int) -> int:
    return {"1.0": 1, "0.0": 0, "": 0, "-1.0": uncertain}[cell]


@pytest.fixture
def chexpert_root(tmp_path):
    return layouts.chexpert(tmp_path)


def csv_rows(root, name):
    return pd.read_csv(root / name, dtype=str, keep_default_na=False)


def test_valid_csv_is_the_test_split_and_patients_never_leak(dataset_copy, chexpert_root):
    spec = dataset_copy("chexpert")
    lock = freeze(spec, read_source(spec, chexpert_root))
    valid = csv_rows(chexpert_root, "valid.csv")
    assert lock.splits["test"] == [p.split("/", 1)[1].rsplit(".", 1)[0] for p in valid["Path"]]
    assert lock.split_sizes()["train"] + lock.split_sizes()["val"] == len(csv_rows(chexpert_root, "train.csv"))
    groups = {s: set(g) for s, g in lock.groups.items()}
    assert lock.doc["group_overlap"] == {}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    assert all(g.startswith("patient") for g in groups["val"])
    prepared = prepare(spec, data=chexpert_root.parent)  # found as <data>/CheXpert-v1.0-small
    assert prepared.labels().shape == (len(lock.splits["train"]) + len(lock.splits["val"]) + len(valid), 5)
    assert prepared.images().shape[1:] == (224, 224, 3)
    img = prepared.images("test")[0]
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()  # grayscale replicated


@pytest.mark.parametrize("policy", ["u-ones", "u-zeros", "mixed"])
def test_uncertainty_policy_per_label(dataset_copy, chexpert_root, policy):
    spec = with_policy(dataset_copy("chexpert"), uncertainty=policy)
    raw = read_source(spec, chexpert_root)
    train = csv_rows(chexpert_root, "train.csv")
    by_id = {p.split("/", 1)[1].rsplit(".", 1)[0]: i for i, p in enumerate(train["Path"])}
    rows = raw.splits["train"]
    for case, labels in zip(rows.ids, rows.labels):
        for j, name in enumerate(spec.class_names):
            u = {"u-ones": 1, "u-zeros": 0, "mixed": int(name in ("Atelectasis", "Edema"))}[policy]
            assert labels[j] == expected(train[name][by_id[case]], u), (case, name)
    assert (train[list(spec.class_names)] == "-1.0").any().any() and (train[list(spec.class_names)] == "").any().any()


def test_per_label_override_all_14_and_frontal_only(dataset_copy, chexpert_root):
    spec = with_policy(
        dataset_copy("chexpert"), class_names=list(OBSERVATIONS), uncertainty="u-zeros",
        uncertainty_per_label={"Fracture": "u-ones"}, frontal_only=True,
    )
    raw = read_source(spec, chexpert_root)
    train = csv_rows(chexpert_root, "train.csv")
    frontal = train[train["Frontal/Lateral"] == "Frontal"]
    assert len(raw.splits["train"].ids) + len(raw.splits["val"].ids) == len(frontal) < len(train)
    assert raw.splits["train"].labels.shape[1] == 14
    by_id = {p.split("/", 1)[1].rsplit(".", 1)[0]: i for i, p in zip(frontal.index, frontal["Path"])}
    for case, labels in zip(raw.splits["train"].ids, raw.splits["train"].labels):
        for j, name in enumerate(OBSERVATIONS):
            assert labels[j] == expected(train[name][by_id[case]], 1 if name == "Fracture" else 0)
    lock = freeze(spec, raw)
    assert not any("lateral" in name for name in lock.source_files)
    prepare(spec, data=chexpert_root)  # lateral images on disk are not 'extra' files


def test_bad_label_value_names_file_row_and_field(dataset_copy, chexpert_root):
    csv = chexpert_root / "valid.csv"
    frame = csv_rows(chexpert_root, "valid.csv")
    frame.loc[2, "Edema"] = "2.0"
    frame.to_csv(csv, index=False)
    with pytest.raises(DatasetError, match=r"valid.csv, row 3 \(line 4\): field 'Edema' is '2.0'"):
        read_source(dataset_copy("chexpert"), chexpert_root)


def test_path_without_its_image_names_the_row(dataset_copy, chexpert_root):
    frame = csv_rows(chexpert_root, "train.csv")
    (chexpert_root / frame["Path"][4].split("/", 1)[1]).unlink()
    with pytest.raises(DatasetError, match=r"train.csv, row 5 \(line 6\): names image 'train/patient"):
        read_source(dataset_copy("chexpert"), chexpert_root)


def test_label_policy_is_validated_by_the_schema(dataset_copy):
    from harness.errors import SchemaError

    spec = dataset_copy("chexpert")
    with pytest.raises(SchemaError, match="label_policy.uncertainty"):
        with_policy(spec, uncertainty="u-maybe")


def test_all_14_observations_dataset(dataset_copy, chexpert_root):
    spec = dataset_copy("chexpert14")
    assert spec.class_names == OBSERVATIONS and spec.raw["label_policy"]["uncertainty"] == "u-ones"
    raw = read_source(spec, chexpert_root)
    train = csv_rows(chexpert_root, "train.csv")
    by_id = {p.split("/", 1)[1].rsplit(".", 1)[0]: i for i, p in enumerate(train["Path"])}
    for case, labels in zip(raw.splits["val"].ids, raw.splits["val"].labels):
        assert labels.tolist() == [expected(train[name][by_id[case]], 1) for name in OBSERVATIONS]
    lock = freeze(spec, raw)
    assert lock.doc["group_overlap"] == {}
