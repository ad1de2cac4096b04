"""What the demo page holds: the controls' settings and one uploaded photo's entry (plain data, no
Gradio, no logic beyond reading themselves), shared by the session logic and the views."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import imagefile
from ..evidence.hints import Hint
from ..histograms import BOOST, DecodeParam
from ..prediction import Prediction


@dataclass(frozen=True)
class Settings:
    """The page's controls."""

    model: str
    size: int = 512
    chroma: str = "median"
    hue: str = "expectation"
    fade: bool = True
    boost: float = BOOST
    temperature: float = 1.0
    restore: bool = False  # restore old photos (levels, grain, defects) before colouring them
    mirror: bool = False  # the network also shown each photo's mirror image, its answers averaged

    def param(self) -> DecodeParam:
        """The decoding these controls choose (fading applies to the hue expectation)."""
        hue = "expectation-cf" if self.fade and self.hue == "expectation" else self.hue
        return DecodeParam.parse(f"{self.chroma}:{hue}", self.temperature, self.boost)


@dataclass
class Entry:
    """One uploaded photo: its full-resolution lightness, previews, and the cached prediction."""

    name: str
    source: str  # the uploaded file's path (identifies the entry across uploads)
    photo: imagefile.Photo
    original: np.ndarray  # uint8 RGB preview of the upload as it looks
    light: np.ndarray  # lightness at preview size
    pred: Prediction | None = None
    made_with: tuple[str, int, bool] | None = None  # (model, size, mirror) of ``pred``
    colorized: np.ndarray | None = None  # uint8 RGB preview of the latest decoding
    doubt: np.ndarray | None = None  # uint8 RGB preview of the colour uncertainty
    download: Path | None = None  # full-resolution result
    hints: list[Hint] = field(default_factory=list)  # in full-resolution pixels
    steered: Prediction | None = None  # ``pred`` with the hints and references fused in
    raw: tuple[imagefile.Photo, np.ndarray] | None = None  # (photo, light) as uploaded, when restored
    defects: np.ndarray | None = None  # uint8 RGB preview: the defects the restorer found, in red

    @property
    def gray(self) -> np.ndarray:
        return imagefile.quantize(self.light)

    @property
    def shown(self) -> Prediction | None:
        """The histograms behind the result: steered if there is evidence, else the network's."""
        return self.steered if self.steered is not None else self.pred

    def full_res_coords(self, y, x):
        """Full-resolution pixel coordinates (floats or tensors) of preview pixel (y, x)."""
        (ph, pw), (h, w) = self.light.shape, self.photo.light.shape
        return (y + 0.5) * h / ph - 0.5, (x + 0.5) * w / pw - 0.5
