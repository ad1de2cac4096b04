"""autocolor: automatic colorization of grayscale photographs.

A PyTorch successor of Larsson, Maire & Shakhnarovich, "Learning Representations for Automatic
Colorization" (ECCV 2016): an ImageNet network adapted to gray input, a hypercolumn at every pixel,
per-pixel hue/chroma histograms, and the photo's own lightness kept at full resolution.

>>> from autocolor import Colorizer
>>> Colorizer.from_pretrained().colorize(pil_image)
"""

__version__ = "0.1.0"

from .evidence.hints import Hint, HintError, Spread  # noqa: E402
from .pipeline import Colorizer, ModelNotAvailable, Prediction  # noqa: E402

__all__ = ["Colorizer", "Hint", "HintError", "ModelNotAvailable", "Prediction", "Spread", "__version__"]
