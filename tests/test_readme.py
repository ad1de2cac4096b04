"""The README's Python examples run as written, given the image files they name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autocolor import io
from autocolor.data import aging

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert blocks()


@pytest.mark.parametrize("index", range(len(blocks())))
def test_readme_python_block_runs(index, photo_dir, tmp_path, monkeypatch):
    Image.open(photo_dir / "coffee.png").convert("RGB").save(tmp_path / "photo.jpg", quality=92)
    camera = io.read_image(photo_dir / "camera.png").light  # a black-and-white photo, aged as a print
    aged = aging.age(camera, np.random.default_rng(0)).light
    Image.fromarray(aging.to_uint8(aged)).save(tmp_path / "old.jpg", quality=92)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks()[index], f"README.md python block {index + 1}", "exec"), {})
    assert Path("photo-color.png").exists() or index > 0
