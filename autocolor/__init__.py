"""autocolor: automatic colorization of grayscale photographs.

A PyTorch successor of Larsson, Maire & Shakhnarovich, "Learning Representations for Automatic
Colorization" (ECCV 2016): an ImageNet network adapted to gray input, a hypercolumn at every pixel,
per-pixel hue/chroma histograms, and the photo's own lightness kept at full resolution.

>>> from autocolor import Colorizer
>>> Colorizer.from_pretrained().colorize(pil_image)
"""

__version__ = "0.14.0"

_EXPORTS = {
    "Colorizer": "pipeline",
    "ModelNotAvailable": "pipeline",
    "Prediction": "pipeline",
    "Hint": "evidence.hints",
    "HintError": "evidence.hints",
    "Spread": "evidence.hints",
    "Restorer": "restore",
    "read_image": "imagefile",
    "write_image": "imagefile",
    "ImageError": "imagefile",
}
_RENAMED = {"io": "imagefile"}  # old module names, still importable as attributes
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    """The package's names are imported on first use, so that ``autocolor --help`` needs no torch."""
    import importlib

    if name in _RENAMED:
        import warnings

        warnings.warn(f"autocolor.{name} is now autocolor.{_RENAMED[name]}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(f".{_RENAMED[name]}", __name__)
    if name not in _EXPORTS:
        try:  # a sub-module: autocolor.imagefile, autocolor.backbones, ...
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise  # the sub-module exists but needs what is not installed
            raise AttributeError(f"module 'autocolor' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
