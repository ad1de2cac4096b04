"""Photo sets: where they come from (``sources``), fetching them (``download``), files inside other
files (``containers``), and the training crops drawn from photo folders (``crops``)."""

from .crops import CUTOUT_MODES, TrainingCrops, color_prior, degrade, is_cutout, is_grayscale, list_images
from .download import FetchError, fetch
from .sources import SOURCES, SPLITS, Source

__all__ = ["CUTOUT_MODES", "SOURCES", "SPLITS", "FetchError", "Source", "TrainingCrops", "color_prior",
           "degrade", "fetch", "is_cutout", "is_grayscale", "list_images"]  # fmt: skip
