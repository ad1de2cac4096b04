"""Shared fixtures: real photos from scikit-image's wheel and a small checkpoint made here."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage

from autocolor import train

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


@pytest.fixture(scope="session")
def photo_dir() -> Path:
    return SKIMAGE_DATA


@pytest.fixture(scope="session")
def astronaut() -> Path:
    return SKIMAGE_DATA / "astronaut.png"


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A real (if barely trained) checkpoint: 6 steps of the trainer on two photos."""
    out = tmp_path_factory.mktemp("run")
    photos = out / "photos.txt"
    photos.write_text(f"{SKIMAGE_DATA / 'chelsea.png'}\n{SKIMAGE_DATA / 'coffee.png'}\n")
    cfg = train.TrainConfig(
        photos=(str(photos),),
        out=str(out),
        init="random",
        steps=6,
        batch=2,
        crop=96,
        scale_min=96,
        scale_max=128,
        points=32,
        workers=0,
        warmup=2,
        save_every=100,
    )
    return train.train(cfg, progress=False)


@pytest.fixture(scope="session")
def restorer_checkpoint(tmp_path_factory) -> Path:
    """A restorer after 3 steps of its trainer on two photos (weights barely trained, but real)."""
    from autocolor.restore import train as restore_train

    out = tmp_path_factory.mktemp("restorer")
    cfg = restore_train.RestorerTrainConfig(
        photos=(str(SKIMAGE_DATA / "chelsea.png"), str(SKIMAGE_DATA / "coffee.png")),
        out=str(out),
        steps=3,
        batch=2,
        crop=96,
        short_side=(128, 256),
        save_every=3,
        workers=0,
    )
    return restore_train.train(cfg, progress=False)
