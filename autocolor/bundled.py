"""The models shipped inside the package: their files and versions (no torch needed to read this).

The package version and the bundled models' versions tell one story: ``autocolor -V`` prints all of
them, and a test checks each version here against the one recorded inside its checkpoint.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
BUNDLED = ("effnet-lite2", "effnet-lite0")  # colorizers shipped in WEIGHTS_DIR: the default, then the faster
DEFAULT_BACKBONE = BUNDLED[0]
RESTORER = WEIGHTS_DIR / "autocolor-restorer.pt"  # ``--restore``
# The network's restored view is the levels of the restorer the colorizers were chosen with (0.6), which
# keeps clean photos closer to themselves than the newer ``--restore`` restorer (docs/benchmarks.md).
VIEW = WEIGHTS_DIR / "autocolor-view.pt"
VERSIONS = {"effnet-lite2": "0.6", "effnet-lite0": "0.3", "restorer": "0.8", "view-restorer": "0.6"}


def colorizer_weights(backbone: str = DEFAULT_BACKBONE) -> Path:
    """Where the bundled colorizer for ``backbone`` lives inside the package."""
    return WEIGHTS_DIR / f"autocolor-{backbone}.pt"


def weights(name: str) -> Path:
    """The file of the bundled model ``name`` (a key of VERSIONS)."""
    return {"restorer": RESTORER, "view-restorer": VIEW}.get(name) or colorizer_weights(name)


def describe() -> str:
    """One line: each bundled model and its version, e.g. for ``autocolor -V``."""
    return ", ".join(f"{name} {v}" for name, v in VERSIONS.items())
