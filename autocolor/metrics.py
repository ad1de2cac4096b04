"""Colorization metrics on 8-bit RGB images (numpy uint8 arrays, (H, W, 3)); see docs/evaluation.md.

PSNR rewards cautious, grayish output and colourfulness rewards bold output, so reports show both.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import color

AB_THRESHOLDS = np.arange(0, 151)  # Zhang et al.'s CMF thresholds (Lab ab units)
AB_ERROR_BINS = np.linspace(0, 150, 301)  # pooled per-pixel ab error histogram
ALPHA_BETA_BINS = np.linspace(0, 2, 401)  # pooled per-pixel alpha-beta error histogram
PSNR_CAP = 100.0  # identical images: PSNR is infinite per image, counted as this in means


def _float(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32) / 255).permute(2, 0, 1)


def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    """PSNR in dB of 8-bit RGB, peak 255, over all pixels and channels; inf if identical."""
    mse = np.mean((pred.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def alpha_beta_error(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean distance in Deshpande's alpha-beta space (H, W)."""
    d = color.alpha_beta(_float(pred)) - color.alpha_beta(_float(ref))
    return torch.linalg.vector_norm(d, dim=0).numpy()


def ab_error(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean distance of CIE Lab (a, b) (H, W)."""
    d = color.rgb_to_lab(_float(pred))[1:] - color.rgb_to_lab(_float(ref))[1:]
    return torch.linalg.vector_norm(d, dim=0).numpy()


def rmse(errors: np.ndarray) -> float:
    """Root mean square of per-pixel error magnitudes."""
    return float(np.sqrt(np.mean(np.square(errors, dtype=np.float64))))


def auc_cmf(ab_err: np.ndarray) -> float:
    """Area under the cumulative mass function of per-pixel ab error, thresholds 0..150, in [0, 1]."""
    sorted_err = np.sort(ab_err.ravel())
    cmf = np.searchsorted(sorted_err, AB_THRESHOLDS, side="right") / sorted_err.size
    return float(cmf.mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M on the 0-255 scale; 0 for a gray image."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def delta_e2000(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (scikit-image's implementation)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    return float(deltaE_ciede2000(rgb2lab(ref), rgb2lab(pred)).mean())


def gray(rgb: np.ndarray, kind: str = "mean") -> np.ndarray:
    """Lightness in [0, 1]: the paper's (R+G+B)/3 or Rec. 601 luma (``kind="luma"``)."""
    f = rgb.astype(np.float32) / 255
    if kind == "luma":
        return f @ np.array([0.299, 0.587, 0.114], np.float32)
    return f.mean(axis=2)


ALL = ("psnr", "rmse_alpha_beta", "auc_cmf", "colourfulness", "colourfulness_ref", "delta_e2000")
QUICK = ("psnr", "colourfulness", "colourfulness_ref")  # cheap enough to score during training


def score(pred: np.ndarray, ref: np.ndarray, names=ALL) -> dict[str, float]:
    """Per-image metrics of ``pred`` against ``ref`` (both uint8 RGB): ``names``, all by default."""
    fns = {
        "psnr": lambda: psnr(pred, ref),
        "rmse_alpha_beta": lambda: rmse(alpha_beta_error(pred, ref)),
        "auc_cmf": lambda: auc_cmf(ab_error(pred, ref)),
        "colourfulness": lambda: colourfulness(pred),
        "colourfulness_ref": lambda: colourfulness(ref),
        "delta_e2000": lambda: delta_e2000(pred, ref),
    }
    return {k: fns[k]() for k in names}
