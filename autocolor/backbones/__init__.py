"""Backbone registry: name -> gray-input ImageNet network returning hypercolumn layers."""

from __future__ import annotations

from collections.abc import Callable

from .base import Backbone, Layer
from .efficientnet import EfficientNetLite
from .vgg import VGG16Gray

BACKBONES: dict[str, Callable[[], Backbone]] = {
    "effnet-lite0": lambda: EfficientNetLite("lite0"),
    "effnet-lite2": lambda: EfficientNetLite("lite2"),
    "vgg16-gray": VGG16Gray,
}


def create(name: str) -> Backbone:
    """A randomly initialised backbone by registry name."""
    try:
        return BACKBONES[name]()
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}") from None


__all__ = ["BACKBONES", "Backbone", "EfficientNetLite", "Layer", "VGG16Gray", "create"]
