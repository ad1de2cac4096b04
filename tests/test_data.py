import csv
import io
import struct
from pathlib import Path

import pytest
import torch
from PIL import Image

from autocolor import data
from autocolor.data import containers, download


def _jpeg(size) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def write_rcc(path: Path, files: dict[str, bytes]) -> None:
    """A Qt resource archive (qres version 1) holding ``files``, one level of folders."""
    folders = sorted({name.rsplit("/", 1)[0] for name in files})
    names, name_offsets = b"", {}
    for n in [*folders, *(f.rsplit("/", 1)[1] for f in files)]:
        if n not in name_offsets:
            name_offsets[n] = len(names)
            names += struct.pack(">HI", len(n), 0) + n.encode("utf-16-be")
    data, nodes = b"", [struct.pack(">IHII", 0, 2, len(folders), 1)]  # the root
    first = 1 + len(folders)
    leaves = []
    for folder in folders:
        mine = [f for f in files if f.rsplit("/", 1)[0] == folder]
        nodes.append(struct.pack(">IHII", name_offsets[folder], 2, len(mine), first + len(leaves)))
        leaves += mine
    for f in leaves:
        nodes.append(struct.pack(">IHHHI", name_offsets[f.rsplit("/", 1)[1]], 0, 0, 0, len(data)))
        data += struct.pack(">I", len(files[f])) + files[f]
    tree = b"".join(nodes)
    header = 20
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"qres" + struct.pack(">IIII", 1, header, header + len(tree),
                     header + len(tree) + len(data)) + tree + data + names)  # fmt: skip


def _fake_file(path: Path) -> None:
    """A small image at ``path``, or a container holding one where the pattern names a member."""
    if "::" not in str(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 20), (200, 30, 30)).save(path)
        return
    archive, _ = str(path).split("::")
    archive = Path(archive)
    if archive.suffix == ".rcc":
        write_rcc(archive, {"resource/sample.webp": _jpeg((40, 20)), "resource/notes.qml": b"Item {}"})
    else:  # an Edje theme: the largest JPEG stream is the photo
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(b"EET" + _jpeg((16, 8)) + b"\0" * 9 + _jpeg((64, 36)) + b"\0" * 5)


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """A fake extracted-package tree standing in for apt-get/pip downloads."""
    roots = {}

    def fake_download(source, cache):
        name = source.package.split("==")[0]
        root = tmp_path / "pkgs" / name
        for pattern in source.patterns:
            _fake_file(root / pattern.replace("*", "sample").replace("?", "1"))
        if name == "kphotoalbum":
            index = root / "usr/share/kphotoalbum/demo/index.xml"
            index.write_text('<db><images><image file="sample.jpg" angle="90"/></images></db>')
        if source.kind == "deb":
            doc = root / "usr/share/doc" / name / "copyright"
            doc.parent.mkdir(parents=True, exist_ok=True)
            doc.write_text(
                "Files: *\nCopyright: Someone\nLicense: GPL-2+\n This package is free software...\n\n"
                "Files: 16.04/Bridge_by_Sander_Klootwijk.jpg\nCopyright: 2018. Sander Klootwijk\n"
                "License: CC-BY-SA-4.0\n\n"
                "Files: src/activities/erase/resource/*\nCopyright: A photographer\nLicense: CC0-1.0\n"
            )
        roots[name] = root
        return root

    monkeypatch.setattr(download, "_download", fake_download)
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
    assert other["licence"] == "GPL-2+"  # the short name, not the licence's text
    with Image.open(dest / "train" / "kphotoalbum" / "sample.jpg") as im:
        assert im.size == (20, 40)  # stored rotation applied
    assert {r["split"] for r in rows} == {"train", "val", "eval"}
    val = {r["package"] for r in rows if r["split"] == "val"}
    assert not val & eval_pkgs
    gc = next(r for r in rows if r["split"] == "val" and r["package"] == "gcompris-qt-data")
    assert gc["file"] == "val/gcompris-qt-data/erase/sample.webp" and "erase.rcc::" in gc["path"]
    assert not any(r["file"].endswith("notes.qml") for r in rows)
    edj = next(r for r in rows if r["package"] == "enlightenment-data")
    with Image.open(dest / edj["file"]) as im:
        assert im.size == (64, 36)  # the largest stream, intact
    stamps = [r["file"] for r in rows if r["package"] == "tuxpaint-stamps-default"]
    assert len(stamps) == len(set(stamps)) and all(f.count("/") > 2 for f in stamps)  # sub-folders kept
    walls = [r["file"] for r in rows if r["package"] == "plasma-workspace-wallpapers"]
    assert len(walls) == 9 and len(set(walls)) == 9  # all called 2560x1600.jpg: kept apart
    again = data.fetch(tmp_path / "photos", log=lambda *_: None)  # idempotent
    assert (again / "manifest.csv").read_text() == (dest / "manifest.csv").read_text()


def test_licence_patterns_match_converted_and_nested_files():
    member = "usr/share/gcompris-qt/rcc/erase.rcc::gcompris/src/activities/erase/resource/gorilla.webp"
    paragraphs = [
        (["*"], "GPL-3+", "GCompris"),
        (["src/activities/erase/resource/gorilla.jpg"], "CC-BY-SA-3.0", "A photographer"),
        (["src/activities/lightsoff/resource/*"], "GPL-2+", "Other"),  # "*" is no file name
    ]
    assert download._licence_of(member, paragraphs) == ("CC-BY-SA-3.0", "A photographer")
    assert download._licence_of("usr/share/x/other.webp", paragraphs)[0] == "GPL-3+"


def test_rcc_members_read_back(tmp_path):
    blob = _jpeg((40, 20))
    write_rcc(tmp_path / "a.rcc", {"resource/p.jpg": blob, "resource/q.txt": b"text"})
    found = {name: b for _, name, b in containers.members(tmp_path / "a.rcc")}
    assert found == {"a/p.jpg": blob, "a/q.txt": b"text"}


def test_fetch_reports_missing_tools(tmp_path, monkeypatch):
    monkeypatch.setattr(download.shutil, "which", lambda _: None)
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
    lst.write_text("# my photos\nholiday 2019/beach day.jpg\nholiday 2019/dunes.jpg 3\n\n  # done\n")
    named = [tmp_path / "holiday 2019/beach day.jpg", tmp_path / "holiday 2019/dunes.jpg"]
    assert data.list_images([lst]) == named
    for binary in (b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xfe\xfa"):
        lst.write_bytes(binary)
        with pytest.raises(ValueError, match="list.txt: not a list of photos"):
            data.list_images([lst])


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


def test_degraded_input_and_rebalancing_weights_leave_the_targets_alone(photo_dir):
    photos = [photo_dir / "chelsea.png", photo_dir / "coffee.png"]
    args = dict(crop=96, scale=(96, 160), points=16, seed=3)
    plain = data.TrainingCrops(photos, **args)
    prior = data.color_prior(photos)
    assert prior.shape == (96,) and prior.sum().item() == pytest.approx(1.0)
    balance = torch.arange(96.0)
    both = data.TrainingCrops(photos, **args, degraded=1.0, balance=balance)
    for n in range(4):
        a, b = plain[n], both[n]
        assert torch.equal(a["points"], b["points"]) and torch.equal(a["light"], b["light"])
        assert all(torch.equal(a["targets"][k], b["targets"][k]) for k in a["targets"])
        assert not torch.equal(a["gray"], b["gray"]) and b["gray"].shape == a["gray"].shape
        corr = torch.corrcoef(torch.stack([a["gray"].flatten(), b["gray"].flatten()]))[0, 1]
        assert corr > 0.6, corr  # aged as an old print, still the same picture
        assert "weight" not in a and b["weight"].shape == (16,)
    gray = torch.rand(64, 64)
    g = torch.Generator().manual_seed(0)
    assert data.degrade(gray, g).shape == gray.shape and data.degrade(gray, g).dtype == torch.float32


def test_grayscale_detection(tmp_path, photo_dir):
    gray = tmp_path / "g.png"
    Image.open(photo_dir / "coffee.png").convert("L").save(gray)
    assert data.is_grayscale(gray) and not data.is_grayscale(photo_dir / "coffee.png")


@pytest.mark.slow
def test_fetch_a_real_debian_package(tmp_path):
    if download.shutil.which("apt-get") is None:
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


@pytest.mark.parametrize("mode", ["composite", "mask"])
def test_cutouts_are_pasted_and_sampled_on_the_object(tmp_path, photo_dir, mode):
    cut = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    cut.paste((220, 20, 20, 255), (10, 10, 50, 50))  # a red square, transparent around it
    cut.save(tmp_path / "cut.png")
    photos = [photo_dir / "coffee.png", tmp_path / "cut.png"]
    assert [data.is_cutout(p) for p in photos] == [False, True]
    ds = data.TrainingCrops(photos, crop=96, scale=(96, 128), points=32, seed=1, cutouts=mode)
    n = next(k for k in range(20) if ds.is_cutout[ds._index(k)])
    item = ds[n]
    assert torch.equal(item["gray"], ds[n]["gray"])
    red = item["targets"]["hue"].argmax(-1) == 0  # hue 0 = red
    on_object = int(red.sum())
    assert on_object >= (32 if mode == "mask" else 16)
    if mode == "mask":
        assert (item["gray"] == 0.5).float().mean() > 0.3  # flat gray around the object


def test_a_partial_fetch_keeps_the_rest_of_the_manifest(tmp_path, fake_packages):
    dest = data.fetch(tmp_path / "photos", log=lambda *_: None)
    before = (dest / "manifest.csv").read_text()
    data.fetch(dest, splits=("train",), packages=("lxqt-themes",), log=lambda *_: None)
    with open(dest / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(before.splitlines()) - 1 and {r["split"] for r in rows} == {
        "train",
        "val",
        "eval",
    }
    lxqt = [r for r in rows if r["package"] == "lxqt-themes"]
    assert lxqt and all(r["licence"] == "CC-BY-SA-3.0" for r in lxqt)  # the wallpapers' own License file
