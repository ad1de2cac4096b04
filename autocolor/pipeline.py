"""``Colorizer``: one inference pipeline, image in and image out, for the command, the API and the demo.

1. The photo's lightness L = (R+G+B)/3 is resized (never up) so its shorter side is ``size / 2``
   and its longer side at most ``size - 12`` (the original tool's geometry for ``--size``), and
   reflect-padded to a multiple of 32.
2. The network predicts hue and chroma histograms on the stride-4 grid; they are decoded there.
3. Colour, as its offset from gray C (pattern(h) - mean) in two opponent coordinates (linear in
   RGB), is brought to full resolution by a guided filter whose guide is the full-resolution
   lightness, so colour edges follow the photo's own edges instead of the blocky or blurred grid.
4. Each output pixel gets the photo's own lightness exactly: RGB = L + offset, the offset
   shortened where it would leave the RGB cube.
   The full-resolution work runs in small chunks of rows, so memory stays bounded for huge photos
   and each chunk's intermediate planes stay in the processor's cache.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import color, engines, evidence, histograms, hypercolumn, imagefile
from . import model as model_lib
from .bundled import BUNDLED, DEFAULT_BACKBONE, WEIGHTS_DIR, colorizer_weights  # noqa: F401  (re-exported)
from .evidence import hints as hint_lib
from .evidence import reference as reference_lib
from .histograms import DecodeParam
from .prediction import FEATURE_DIMS, Prediction, processing_size, project_features  # noqa: F401  (re-exported)

CHUNK_PIXELS = 1 << 16  # full-resolution pixels coloured at a time (their planes stay in cache)
# With ``mirror``, the network also looks at the photo mirrored left to right and the two answers are
# averaged: +0.07 dB of colour on the aged validation photos for half again the time of a 1 MP photo.
# Off by default. (The restorer looks twice by default: ``restore.MIRROR``.)
MIRROR = False


def _restorer(restore, device: torch.device, engine: str = "torch"):
    """A ``restore.Restorer`` from the ``restore`` argument of ``Colorizer``."""
    if restore is None or restore is False:
        return None
    from . import restore as restore_lib

    if isinstance(restore, restore_lib.Restorer):
        return restore
    parts = "all" if restore is True else restore
    return restore_lib.Restorer.from_pretrained(parts, device=device, engine=engine)


def _view(view: str, device: torch.device, restoring: bool = False, engine: str = "torch"):
    """What the network is shown (``restore.view``) for the ``view`` argument of ``Colorizer``; None
    when it is plain, or when the photo is restored first (``restoring``: the view would go unused)."""
    from .restore import view as view_lib

    return view_lib.from_mode(view, device, unused=restoring, engine=engine)


class ModelNotAvailable(FileNotFoundError):
    """No bundled model ships with this installation."""


bundled_weights = colorizer_weights


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("--device mps: Apple MPS is not available")
    return torch.device(name)


def box(x: Tensor, r: int) -> Tensor:
    """Mean over a (2r+1)^2 window, shrinking at the border."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def guided_coefficients(guide: Tensor, src: Tensor, radius: int, eps: float) -> Tensor:
    """Fast guided filter (He & Sun 2015) on the low-resolution grid: per-cell (a, b) such that
    a * guide + b follows ``src`` locally; returns (B, 2C, h, w) as [a..., b...]."""
    mi, mp = box(guide, radius), box(src, radius)
    cov = box(guide * src, radius) - mi * mp
    var = box(guide * guide, radius) - mi * mi
    a = cov / (var + eps)
    b = mp - a * mi
    return torch.cat([box(a, radius), box(b, radius)], dim=1)


class Colorizer:
    """Colorize photos with a hypercolumn model.

    >>> from autocolor import Colorizer
    >>> colorizer = Colorizer.from_pretrained()
    >>> rgb = colorizer.colorize(pil_image)   # PIL in -> PIL out; arrays -> float RGB arrays

    ``size``: the original tool's ``--size`` (multiple of 32; shorter side size/2, longer side at
    most size - 12, never upscaled). ``param``: ``"chroma:hue"`` decoding; ``boost``: chroma
    multiplier of the network's own colours; ``fade``: chromatic fading's ramp (lo, hi) on the hue
    resultant length (defaults calibrated on validation, see ``histograms.FADE``); ``temperature``:
    annealed-mean temperature; ``guided``: edge-aware colour upsampling (False: plain bilinear);
    ``seed``: for the sampling decoders. ``restore``: a ``restore.Restorer`` (or ``"all"``, or parts
    such as ``"defects,grain"`` for the bundled one) that cleans an old photo's lightness first; the
    output then keeps the restored lightness (None: the photo's own, exactly). ``view``: what the
    network is shown of a photo that is not restored: ``"restored"`` (the restorer's levels at twice
    the processing size, ``restore.view``: colours that survive fading and grain) or ``"plain"``; the
    output keeps the photo's own lightness either way. ``engine``: where the network, its view and the
    restorer run: ``"torch"``, ``"onnx"`` (ONNX Runtime, extra ``[onnx]``) or ``"openvino"`` (OpenVINO,
    extra ``[openvino]``): CPU only, faster on batches of photos of one size. ``mirror``: the network
    also looks at the photo mirrored left to right and the histograms are averaged (twice its time).
    """

    def __init__(
        self,
        net: model_lib.HypercolumnColorizer,
        size: int = 512,
        param: str | None = None,
        boost: float = histograms.BOOST,
        temperature: float = 1.0,
        fade: tuple[float, float] = histograms.FADE,
        device: str = "auto",
        guided: bool = True,
        guide_radius: int = 2,
        guide_eps: float = 1e-3,
        seed: int = 0,
        spread: hint_lib.Spread = hint_lib.DEFAULT_SPREAD,
        match: reference_lib.Match = reference_lib.DEFAULT_MATCH,
        restore=None,
        view: str = "restored",
        engine: str = "torch",
        mirror: bool = MIRROR,
    ):
        if size < 64 or size % 32:
            raise ValueError(f"size must be a multiple of 32 and at least 64, got {size}")
        self.device = pick_device(device)
        self.net = net.eval().to(self.device)
        self.size = size
        self.decode_param = DecodeParam.parse(param, temperature, boost, fade)
        self.guided, self.guide_radius, self.guide_eps, self.seed = guided, guide_radius, guide_eps, seed
        self.spread, self.match = spread, match
        self.engine, self.mirror = engine, mirror
        self._dense = engines.dense(self.net, engine, self.device)
        self.restorer = _restorer(restore, self.device, engine)
        self.view_mode = view
        self.view = _view(view, self.device, restoring=self.restorer is not None, engine=engine)

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> Colorizer:
        """A colorizer from a checkpoint file (its config travels inside it)."""
        return cls(model_lib.load(path), **kwargs)

    @classmethod
    def from_pretrained(cls, backbone: str = DEFAULT_BACKBONE, **kwargs) -> Colorizer:
        """The bundled model for ``backbone`` (``autocolor/weights``), verified against its SHA-256."""
        path = bundled_weights(backbone)
        if not path.exists():
            raise ModelNotAvailable(
                f"no bundled {backbone} model ships with this version of autocolor; pass "
                "--weights FILE (a checkpoint from `autocolor train`)"
            )
        return cls(model_lib.load(path, require_checksum=True), **kwargs)

    # ------------------------------------------------------------ stages
    def network_input(
        self, light: np.ndarray, size: int | None = None, shape: tuple[int, int] | None = None
    ) -> tuple[Tensor, tuple[float, float]]:
        """What the network is given for lightness ``light`` (H, W): resized to the processing size and
        padded to the network's multiple, (1, 1, H', W'), and the full-res -> processed scale.
        ``shape``: the photo's (H, W) when ``light`` is a reduced view of it."""
        h, w = shape or light.shape
        ph, pw = processing_size(h, w, size or self.size)
        x = torch.from_numpy(light)[None, None]
        if (ph, pw) != light.shape:
            x = F.interpolate(x, size=(ph, pw), mode="bilinear", antialias=True, align_corners=False)
        m = self.net.size_multiple
        pad_h, pad_w = (-ph) % m, (-pw) % m
        if pad_h or pad_w:
            mode = "reflect" if pad_h < ph and pad_w < pw else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        return x.clamp(0, 1), (ph / h, pw / w)

    @torch.inference_mode()
    def predict(self, image, size: int | None = None, features: bool = False) -> Prediction:
        """Per-pixel colour histograms of ``image`` (PIL image, array or ``imagefile.Photo``);
        ``size`` overrides the colorizer's processing size for this call; ``features`` keeps what the
        network sees at each cell, for steering by hints (better) and references (needed)."""
        if size is not None and (size < 64 or size % 32):
            raise ValueError(f"size must be a multiple of 32 and at least 64, got {size}")
        photo = imagefile.to_photo(image)
        own, seen = self.seen(photo.light, size)
        x, scale = self.network_input(seen, size, photo.light.shape)
        probs, hidden = self._histograms(x.to(self.device))
        g = self.net.config.grid_stride
        # the projection costs as many multiply-adds as the output layer: only when asked for
        kept = project_features(hidden).cpu() if features else None
        # the grid's lightness guides the colour to the photo's own lightness, so it is the photo's
        guide = x if own is seen else self.network_input(own, size, photo.light.shape)[0]
        return Prediction(probs, F.avg_pool2d(guide, g)[:, 0], scale, photo.light.shape, g, kept)

    def _histograms(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """The network's histograms (on the CPU) and hidden layer for input ``x``. With ``mirror`` the
        histograms are the means of its answers for ``x`` and for ``x`` mirrored left to right (the
        grid is a multiple of the stride wide, so the mirrored answers fall back on the same cells);
        the hidden layer, which hints and references match on, stays that of ``x`` itself (the mean
        blurs what tells cells apart: a reference photo colours a film less well with it)."""
        logits, hidden = self._dense(x)
        probs = histograms.activate(logits)
        if self.mirror:
            mirrored = histograms.activate(self._dense(torch.flip(x, [-1]))[0])
            probs = {n: (p + torch.flip(mirrored[n], [-1])) / 2 for n, p in probs.items()}
        return {n: p.cpu() for n, p in probs.items()}, hidden

    def seen(self, light: np.ndarray, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(the photo, what the network is shown of it): ``light`` reduced to the view's size and its
        view (``view``), or ``light`` twice when the view is plain or the photo was restored already."""
        if self.view is None or self.restorer is not None:
            return light, light
        small = self.view.reduce(light, processing_size(*light.shape, size or self.size))
        return small, self.view.restore(small)

    def _offset_grid(self, pred: Prediction, param: DecodeParam) -> Tensor:
        """Decoded colour on the grid as its offset from gray (1, 2, h, w), see ``color.color_offset``."""
        gen = torch.Generator().manual_seed(self.seed)
        hue, chroma = histograms.decode(pred.probs, param, pred.light, gen, pred.steered)
        return color.color_offset(hue, chroma)

    @torch.inference_mode()
    def render(
        self,
        pred: Prediction,
        light: np.ndarray,
        param: DecodeParam | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Decode ``pred`` and bring its colour to ``light`` (H, W): float RGB (H, W, 3) whose channel
        mean equals ``light``. ``light`` is the photo's lightness at full resolution or at any other
        size (a preview); ``param`` overrides the colorizer's decoding. The network does not run.
        ``out``: an (H, W, 3) float32 array to fill, or uint8 to get rounded 8-bit colour directly."""
        coef = self._coefficients(pred, param)
        h, w = light.shape
        g = pred.grid_stride
        # light's pixel (y, x) sits at grid coordinate ((y, x) + 0.5) * scale / g - 0.5: linear along
        # the width once for all grid rows, then each run of output rows between the same two grid
        # rows is blended from those two rows, a cache-sized chunk at a time.
        sy = pred.scale[0] * pred.image_size[0] / h
        sx = pred.scale[1] * pred.image_size[1] / w
        rows = hypercolumn.linear_read(coef, (torch.arange(w) + 0.5) * sx / g - 0.5, dim=2)  # (6, hg, w)
        u = ((torch.arange(h) + 0.5) * sy / g - 0.5).clamp(0, rows.shape[1] - 1)
        upper = u.floor().long().clamp(max=max(rows.shape[1] - 2, 0))
        out = np.empty((h, w, 3), np.float32) if out is None else out
        chunk = max(1, CHUNK_PIXELS // w)
        y0 = 0
        for k, count in zip(
            *(t.tolist() for t in torch.unique_consecutive(upper, return_counts=True)), strict=True
        ):
            a, b = rows[:, k, None], rows[:, min(k + 1, rows.shape[1] - 1), None]
            for y in range(y0, y0 + count, chunk):
                y1 = min(y0 + count, y + chunk)
                c = torch.lerp(a, b, (u[y:y1] - k).view(1, -1, 1))  # (6, rows, w)
                self._light_up(c, light[y:y1], out[y:y1])
            y0 += count
        return out

    @staticmethod
    def _light_up(c: Tensor, light: np.ndarray, out: np.ndarray) -> None:
        """Colour rows of ``light`` with offset a * L + b (``c``: a, b in RGB) into ``out``."""
        lt = torch.from_numpy(light)
        rgb = color.fit_in_cube(lt, torch.addcmul(c[3:], c[:3], lt))
        if out.dtype == np.uint8:
            rgb = rgb.mul_(255).round_()
        torch.from_numpy(out).copy_(rgb.permute(1, 2, 0))

    def _coefficients(self, pred: Prediction, param: DecodeParam | None) -> Tensor:
        """(6, h, w) on the grid: the colour's RGB offset from gray is a * L + b locally (a: 0-2, b: 3-5);
        guided by the grid's lightness, or constant (a = 0) for plain bilinear upsampling."""
        off = self._offset_grid(pred, param or self.decode_param)
        if self.guided:
            coef = guided_coefficients(pred.light[:, None], off, self.guide_radius, self.guide_eps)
        else:
            coef = torch.cat([torch.zeros_like(off), off], dim=1)
        return torch.cat([color.opponent_to_rgb(coef[:, :2]), color.opponent_to_rgb(coef[:, 2:])], 1)[0]

    def reference(self, image) -> reference_lib.Reference:
        """A colour photo (PIL image, RGB array, or file path) prepared as a reference: the network
        runs on it once; the result can steer any number of predictions."""
        return reference_lib.prepare(self, imagefile.to_rgb(image))

    def steer(
        self,
        pred: Prediction,
        hints: Sequence[hint_lib.Hint] = (),
        references: Sequence[reference_lib.Reference] = (),
    ) -> Prediction:
        """``pred`` with colour hints and references (from ``reference``) fused into its histograms.
        The network does not run, so a cached prediction can be re-steered at every edit."""
        hint_lib.check(hints, pred.image_size)
        found = [
            hint_lib.evidence(pred, hints, self.net.config.head, self.spread),
            reference_lib.evidence(pred, list(references), self.match),
        ]
        return evidence.fuse(pred, [e for e in found if e is not None])

    def colorize_light(self, light: np.ndarray) -> np.ndarray:
        """Float RGB (H, W, 3) for lightness ``light`` (H, W); output channel mean equals ``light``."""
        return self.render(self.predict(imagefile.Photo(light)), light)

    def colorize_photo(
        self,
        photo: imagefile.Photo,
        dtype=np.float32,
        hints: Sequence[hint_lib.Hint] = (),
        references: Sequence[reference_lib.Reference] = (),
    ) -> np.ndarray:
        """RGB (H, W, 3) for a decoded ``imagefile.Photo``: float32 in [0, 1], or rounded uint8."""
        hint_lib.check(hints, photo.light.shape)  # before the network runs
        photo = self.restored(photo)
        out = np.empty((*photo.light.shape, 3), dtype)
        pred = self.predict(photo, features=bool(hints or references))
        return self.render(self.steer(pred, hints, references), photo.light, out=out)

    def with_restorer(self, restore) -> Colorizer:
        """This colorizer, its network shared, restoring with ``restore`` (as in ``Colorizer``; None:
        not at all)."""
        other = copy.copy(self)
        other.restorer = _restorer(restore, self.device, self.engine)
        if other.view is None and other.restorer is None:  # no longer restoring: the view is used again
            other.view = _view(self.view_mode, self.device, engine=self.engine)
        return other

    def with_view(self, view: str) -> Colorizer:
        """This colorizer, its network shared, showing the network ``view`` (as in ``Colorizer``)."""
        other = copy.copy(self)
        restoring = self.restorer is not None
        other.view_mode, other.view = view, _view(view, self.device, restoring, self.engine)
        return other

    def with_mirror(self, mirror: bool) -> Colorizer:
        """This colorizer, its network shared, with ``mirror`` set (as in ``Colorizer``)."""
        other = copy.copy(self)
        other.mirror = mirror
        return other

    def restored(self, photo: imagefile.Photo) -> imagefile.Photo:
        """``photo`` with its lightness restored by ``restore`` (itself when there is no restorer)."""
        if self.restorer is None:
            return photo
        return replace(photo, light=self.restorer(photo.light).light)

    def colorize(self, image, hints: Sequence[hint_lib.Hint] = (), references: Sequence = ()):
        """Colorize a PIL image (returns a PIL image, alpha kept) or an array.

        Arrays may be uint8, uint16 or float in [0, 1], shaped (H, W), (H, W, 3) or (H, W, 4);
        the result is float32 RGB (H, W, 3) in [0, 1], or RGBA when the input had alpha.
        Colour input is colorized from its own lightness. ``hints``: colours the result should have
        at given points (``autocolor.Hint``), spread to the regions they fall in. ``references``:
        colour photos (images, arrays, paths, or ``reference`` results) whose colours are taken where
        their content matches.
        """
        photo = imagefile.to_photo(image)
        pil = isinstance(image, Image.Image)
        hint_lib.check(hints, photo.light.shape)
        refs = [r if isinstance(r, reference_lib.Reference) else self.reference(r) for r in references]
        rgb = self.colorize_photo(photo, np.uint8 if pil else np.float32, hints, refs)
        if photo.alpha is not None:
            alpha = imagefile.quantize(photo.alpha[..., None], 8) if pil else photo.alpha[..., None]
            rgb = np.concatenate([rgb, alpha], axis=2)
        return Image.fromarray(rgb) if pil else rgb

    def colorize_file(
        self,
        src: str | os.PathLike,
        dst: str | os.PathLike,
        quality: int = 95,
        max_pixels: int = imagefile.DEFAULT_MAX_PIXELS,
        hints: Sequence[hint_lib.Hint] = (),
        references: Sequence[reference_lib.Reference] = (),
    ) -> None:
        """Read ``src``, colorize, and write ``dst`` atomically (alpha, 16 bits, EXIF, ICC kept)."""
        photo = imagefile.read_image(src, max_pixels)
        dtype = np.uint8 if imagefile.output_bits(dst, photo) == 8 else np.float32  # 8 bits: no float copy
        rgb = self.colorize_photo(photo, dtype, hints, references)
        imagefile.write_image(dst, rgb, like=photo, quality=quality)
