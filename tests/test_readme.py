"""The Python examples of the README and the docs run as written, given the image files they name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autocolor import imagefile
from autocolor.data import aging

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", "docs/steering.md")


def blocks(page: str = "README.md") -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert blocks()


@pytest.mark.parametrize(("page", "index"), [(p, i) for p in PAGES for i in range(len(blocks(p)))])
def test_python_block_runs(page, index, photo_dir, tmp_path, monkeypatch):
    Image.open(photo_dir / "coffee.png").convert("RGB").save(tmp_path / "photo.jpg", quality=92)
    Image.open(photo_dir / "chelsea.png").convert("RGB").save(tmp_path / "reference.jpg", quality=92)
    camera = imagefile.read_image(photo_dir / "camera.png").light  # a black-and-white photo, aged as a print
    aged = aging.age(camera, np.random.default_rng(0)).light
    Image.fromarray(aging.to_uint8(aged)).save(tmp_path / "old.jpg", quality=92)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks(page)[index], f"{page} python block {index + 1}", "exec"), {})
    assert Path("photo-color.png").exists() or Path("photo-steered.png").exists() or index > 0
