"""How a predicted histogram is decoded: the methods, their defaults and ``DecodeParam``.

Torch-free, so that the command line can list and check them before the network is loaded; the
decoding itself is in ``histograms``.
"""

from __future__ import annotations

from dataclasses import dataclass

FADE_ETA = 0.03  # chromatic fading threshold on |mean_k p_k e^{i theta_k}| (released convention)
TOOL_FADE = (0.0, 32 * FADE_ETA)  # the same as a ramp on the resultant length R: 0 at R = 0, 1 from 0.96
# The defaults, calibrated on the validation photos for model 0.4 (docs/training.md, "Decoding"): the
# most PSNR whose colourfulness stays at 55 % of the originals' with a 0.02 margin. Unsure
# pixels (hue guesses that cancel, R < FADE[0]) go gray; the network's sure colours are boosted.
FADE = (0.2, 32 * FADE_ETA)
BOOST = 1.2
BOOST_RANGE = (0.0, 10.0)  # beyond 10 every colour is pinned to the RGB cube's edge
TEMPERATURE_RANGE = (0.01, 100.0)  # beyond these the histograms are one-hot or flat in float32

CHROMA_METHODS = ("median", "median-interp", "expectation", "mode", "q75", "pixelwise", "once")
HUE_METHODS = ("expectation-cf", "expectation", "mode", "median", "pixelwise", "once")
DEFAULT_PARAM = "median:expectation-cf"


@dataclass(frozen=True)
class DecodeParam:
    """A parsed ``"chroma:hue"`` decoding choice plus the two extensions."""

    chroma: str = "median"
    hue: str = "expectation-cf"
    temperature: float = 1.0  # annealed mean: p ** (1/T), renormalised (1 = off)
    boost: float = BOOST  # saturation boost: the network's chroma multiplier (not steered cells')
    fade: tuple[float, float] = FADE  # chromatic fading's ramp on the hue resultant length R

    @classmethod
    def parse(
        cls, param: str | None = None, temperature: float = 1.0, boost: float = BOOST, fade=FADE
    ) -> DecodeParam:
        """Parse ``"chroma:hue"`` (either part may be empty for its default); ``fade`` = (lo, hi):
        ``expectation-cf`` scales chroma by 0 where R <= lo, rising linearly to 1 at R >= hi."""
        chroma, _, hue = (param or DEFAULT_PARAM).partition(":")
        chroma, hue = chroma or cls.chroma, hue or cls.hue
        if chroma not in CHROMA_METHODS:
            raise ValueError(f"unknown chroma method {chroma!r}; choose from {CHROMA_METHODS}")
        if hue not in HUE_METHODS:
            raise ValueError(f"unknown hue method {hue!r}; choose from {HUE_METHODS}")
        if not TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1]:
            raise ValueError(
                "temperature must be between {:g} and {:g}, got {}".format(*TEMPERATURE_RANGE, temperature)
            )
        if not BOOST_RANGE[0] <= boost <= BOOST_RANGE[1]:
            raise ValueError("boost must be between {:g} and {:g}, got {}".format(*BOOST_RANGE, boost))
        lo, hi = (float(v) for v in fade)
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"the fading ramp needs 0 <= lo < hi <= 1, got {lo}, {hi}")
        return cls(chroma, hue, float(temperature), float(boost), (lo, hi))

    def __str__(self) -> str:
        return f"{self.chroma}:{self.hue}"
