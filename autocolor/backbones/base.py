"""What every backbone offers the hypercolumn: a list of feature maps and their geometry."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class Layer:
    """One hypercolumn layer: its channels and where its cells sit on the input.

    Cell ``i`` of a layer with ``stride`` s is centred at input coordinate s * i + s / 2 + offset
    (continuous coordinates, pixel ``j`` covering [j, j + 1)). ``offset`` is 0 for symmetric
    padding and non-zero for TensorFlow "SAME" padding, which shifts cells towards the end.
    """

    name: str
    channels: int
    stride: int
    offset: float = 0.0


class Backbone(nn.Module):
    """A gray-input ImageNet network that returns every hypercolumn layer, input first.

    ``forward`` takes lightness L in [0, 1], shape (B, 1, H, W) with H and W multiples of
    ``size_multiple``; any input normalisation is folded into the first layer's weights.
    """

    layers: tuple[Layer, ...]
    size_multiple: int = 32

    def forward(self, gray: Tensor) -> list[Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def early(self, n: int) -> list[nn.Module]:  # pragma: no cover - interface
        """The modules that compute hypercolumn layers 1..n (0 is the input), to freeze them."""
        raise NotImplementedError

    def load_imagenet(self, path: str | None = None) -> None:  # pragma: no cover - interface
        """Initialise from ImageNet classifier weights, adapted to gray input."""
        raise NotImplementedError
