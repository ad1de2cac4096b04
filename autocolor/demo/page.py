"""The Gradio page: its layout, the handlers of its events, and the wiring between them.

Importing this module imports Gradio: ``server.serve`` does so only after setting Gradio's
temporary folder. Gradio passes a click by the handler's annotation (``gr.SelectData``), so this
module has no string annotations.
"""

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .. import imagefile
from ..histograms import BOOST, CHROMA_METHODS
from . import film
from .session import (
    DEFAULT_MAX_PIXELS,
    DEMO_HUE_METHODS,
    SESSION_PHOTOS,
    SESSION_PIXELS,
    SESSION_REFERENCES,
    SIZES,
    Budget,
    Models,
    Session,
    Settings,
    add_hint,
    redecode,
    remove_hints,
    run,
    set_references,
    update_entries,
    write_downloads,
)
from .views import histogram_figure, mark_hints, pixel_info

INTRO = f"""## autocolor
Drop grayscale (or colour) photos; each is colorized from its lightness alone. Click a pixel of the
result to see the hue and chroma histograms the network predicted there: the colour is decoded
from them (Larsson, Maire & Shakhnarovich, *Learning Representations for Automatic Colorization*,
ECCV 2016). Decoding controls re-decode the cached histograms without running the network.
To steer the colours, choose *place a hint*, pick a colour and click the result (the hint spreads over
the region it falls in), or add a colour reference photo of a similar scene. A session keeps up to
{SESSION_PHOTOS} photos ({SESSION_PIXELS / 1e6:.0f} megapixels in all) and {SESSION_REFERENCES} reference
photos, for 6 hours after your last visit, unless the server needs the room for other visitors."""

DOUBT_LABEL = "Colour uncertainty: dark = sure (of a colour or of gray), bright = unsure"
DEFECTS_LABEL = "The restored photo, with the scratches, dust and hairs it found and filled in red"
CSS = "#colorized img, #gray img, #doubt img { cursor: crosshair; } footer { display: none !important; }"


@dataclass
class Layout:
    """The page's components."""

    state: gr.State
    files: gr.File
    status: gr.Markdown
    controls: list  # model, size, chroma, hue, fade, boost, temperature, restore, mirror
    steering: dict  # mode, color, undo, clear, references
    gallery: gr.Gallery
    original: gr.Image
    gray: gr.Image
    colorized: gr.Image
    slider: gr.ImageSlider
    doubt: gr.Image
    defects: gr.Image
    info: gr.Markdown
    plot: gr.Plot
    downloads: gr.File
    film: dict  # the video tab: clip, carry, result, status

    @property
    def shown(self) -> list:
        """What a change of photos or decoding updates, in the order ``Handlers.detail`` returns."""
        return [self.gallery, self.original, self.gray, self.colorized, self.slider, self.doubt,
                self.defects, self.downloads, self.state]  # fmt: skip


def _controls(models: Models) -> list:
    model = gr.Dropdown(models.names, value=models.names[0], label="Model", elem_id="model")
    size = gr.Dropdown(list(SIZES), value=512, label="Processing size (--size)", elem_id="size")
    restore = gr.Checkbox(False, label="Restore an old photo first: faded tones, grain, scratches and "
                          "dust (--restore); see the tab 'Defects found'", elem_id="restore")  # fmt: skip
    mirror = gr.Checkbox(False, label="Also show the network the mirror image: a little more colour, for "
                         "about half again the time (--mirror)", elem_id="mirror")  # fmt: skip
    with gr.Group():
        chroma = gr.Dropdown(list(CHROMA_METHODS), value="median", label="Chroma decoding")
        hue = gr.Dropdown(list(DEMO_HUE_METHODS), value="expectation", label="Hue decoding", elem_id="hue")
        fade = gr.Checkbox(True, label="Chromatic fading (with hue expectation)")
        boost = gr.Slider(0, 3, value=BOOST, step=0.05, label="Saturation boost")
        temperature = gr.Slider(0.1, 2, value=1.0, step=0.05, label="Temperature (annealed mean)")
    return [model, size, chroma, hue, fade, boost, temperature, restore, mirror]


def _steering() -> dict:
    with gr.Group():
        mode = gr.Radio(["inspect", "place a hint"], value="inspect", label="Clicking the result",
                        elem_id="click-mode")  # fmt: skip
        color = gr.ColorPicker("#3060c0", label="Hint colour", elem_id="hint-colour")
        with gr.Row():
            undo = gr.Button("Undo last hint", size="sm", elem_id="undo-hint")
            clear = gr.Button("Clear hints", size="sm", elem_id="clear-hints")
    references = gr.File(file_count="multiple", file_types=["image", *sorted(imagefile.IMAGE_SUFFIXES)],
                         label="Reference photos in colour (optional)", elem_id="reference")  # fmt: skip
    return dict(mode=mode, color=color, undo=undo, clear=clear, references=references)


def _views() -> dict:
    gallery = gr.Gallery(label="Results (click one to inspect it)", columns=8, fit_columns=False, height=150,
                         preview=False, object_fit="contain", visible=False, elem_id="gallery")  # fmt: skip
    image = dict(format="png", interactive=False)
    with gr.Tabs():
        with gr.Tab("Side by side"), gr.Row():
            original = gr.Image(label="Original", **image)
            gray = gr.Image(label="Gray input", elem_id="gray", **image)
            colorized = gr.Image(label="autocolor (click a pixel)", elem_id="colorized", **image)
        with gr.Tab("Before / after"):
            slider = gr.ImageSlider(label="Gray | autocolor", elem_id="slider", **image)
        with gr.Tab("Where it hesitates"):
            doubt = gr.Image(label=DOUBT_LABEL, elem_id="doubt", **image)
        with gr.Tab("Defects found"):
            defects = gr.Image(label=DEFECTS_LABEL, elem_id="defects", **image)
    info = gr.Markdown("Click a pixel of the result to see its histograms.", elem_id="pixel-info")
    plot = gr.Plot(show_label=False, elem_id="histograms", format="png")
    downloads = gr.File(label="Full-resolution results", file_count="multiple", elem_id="downloads")
    return dict(gallery=gallery, original=original, gray=gray, colorized=colorized, slider=slider,
                doubt=doubt, defects=defects, info=info, plot=plot, downloads=downloads)  # fmt: skip


def _film() -> dict:
    if not film.available():
        gr.Markdown("Video needs the video extra: `pip install 'autocolor[video]'`.")
        return {}
    gr.Markdown(f"Drop a short clip: its first {film.MAX_SECONDS:g} s are colorized (frames up to "
                "1280x720), colour carried along the optical flow so that it does not flicker, sound "
                "kept; tick 'Restore' first for an old film. Longer films: `autocolor video`.")  # fmt: skip
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            clip = gr.Video(label="Clip (drop or click)", sources=["upload"], elem_id="clip")
            carry = gr.Slider(0, 0.95, value=0.85, step=0.05, elem_id="carry",
                              label="Carry (0: each frame on its own)")  # fmt: skip
            restore = gr.Checkbox(False, elem_id="clip-restore",
                                  label="Restore an old film first: flicker, grain, dust and scratches, "
                                  "each frame with its neighbours (--restore)")  # fmt: skip
            status = gr.Markdown(elem_id="clip-status")
        with gr.Column(scale=2):
            result = gr.Video(label="autocolor", interactive=False, elem_id="clip-result")
    return dict(clip=clip, carry=carry, restore=restore, result=result, status=status)


def layout(models: Models) -> Layout:
    """The components, laid out (inside a ``gr.Blocks`` context)."""
    state = gr.State(Session(), time_to_live=6 * 3600, delete_callback=Session.close)
    gr.Markdown(INTRO)
    with gr.Tabs():
        with gr.Tab("Photos"), gr.Row():
            with gr.Column(scale=1, min_width=280):
                kinds = ["image", *sorted(imagefile.IMAGE_SUFFIXES)]
                files = gr.File(file_count="multiple", file_types=kinds, label="Photos (drop or click)",
                                elem_id="upload")  # fmt: skip
                status = gr.Markdown(elem_id="status")
                steering = _steering()
                controls = _controls(models)
            with gr.Column(scale=3):
                views = _views()
        with gr.Tab("Video"):
            clips = _film()
    return Layout(state=state, files=files, status=status, controls=controls, steering=steering, film=clips,
                  **views)  # fmt: skip


def settings_of(model, size, chroma, hue, fade, boost, temperature, restore, mirror) -> Settings:
    numbers = dict(size=int(size), boost=float(boost), temperature=float(temperature))
    switches = dict(fade=bool(fade), restore=bool(restore), mirror=bool(mirror))
    return Settings(model, chroma=chroma, hue=hue, **numbers, **switches)


class Handlers:
    """What each event does. Each change shows the previews at once; ``on_downloads`` then writes
    the full-resolution files. Unchanged images are skipped, not sent again: Gradio rewrites an
    image's cache file in place each time it is sent, under a reader's feet."""

    def __init__(self, models: Models, root: Path, max_pixels: int, stop=None, budget: Budget | None = None):
        self.models, self.root, self.max_pixels, self.stop = models, root, max_pixels, stop
        self.budget = budget or Budget()

    @staticmethod
    def files_of(session: Session) -> list[str] | None:
        ready = session.entries and all(x.download is not None for x in session.entries)
        return [str(x.download) for x in session.entries] if ready else None

    def detail(self, session: Session, photo_changed: bool = True):
        """The gallery, the selected photo's views and the downloads; the original, gray and
        uncertainty views only when ``photo_changed`` (a decoding change leaves them as they are)."""
        e = session.current()
        shots = [(x.colorized, x.name) for x in session.entries if x.colorized is not None]
        gallery = gr.Gallery(shots, visible=len(shots) > 1)  # a choice only with several photos
        if e is None or e.colorized is None:
            return gallery, None, None, None, None, None, None, self.files_of(session), session
        fixed = (e.original, e.gray, e.doubt, e.defects) if photo_changed else (gr.skip(),) * 4
        pair = (e.gray, e.colorized)
        marked = mark_hints(e.colorized, e)
        return gallery, fixed[0], fixed[1], marked, pair, fixed[2], fixed[3], self.files_of(session), session

    def status_of(self, session: Session, errors: list[str]) -> str:
        lines = [f"**{len(session.entries)}** photo(s) colorized."] if session.entries else []
        if session.released:
            session.released = False
            room = f"{self.budget.limit / 2**30:.1f} GB"
            lines.append(f"Your photos were let go to make room for other visitors (the page keeps {room} "
                         "of photos for everyone); please add them again.")  # fmt: skip
        return "\n\n".join(lines + [f"⚠ {err}" for err in errors])

    def refresh(self, session: Session, settings: Settings, errors: list[str], network: bool):
        if session.entries:
            (run if network else redecode)(session, self.models, settings)
        self.budget.admit(session)
        return (*self.detail(session, photo_changed=network), self.status_of(session, errors))

    def read_uploads(self, read, session: Session, files) -> list[str]:
        """Hand the uploaded ``files`` to ``read`` (``update_entries``, ``set_references``); warn of
        each that fails and return the errors."""
        paths = [f if isinstance(f, str) else f.name for f in files or []]
        errors = read(session, paths, self.max_pixels)
        for err in errors:
            gr.Warning(err)
        return errors

    def on_files(self, files, *args):
        *controls, session = args
        errors = self.read_uploads(update_entries, session, files)
        return self.refresh(session, settings_of(*controls), errors, network=True)

    def on_run(self, *args):
        *controls, session = args
        return self.refresh(session, settings_of(*controls), [], network=True)

    def on_decode(self, *args):
        *controls, session = args
        return self.refresh(session, settings_of(*controls), [], network=False)

    def on_references(self, files, *args):
        *controls, session = args
        errors = self.read_uploads(set_references, session, files)
        return self.refresh(session, settings_of(*controls), errors, network=False)

    def on_undo(self, *args, every: bool = False):
        *controls, session = args
        remove_hints(session, every)
        return self.refresh(session, settings_of(*controls), [], network=False)

    def on_clear(self, *args):
        return self.on_undo(*args, every=True)

    # Spelt out (no *args): Gradio finds the click by the annotation of ``evt``.
    def on_hint(
        self, mode, color, model, size, chroma, hue, fade, boost, temperature, restore, mirror,
        session: Session, evt: gr.SelectData,
    ):  # fmt: skip
        if mode != "place a hint" or session.current() is None:
            return (gr.skip(),) * 10  # the views, the downloads, the state and the status: unchanged
        x, y = evt.index
        add_hint(session, x, y, color)
        settings = settings_of(model, size, chroma, hue, fade, boost, temperature, restore, mirror)
        return self.refresh(session, settings, [], network=False)

    def on_downloads(self, *args):
        *controls, session = args
        if session.entries and self.files_of(session) is None:  # only what changed is written again
            write_downloads(session, self.models, settings_of(*controls), self.root)
        return self.files_of(session), session

    def on_clip(self, clip, carry, restore, model):
        """Colorize an uploaded clip (its start), restored first if asked; the result and a status line."""
        if not clip:
            return None, ""
        try:
            colorizer = self.models.get(model).with_restorer(self.models.restorer() if restore else None)
            out, status = film.colorize_clip(colorizer, clip, self.root / "video", float(carry), self.stop)
        except (film.VideoError, OSError) as err:
            return None, f"⚠ {err}"
        return str(out), status

    def on_select(self, session: Session, evt: gr.SelectData):
        session.selected = int(evt.index)
        return self.detail(session)[1:]  # not the gallery itself

    # Spelt out (no *args): Gradio finds the click by the annotation of ``evt``.
    def on_pixel(
        self, mode, model, size, chroma, hue, fade, boost, temperature, restore, mirror,
        session: Session, evt: gr.SelectData,
    ):  # fmt: skip
        e = session.current()
        if mode == "place a hint":
            return gr.skip(), gr.skip()
        if e is None or e.pred is None:
            return None, ""
        x, y = evt.index
        settings = settings_of(model, size, chroma, hue, fade, boost, temperature, restore, mirror)
        info = pixel_info(e, x, y, settings)
        return histogram_figure(info), info.text


def wire(ui: Layout, on: Handlers) -> None:
    """Connect events to handlers; the network runs one request at a time (a shared concurrency id)."""
    inputs = [*ui.controls, ui.state]
    heavy = {"concurrency_id": "network", "concurrency_limit": 1}

    def previews_then_files(event, handler, event_inputs):
        event(handler, event_inputs, [*ui.shown, ui.status], **heavy).then(
            on.on_downloads, inputs, [ui.downloads, ui.state], **heavy
        )

    model, size, chroma, hue, fade, boost, temperature, restore, mirror = ui.controls
    for event in (ui.files.upload, ui.files.clear):
        previews_then_files(event, on.on_files, [ui.files, *inputs])
    for event in (model.change, size.change, restore.change, mirror.change):
        previews_then_files(event, on.on_run, inputs)
    for event in (chroma.change, hue.change, fade.change, boost.release, temperature.release):
        previews_then_files(event, on.on_decode, inputs)
    hue.change(lambda h: gr.Checkbox(interactive=h == "expectation"), hue, fade)
    ui.gallery.select(on.on_select, ui.state, ui.shown[1:])
    steer = ui.steering
    for event in (steer["references"].upload, steer["references"].clear):
        previews_then_files(event, on.on_references, [steer["references"], *inputs])
    previews_then_files(steer["undo"].click, on.on_undo, inputs)
    previews_then_files(steer["clear"].click, on.on_clear, inputs)
    for img in (ui.colorized, ui.gray, ui.doubt):
        img.select(on.on_pixel, [steer["mode"], *inputs], [ui.plot, ui.info])
    for img in (ui.colorized, ui.gray):
        previews_then_files(img.select, on.on_hint, [steer["mode"], steer["color"], *inputs])
    if ui.film:
        clip = ui.film["clip"]
        clip.upload(on.on_clip, [clip, ui.film["carry"], ui.film["restore"], model],
                    [ui.film["result"], ui.film["status"]], **heavy)  # fmt: skip


def build(models: Models, root: Path, max_pixels: int = DEFAULT_MAX_PIXELS, stop=None,
          budget: Budget | None = None) -> gr.Blocks:  # fmt: skip
    """The Gradio ``Blocks`` page; ``root`` is the folder for results (per-session subfolders);
    ``stop``: a ``threading.Event`` set when the server shuts down (long work ends early); ``budget``:
    the memory all sessions share (default ``SERVER_BYTES``)."""
    with gr.Blocks(title="autocolor", analytics_enabled=False, delete_cache=(900, 3600)) as page:
        wire(layout(models), Handlers(models, root, max_pixels, stop, budget))
    return page
