"""The old-print model: what age, handling and scanning do to a photograph's lightness.

Each defect is one function ``defect(light, rng, ...) -> (light, mask)`` on float32 lightness
(H, W) in [0, 1]. Local defects (scratches, dust, hairs, creases) return their coverage mask, float32
in [0, 1]: how much of each pixel the defect replaced; global ones (fading, uneven exposure, grain,
soft focus, halftone, JPEG) change every pixel a little and return ``None``. ``age`` applies them in
the order they happen to a print: the lens (soft focus), the exposure and development (uneven light,
fading and gamma, grain), handling (creases, scratches, hairs, dust), then the scan (halftone of a
printed reproduction, JPEG). Everything is a function of the ``numpy.random.Generator`` it is given,
so a seed reproduces an aged photo exactly.

Ranges were set by looking at scans of old prints: blacks lifted to 3-25 % gray and whites dimmed to
70-97 %, grain whose strength follows the signal (strongest in the mid-tones), white scratches
(emulsion scraped off) more often than dark ones, specks a few pixels wide, hairs as thin dark curves.
Sizes are in pixels of a scan of about 0.3-2 megapixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .strokes import coverage, curve, paint, uniform

Mask = np.ndarray | None


@dataclass(frozen=True)
class OldPrint:
    """How likely each defect is and how strong it may be (ranges are uniform draws)."""

    soft_focus: float = 0.6  # probability
    blur_sigma: tuple[float, float] = (0.4, 1.8)  # pixels
    uneven: float = 0.7
    fade: float = 0.9
    black: tuple[float, float] = (0.03, 0.25)  # where black ends up
    white: tuple[float, float] = (0.70, 0.97)  # where white ends up
    gamma: tuple[float, float] = (0.75, 1.35)
    grain: float = 0.9
    grain_strength: tuple[float, float] = (0.02, 0.09)  # noise sigma at mid-gray
    grain_size: tuple[float, float] = (0.3, 1.2)  # pixels
    creases: float = 0.15
    scratches: float = 0.7
    scratch_count: tuple[int, int] = (1, 6)
    hairs: float = 0.4
    hair_count: tuple[int, int] = (1, 4)
    dust: float = 0.8
    dust_per_mp: tuple[float, float] = (40.0, 400.0)
    halftone: float = 0.05
    jpeg: float = 0.6
    jpeg_quality: tuple[int, int] = (35, 90)


@dataclass
class Aged:
    """An aged lightness and the coverage mask of each local defect it carries."""

    light: np.ndarray
    masks: dict[str, np.ndarray] = field(default_factory=dict)

    def defects(self) -> np.ndarray:
        """Where any local defect covers the pixel (the union of the masks, float32 in [0, 1])."""
        out = np.zeros_like(self.light)
        for m in self.masks.values():
            np.maximum(out, m, out=out)
        return out


# ------------------------------------------------------------------ global defects
def soft_focus(light: np.ndarray, rng: np.random.Generator, sigma=(0.4, 1.8)) -> tuple[np.ndarray, Mask]:
    """An out-of-focus or enlarged print: Gaussian blur of ``sigma`` pixels."""
    s = uniform(rng, sigma)
    return cv2.GaussianBlur(light, (0, 0), s, borderType=cv2.BORDER_REFLECT), None


def uneven_exposure(light: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Mask]:
    """Vignetting (darker corners) and a linear light gradient across the print."""
    h, w = light.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = (2 * y - h) / max(h, w), (2 * x - w) / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    gain = 1 + rng.uniform(-0.2, 0.2) * (x * np.cos(angle) + y * np.sin(angle))
    gain *= 1 - rng.uniform(0, 0.35) * (x * x + y * y) / 2
    return np.clip(light * gain, 0, 1).astype(np.float32), None


def fade(light: np.ndarray, rng: np.random.Generator, black=(0.03, 0.25), white=(0.7, 0.97),
         gamma=(0.75, 1.35)) -> tuple[np.ndarray, Mask]:  # fmt: skip
    """A faded print: blacks lifted to ``black``, whites dimmed to ``white``, tones bent by ``gamma``."""
    lo, hi, g = uniform(rng, black), uniform(rng, white), uniform(rng, gamma)
    return (lo + (hi - lo) * np.power(np.clip(light, 0, 1), g)).astype(np.float32), None


def grain(light: np.ndarray, rng: np.random.Generator, strength=(0.02, 0.09),
          size=(0.3, 1.2)) -> tuple[np.ndarray, Mask]:  # fmt: skip
    """Film grain: Gaussian noise of ``size`` pixels whose strength follows the signal (largest in
    the mid-tones, as silver grains are), ``strength`` its sigma at mid-gray."""
    noise = rng.standard_normal(light.shape).astype(np.float32)
    s = uniform(rng, size)
    if s > 0.35:
        noise = cv2.GaussianBlur(noise, (0, 0), s)
        noise /= max(float(noise.std()), 1e-6)
    amp = uniform(rng, strength) * 2 * np.sqrt(np.clip(light * (1 - light), 0.01, None))
    return np.clip(light + amp * noise, 0, 1).astype(np.float32), None


def halftone(light: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Mask]:
    """A photo reprinted in a book or newspaper: a 45-degree dot screen of 3-6 pixels, blurred by the scan."""
    h, w = light.shape
    period = rng.uniform(3, 6)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (x + y) / np.sqrt(2), (x - y) / np.sqrt(2)
    screen = 0.5 + 0.25 * (np.cos(2 * np.pi * u / period) + np.cos(2 * np.pi * v / period))
    dots = (light > screen).astype(np.float32)
    return cv2.GaussianBlur(dots, (0, 0), period / 3), None


def jpeg(light: np.ndarray, rng: np.random.Generator, quality=(35, 90)) -> tuple[np.ndarray, Mask]:
    """The scan saved as a JPEG of ``quality``."""
    q = int(rng.integers(quality[0], quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", to_uint8(light), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255, None


# ------------------------------------------------------------------ local defects
def defect_tone(rng: np.random.Generator, bright: float) -> float:
    """A defect's gray: near white with probability ``bright``, else near black."""
    return uniform(rng, (0.82, 1.0)) if rng.random() < bright else uniform(rng, (0.0, 0.18))


def _lines(light: np.ndarray, rng: np.random.Generator, count, length, bend: float, steps: int, widths,
           strength, bright: float) -> tuple[np.ndarray, Mask]:  # fmt: skip
    """``count`` random curves (length a share ``length`` of the longer side, ``widths`` pixels wide,
    drawn at ``strength``), each white with probability ``bright``, else black; their coverage."""
    h, w = light.shape
    mask = np.zeros_like(light)
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        size = rng.uniform(*length) * max(h, w)
        line = curve(rng, rng.uniform([0, 0], [w, h]), rng.uniform(0, 2 * np.pi), size, bend, steps)
        cover = coverage(light.shape, [line], int(rng.integers(*widths))) * uniform(rng, strength)
        light = paint(light, cover, defect_tone(rng, bright))
        np.maximum(mask, cover, out=mask)
    return light, mask


def scratches(light: np.ndarray, rng: np.random.Generator, count=(1, 6)) -> tuple[np.ndarray, Mask]:
    """Long thin lines, nearly straight, 1-3 pixels wide, most of them white (emulsion scraped off)."""
    return _lines(light, rng, count, (0.2, 1.2), 0.01, 24, (1, 4), (0.6, 1.0), 0.75)


def hairs(light: np.ndarray, rng: np.random.Generator, count=(1, 4)) -> tuple[np.ndarray, Mask]:
    """Hairs and fibres on the print or the scanner glass: thin curly lines, mostly dark."""
    return _lines(light, rng, count, (0.05, 0.3), 0.25, 40, (1, 3), (0.5, 1.0), 0.25)


def dust(light: np.ndarray, rng: np.random.Generator, per_mp=(40.0, 400.0)) -> tuple[np.ndarray, Mask]:
    """Dust and specks: small blots (radius 0.5-4 pixels, a few larger), white or black."""
    h, w = light.shape
    n = rng.poisson(uniform(rng, per_mp) * h * w / 1e6)
    canvas = {True: np.zeros((h, w), np.uint8), False: np.zeros((h, w), np.uint8)}
    for _ in range(n):
        r = min(rng.pareto(2.5) + 0.5, 8.0)
        centre = (int(rng.uniform(0, w) * 16), int(rng.uniform(0, h) * 16))
        axes = (max(1, int(r * 16)), max(1, int(r * rng.uniform(0.5, 1) * 16)))
        level = int(rng.uniform(150, 256))
        cv2.ellipse(canvas[rng.random() < 0.6], centre, axes, rng.uniform(0, 180), 0, 360, level, -1,
                    cv2.LINE_AA, 4)  # fmt: skip
    white, black = (canvas[k].astype(np.float32) / 255 for k in (True, False))
    light = paint(paint(light, white, uniform(rng, (0.85, 1.0))), black, uniform(rng, (0.0, 0.15)))
    return light, np.maximum(white, black)


def creases(light: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Mask]:
    """A fold: a long crack of broken white emulsion with short side branches, one side a little darker."""
    h, w = light.shape
    line = curve(rng, rng.uniform([0, 0], [w, h]), rng.uniform(0, 2 * np.pi), max(h, w), 0.05, 48)
    branches = [
        curve(rng, line[i], rng.uniform(0, 2 * np.pi), rng.uniform(5, 30), 0.3, 8)
        for i in rng.integers(0, len(line), int(rng.integers(3, 12)))
    ]
    crack = coverage(light.shape, [line], int(rng.integers(1, 4)))
    cover = np.maximum(crack, coverage(light.shape, branches, 1))
    cover *= uniform(rng, (0.6, 1.0))
    side = coverage(light.shape, [line], 12) > 0
    light = np.where(side, light * 0.95, light).astype(np.float32)
    return paint(light, cover, uniform(rng, (0.85, 1.0))), cover


# ------------------------------------------------------------------ the whole model
def to_uint8(light: np.ndarray) -> np.ndarray:
    return np.clip(light * 255 + 0.5, 0, 255).astype(np.uint8)


def age(light: np.ndarray, rng: np.random.Generator, model: OldPrint = OldPrint()) -> Aged:
    """``light`` (H, W) as an old print scanned: each defect of ``model`` drawn with its probability,
    in the order they happen to a print; quantised to 8 bits as a scan would be."""
    light = np.asarray(light, np.float32)
    masks: dict[str, np.ndarray] = {}
    m = model
    steps = [
        ("soft_focus", m.soft_focus, lambda x: soft_focus(x, rng, m.blur_sigma)),
        ("uneven", m.uneven, lambda x: uneven_exposure(x, rng)),
        ("fade", m.fade, lambda x: fade(x, rng, m.black, m.white, m.gamma)),
        ("grain", m.grain, lambda x: grain(x, rng, m.grain_strength, m.grain_size)),
        ("creases", m.creases, lambda x: creases(x, rng)),
        ("scratches", m.scratches, lambda x: scratches(x, rng, m.scratch_count)),
        ("hairs", m.hairs, lambda x: hairs(x, rng, m.hair_count)),
        ("dust", m.dust, lambda x: dust(x, rng, m.dust_per_mp)),
        ("halftone", m.halftone, lambda x: halftone(x, rng)),
        ("jpeg", m.jpeg, lambda x: jpeg(x, rng, m.jpeg_quality)),
    ]
    for name, chance, apply in steps:
        if rng.random() < chance:
            light, mask = apply(light)
            if mask is not None:
                masks[name] = mask
    return Aged(to_uint8(light).astype(np.float32) / 255, masks)
