"""What the colorizer's network looks at: an old photo's lightness restored for the network's eyes only.

Fading, uneven light, grain and specks together take most of the colour a network trained on clean
photos would add. The network is therefore shown a restorer's ``levels`` (faded tones, lifted
blacks, uneven light) computed at ``SCALE`` times its processing size: the bundled view's restorer
(``bundled.VIEW``, one pass, no mirror image), the one the colorizers were chosen with; the output
keeps the photo's own lightness at full resolution, untouched. On a clean photo the view changes
little, and it costs the restorer's time on a photo of about 0.35 megapixels, whatever its size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..bundled import VIEW
from ..options import VIEWS as MODES
from . import Restorer

SCALE = 2  # the view is restored at this multiple of the network's processing size


class View:
    """``View.from_pretrained()(light, (h, w))``: ``light`` reduced to ``SCALE`` times the network's
    processing size (h, w) (never enlarged) and restored by ``restorer``."""

    def __init__(self, restorer: Restorer):
        self.restorer = restorer

    @classmethod
    def from_pretrained(cls, device: str | torch.device = "cpu", engine: str = "torch") -> View:
        """The bundled view's restorer (``autocolor/weights``), checked against its SHA-256: its levels."""
        return cls(Restorer.load(VIEW, ("levels",), require_checksum=True, device=device, engine=engine,
                                 mirror=False))  # fmt: skip

    def __call__(self, light: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return self.restore(self.reduce(light, size))

    @staticmethod
    def reduce(light: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``light`` (H, W) area-averaged to ``SCALE`` times the processing size ``size`` (h, w), or
        itself where that would enlarge it."""
        h, w = round(SCALE * size[0]), round(SCALE * size[1])
        if h >= light.shape[0] or w >= light.shape[1]:
            return light
        return cv2.resize(light, (w, h), interpolation=cv2.INTER_AREA)

    def restore(self, small: np.ndarray) -> np.ndarray:
        """A reduced photo's lightness (``reduce``) restored: what the network is shown."""
        return self.restorer(small).light


TRAINING = (*MODES, "restore")  # ``autocolor train --view``: also what ``--restore`` shows the network


def restored_whole(restorer: Restorer):
    """A view that is ``restorer``'s whole output at the photo's own size: what the network is shown
    of a photo that ``--restore all`` restored (the colorizer then reduces it to its processing size)."""
    return lambda light, size: restorer(light).light


def for_training(mode: str):
    """The view ``autocolor train --view`` asks for (TRAINING): a ``from_mode`` view, or ``restore``:
    the bundled restorer's whole output (``restored_whole``), to train a colorizer for ``--restore``."""
    if mode not in TRAINING:
        raise ValueError(f"view must be one of {', '.join(TRAINING)}, not {mode!r}")
    return restored_whole(Restorer.from_pretrained()) if mode == "restore" else from_mode(mode)


def from_mode(mode: str, device: str | torch.device = "cpu", unused: bool = False,
              engine: str = "torch") -> View | None:  # fmt: skip
    """The view a ``--view`` mode asks for (None: ``plain``, or ``unused``: the mode is checked, nothing
    loaded); a ValueError names a mode not in MODES."""
    if mode not in MODES:
        raise ValueError(f"view must be one of {', '.join(MODES)}, not {mode!r}")
    return View.from_pretrained(device, engine) if mode == "restored" and not unused else None
