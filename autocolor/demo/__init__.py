"""``autocolor serve``: a local web page where a person drops photos in and sees them colorized.

The page (Gradio, the optional extra ``autocolor[demo]``) keeps, per browser session, each photo's
predicted histograms (a ``Prediction``): changing a decoding control re-decodes them without
running the network again, and clicking a pixel plots the hue and chroma histograms behind its
colour. Every photo goes through the same ``Colorizer`` pipeline as the command and the API.

- ``state``: the controls' ``Settings`` and a photo's ``Entry``, plain data;
- ``session``: the logic, plain functions over ``Session``/``Entry`` (tested without a browser);
- ``views``: the colour-uncertainty map and a pixel's histograms;
- ``film``: the video tab's logic (a short clip colorized steadily, sound kept);
- ``page``: the Gradio layout, event handlers and wiring (imports Gradio);
- ``server``: ``serve``, which owns the temporary folder and the server's lifetime.
"""

from .server import remove_folder, serve
from .session import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    Budget,
    Entry,
    Models,
    Session,
    Settings,
    add_hint,
    load_entry,
    preview,
    redecode,
    remove_hints,
    run,
    set_references,
    update_entries,
    write_downloads,
)
from .views import color_spread, doubt_image, histogram_figure, mark_hints, pixel_info


def build(*args, **kwargs):
    """The Gradio page (see ``page.build``); imports Gradio."""
    from .page import build

    return build(*args, **kwargs)


__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD_MB", "Budget", "Entry", "Models", "Session", "Settings",
           "add_hint", "build", "color_spread", "doubt_image", "histogram_figure", "load_entry",
           "mark_hints", "pixel_info", "preview", "redecode", "remove_folder", "remove_hints", "run", "serve",
           "set_references", "update_entries", "write_downloads"]  # fmt: skip
