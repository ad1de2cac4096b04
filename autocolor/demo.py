"""``autocolor serve``: a local web page where a person drops photos in and sees them colorized.

The page (Gradio, the optional extra ``autocolor[demo]``) keeps, per browser session, each photo's
predicted histograms (a ``Prediction``): changing a decoding control re-decodes them without
running the network again, and clicking a pixel plots the hue and chroma histograms behind its
colour. Every photo goes through the same ``Colorizer`` pipeline as the command and the API.

The logic lives in plain functions over ``Session``/``Entry`` (tested without a browser); ``build``
only wires them to components, and ``serve`` owns the temporary folder and the server's lifetime.
"""

import functools
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from . import io
from .backbones import BACKBONES
from .histograms import (
    CHROMA_METHODS,
    HUE_METHODS,
    DecodeParam,
    bin_centres,
    decode,
    gaussian_centres,
    hue_resultant,
)
from .pipeline import Colorizer, Prediction, bundled_weights

PREVIEW_SIDE = 1280  # longest side of the images sent to the page (downloads are full resolution)
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_UPLOAD_MB = 50
SIZES = (256, 352, 512, 768, 1024)
# The page offers fading as its own switch; "expectation-cf" is expectation plus fading.
DEMO_HUE_METHODS = tuple(h for h in HUE_METHODS if h != "expectation-cf")


# ---------------------------------------------------------------- logic (no Gradio)
@dataclass(frozen=True)
class Settings:
    """The page's controls."""

    model: str
    size: int = 512
    chroma: str = "median"
    hue: str = "expectation"
    fade: bool = True
    boost: float = 1.0
    temperature: float = 1.0

    def param(self) -> DecodeParam:
        """The decoding these controls choose (fading applies to the hue expectation)."""
        hue = "expectation-cf" if self.fade and self.hue == "expectation" else self.hue
        return DecodeParam.parse(f"{self.chroma}:{hue}", self.temperature, self.boost)


class Models:
    """The colorizers a page offers, by name; each is loaded on first use and shared by all sessions."""

    def __init__(self, factories: dict[str, Callable[[], Colorizer]]):
        if not factories:
            raise ValueError("no model to serve: pass --weights FILE or install a bundled model")
        self.factories, self.loaded, self.lock = factories, {}, threading.Lock()

    @classmethod
    def find(cls, weights: list[str] | None = None, device: str = "auto") -> "Models":
        """The bundled models that are installed, then each checkpoint in ``weights`` (by file name)."""
        factories: dict[str, Callable[[], Colorizer]] = {}
        for backbone in BACKBONES:
            if bundled_weights(backbone).exists():
                factories[f"{backbone} (bundled)"] = functools.partial(
                    Colorizer.from_pretrained, backbone, device=device
                )
        for w in weights or []:
            if not Path(w).is_file():
                raise FileNotFoundError(f"--weights {w}: no such file")
            factories[Path(w).name] = functools.partial(Colorizer.load, w, device=device)
        return cls(factories)

    @property
    def names(self) -> list[str]:
        return list(self.factories)

    def get(self, name: str) -> Colorizer:
        with self.lock:
            if name not in self.loaded:
                if name not in self.factories:
                    raise ValueError(f"unknown model {name!r}")
                self.loaded[name] = self.factories[name]()
            return self.loaded[name]


@dataclass
class Entry:
    """One uploaded photo: its full-resolution lightness, previews, and the cached prediction."""

    name: str
    source: str  # the uploaded file's path (identifies the entry across uploads)
    photo: io.Photo
    original: np.ndarray  # uint8 RGB preview of the upload as it looks
    light: np.ndarray  # lightness at preview size
    pred: Prediction | None = None
    made_with: tuple[str, int] | None = None  # (model, size) of ``pred``
    colorized: np.ndarray | None = None  # uint8 RGB preview of the latest decoding
    doubt: np.ndarray | None = None  # uint8 RGB preview of the colour uncertainty
    download: Path | None = None  # full-resolution result

    @property
    def gray(self) -> np.ndarray:
        return io.quantize(self.light)

    def full_res_coords(self, y, x):
        """Full-resolution pixel coordinates (floats or tensors) of preview pixel (y, x)."""
        (ph, pw), (h, w) = self.light.shape, self.photo.light.shape
        return (y + 0.5) * h / ph - 0.5, (x + 0.5) * w / pw - 0.5


@dataclass
class Session:
    """What one browser session holds; its files live in ``folder`` and go with it."""

    entries: list[Entry] = field(default_factory=list)
    selected: int = 0
    folder: Path | None = None

    def current(self) -> Entry | None:
        return self.entries[self.selected] if self.entries else None

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def preview(im: Image.Image, side: int | None = None) -> Image.Image:
    """``im`` shrunk (never enlarged) to at most ``side`` (``PREVIEW_SIDE``) pixels on its longer edge."""
    side = side or PREVIEW_SIDE
    im = im.copy()
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return im


def load_entry(path: str, max_pixels: int) -> Entry:
    """Read an uploaded file (raises ``io.ImageError`` with a one-line message)."""
    im = io.open_image(path, max_pixels)
    photo = io.opened_photo(im)
    small = preview(im)
    light = io.to_photo(small).light
    if photo.bits == 16:  # Pillow shows 16-bit gray only as 8-bit gray
        shown = np.repeat(io.quantize(light)[..., None], 3, axis=2)
    else:
        shown = np.asarray(small.convert("RGB"))
    return Entry(Path(path).name, str(path), photo, shown, light)


def update_entries(session: Session, paths: list[str], max_pixels: int) -> list[str]:
    """Make the session's entries the uploaded ``paths`` (keeping those already read); the errors."""
    known = {e.source: e for e in session.entries}
    entries, errors = [], []
    for p in paths:
        if p in known:
            entries.append(known[p])
            continue
        try:
            entries.append(load_entry(p, max_pixels))
        except io.ImageError as err:
            errors.append(f"{Path(p).name}: {str(err).split(': ', 1)[-1]}")
    session.entries = entries
    session.selected = min(session.selected, max(len(entries) - 1, 0))
    return errors


def colour_spread(probs: dict[str, Tensor]) -> Tensor:
    """How unsure the prediction is of the colour, per grid cell (1, 1, h, w), in chroma units.

    For the hue/chroma head, treating the colour as chroma C along hue angle theta (independent),
    its standard deviation is sqrt(E[C^2] - (E[C] R)^2), R = |E e^(i theta)| the resultant length:
    small where the model is sure of a colour or sure of gray, large where hues compete. For the
    Lab heads: sqrt(Var a + Var b) / 100.
    """
    if "hue" in probs:
        pc = probs["chroma"]
        r = torch.hypot(*hue_resultant(probs["hue"]))
        centres = bin_centres(pc.shape[1], pc)
        ec, ec2 = (pc * centres).sum(1), (pc * centres**2).sum(1)
        return (ec2 - (ec * r) ** 2).clamp(min=0).sqrt()[:, None]
    if "ab" in probs:
        p = probs["ab"].unflatten(1, (16, 16))
        marginals = [p.sum(dim=3), p.sum(dim=2)]
        c = gaussian_centres(16).view(1, 16, 1, 1)
    else:
        marginals = [probs["a"], probs["b"]]
        c = gaussian_centres(32).view(1, 32, 1, 1)
    var = sum((m * c**2).sum(1) - (m * c).sum(1) ** 2 for m in marginals)
    return (var.clamp(min=0).sqrt() / 100)[:, None]


def doubt_image(entry: Entry) -> np.ndarray:
    """``colour_spread`` at each preview pixel as a uint8 RGB heat map (dark: sure, bright: unsure)."""
    from matplotlib import colormaps

    ph, pw = entry.light.shape
    ys, xs = entry.full_res_coords(torch.arange(ph).view(1, -1, 1), torch.arange(pw).view(1, 1, -1))
    ys, xs = ys.expand(1, ph, pw), xs.expand(1, ph, pw)
    spread = entry.pred.read(ys, xs, {"s": colour_spread(entry.pred.probs)})["s"][0, 0]
    return io.quantize(colormaps["magma"]((spread / 0.4).clamp(0, 1).numpy())[..., :3], 8)


def run(session: Session, models: Models, settings: Settings) -> None:
    """Predict where the model or size changed, then decode every entry's preview."""
    colorizer = models.get(settings.model)
    for entry in session.entries:
        if entry.made_with != (settings.model, settings.size):
            entry.pred = colorizer.predict(entry.photo, size=settings.size)
            entry.made_with = (settings.model, settings.size)
            entry.doubt = doubt_image(entry)
    redecode(session, models, settings)


def redecode(session: Session, models: Models, settings: Settings) -> None:
    """Decode the cached histograms again (no network) into the previews; downloads are now stale."""
    colorizer = models.get(settings.model)
    param = settings.param()
    for entry in session.entries:
        if entry.pred is not None:
            entry.colorized = io.quantize(colorizer.render(entry.pred, entry.light, param), 8)
            entry.download = None


def write_downloads(session: Session, models: Models, settings: Settings, root: Path) -> None:
    """The full-resolution results of the current decoding, written into the session's folder
    (alpha, 16 bits, EXIF and ICC kept, as the command does)."""
    colorizer = models.get(settings.model)
    param = settings.param()
    if session.folder is None:
        session.folder = Path(tempfile.mkdtemp(prefix="session-", dir=root))
    for i, entry in enumerate(session.entries):
        if entry.pred is not None:
            dst = session.folder / f"{i:03d}-{Path(entry.name).stem}-color.png"
            io.write_image(dst, colorizer.render(entry.pred, entry.photo.light, param), like=entry.photo)
            entry.download = dst


@dataclass
class PixelInfo:
    """What the page shows for a clicked pixel."""

    hists: dict[str, np.ndarray]
    hue: float  # decoded, in [0, 1)
    chroma: float  # decoded (after fading and boost)
    text: str


def pixel_info(entry: Entry, x: float, y: float, settings: Settings) -> PixelInfo:
    """The histograms at preview pixel (x, y) of ``entry`` and its decoded colour."""
    h, w = entry.photo.light.shape
    fy, fx = entry.full_res_coords(y, x)
    hists = entry.pred.at(fy, fx)
    yy, xx = min(int(round(fy)), h - 1), min(int(round(fx)), w - 1)
    light = torch.tensor(float(entry.photo.light[max(yy, 0), max(xx, 0)])).view(1, 1, 1)
    hue, chroma = decode({n: p.view(1, -1, 1, 1) for n, p in hists.items()}, settings.param(), light)
    rgb = entry.colorized[int(y), int(x)] if entry.colorized is not None else (0, 0, 0)
    text = (
        f"pixel ({xx}, {yy}) of {w}×{h}: hue {360 * float(hue):.0f}°, chroma {float(chroma):.2f}, "
        f"lightness {float(light):.2f} → #{int(rgb[0]):02x}{int(rgb[1]):02x}{int(rgb[2]):02x}"
    )
    return PixelInfo({n: p.numpy() for n, p in hists.items()}, float(hue), float(chroma), text)


def histogram_figure(info: PixelInfo):
    """Small bar plots of one pixel's histograms, the decoded values marked (hue bars in their hue,
    chroma bars from gray to the decoded hue)."""
    from matplotlib.colors import hsv_to_rgb
    from matplotlib.figure import Figure

    hists = info.hists
    fig = Figure(figsize=(7, 2.4), layout="constrained")
    axes = fig.subplots(1, len(hists), squeeze=False)[0]
    for ax, (name, p) in zip(axes, hists.items(), strict=False):
        k = len(p)
        if name == "ab":
            ax.imshow(p.reshape(16, 16).T, origin="lower", cmap="magma")
            ax.set(xlabel="a bin", ylabel="b bin", title="joint ab histogram")
            continue
        centres = (np.arange(k) + 0.5) / k
        if name == "hue":
            colours = hsv_to_rgb(np.stack([centres, np.ones(k), np.full(k, 0.9)], 1))
            ax.set(xlabel="hue (°)", xticks=[0, 0.25, 0.5, 0.75, 1], xticklabels=[0, 90, 180, 270, 360])
        elif name == "chroma":
            colours = hsv_to_rgb(np.stack([np.full(k, info.hue), centres, np.full(k, 0.9)], 1))
            ax.set(xlabel="chroma")
        else:
            colours = "tab:gray"
            ax.set(xlabel=f"{name} bin")
        ax.bar(centres, p, width=1 / k, color=colours, edgecolor="none")
        if name in ("hue", "chroma"):
            value = info.hue if name == "hue" else info.chroma
            ax.axvline(value, color="black", linewidth=1, linestyle="--", label="decoded")
            ax.legend(loc="upper right", fontsize=7, frameon=False)
        ax.set(title=f"{name} histogram", ylim=(0, max(float(p.max()) * 1.1, 1e-3)), yticks=[])
        ax.spines[["top", "right", "left"]].set_visible(False)
    return fig


# ---------------------------------------------------------------- the page
INTRO = """## autocolor
Drop grayscale (or colour) photos; each is colorized from its lightness alone. Click a pixel of the
result to see the hue and chroma histograms the network predicted there: the colour is decoded
from them (Larsson, Maire & Shakhnarovich, *Learning Representations for Automatic Colorization*,
ECCV 2016). Decoding controls re-decode the cached histograms without running the network."""

CSS = "#colorized img, #gray img, #doubt img { cursor: crosshair; } footer { display: none !important; }"


def build(models: Models, root: Path, max_pixels: int = DEFAULT_MAX_PIXELS):
    """The Gradio ``Blocks`` page; ``root`` is the folder for results (per-session subfolders)."""
    import gradio as gr

    def settings_of(model, size, chroma, hue, fade, boost, temperature) -> Settings:
        return Settings(model, int(size), chroma, hue, bool(fade), float(boost), float(temperature))

    # Outputs, in the order of ``shown`` below. Unchanged images are skipped, not sent again: Gradio
    # rewrites an image's cache file in place each time it is sent, under a reader's feet.
    def files_of(session: Session) -> list[str] | None:
        ready = session.entries and all(x.download is not None for x in session.entries)
        return [str(x.download) for x in session.entries] if ready else None

    def detail(session: Session, photo_changed: bool = True):
        """The gallery, the selected photo's views and the downloads; the original, gray and
        uncertainty views only when ``photo_changed`` (a decoding change leaves them as they are)."""
        e = session.current()
        shots = [(x.colorized, x.name) for x in session.entries if x.colorized is not None]
        gallery = gr.Gallery(shots, visible=len(shots) > 1)  # a choice only with several photos
        if e is None or e.colorized is None:
            return gallery, None, None, None, None, None, files_of(session), session
        fixed = (e.original, e.gray, e.doubt) if photo_changed else (gr.skip(),) * 3
        pair = (e.gray, e.colorized)
        return gallery, fixed[0], fixed[1], e.colorized, pair, fixed[2], files_of(session), session

    def status_of(session: Session, errors: list[str]) -> str:
        lines = [f"**{len(session.entries)}** photo(s) colorized."] if session.entries else []
        lines += [f"⚠ {err}" for err in errors]
        return "\n\n".join(lines)

    # Each change shows the previews at once; ``on_downloads`` then writes the full-resolution files.
    def on_files(files, *args):
        *controls, session = args
        paths = [f if isinstance(f, str) else f.name for f in files or []]
        errors = update_entries(session, paths, max_pixels)
        for err in errors:
            gr.Warning(err)
        return refresh(session, settings_of(*controls), errors, network=True)

    def on_run(*args):
        *controls, session = args
        return refresh(session, settings_of(*controls), [], network=True)

    def on_decode(*args):
        *controls, session = args
        return refresh(session, settings_of(*controls), [], network=False)

    def refresh(session: Session, settings: Settings, errors: list[str], network: bool):
        if session.entries:
            (run if network else redecode)(session, models, settings)
        return (*detail(session, photo_changed=network), status_of(session, errors))

    def on_downloads(*args):
        *controls, session = args
        if session.entries:
            write_downloads(session, models, settings_of(*controls), root)
        return files_of(session), session

    def on_select(session: Session, evt: gr.SelectData):
        session.selected = int(evt.index)
        return detail(session)[1:]  # not the gallery itself

    # Gradio passes the click by the annotation, so these are spelt out (no *args; no string annotations).
    def on_pixel(model, size, chroma, hue, fade, boost, temperature, session: Session, evt: gr.SelectData):
        controls = (model, size, chroma, hue, fade, boost, temperature)
        e = session.current()
        if e is None or e.pred is None:
            return None, ""
        x, y = evt.index
        info = pixel_info(e, x, y, settings_of(*controls))
        return histogram_figure(info), info.text

    with gr.Blocks(title="autocolor", analytics_enabled=False, delete_cache=(900, 3600)) as page:
        state = gr.State(Session(), time_to_live=6 * 3600, delete_callback=Session.close)
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                files = gr.File(
                    file_count="multiple",
                    file_types=["image", *sorted(io.IMAGE_SUFFIXES)],
                    label="Photos (drop or click)",
                    elem_id="upload",
                )
                status = gr.Markdown(elem_id="status")
                model = gr.Dropdown(models.names, value=models.names[0], label="Model", elem_id="model")
                size = gr.Dropdown(list(SIZES), value=512, label="Processing size (--size)", elem_id="size")
                with gr.Group():
                    chroma = gr.Dropdown(list(CHROMA_METHODS), value="median", label="Chroma decoding")
                    hue = gr.Dropdown(
                        list(DEMO_HUE_METHODS), value="expectation", label="Hue decoding", elem_id="hue"
                    )
                    fade = gr.Checkbox(True, label="Chromatic fading (with hue expectation)")
                    boost = gr.Slider(0, 3, value=1.0, step=0.05, label="Saturation boost")
                    temperature = gr.Slider(0.1, 2, value=1.0, step=0.05, label="Temperature (annealed mean)")
            with gr.Column(scale=3):
                gallery = gr.Gallery(
                    label="Results (click one to inspect it)",
                    columns=8,
                    fit_columns=False,
                    height=150,
                    preview=False,
                    object_fit="contain",
                    visible=False,
                    elem_id="gallery",
                )
                with gr.Tabs():
                    with gr.Tab("Side by side"), gr.Row():
                        original = gr.Image(label="Original", format="png", interactive=False)
                        gray = gr.Image(label="Gray input", format="png", interactive=False, elem_id="gray")
                        colorized = gr.Image(
                            label="autocolor (click a pixel)",
                            format="png",
                            interactive=False,
                            elem_id="colorized",
                        )
                    with gr.Tab("Before / after"):
                        slider = gr.ImageSlider(
                            label="Gray | autocolor", format="png", interactive=False, elem_id="slider"
                        )
                    with gr.Tab("Where it hesitates"):
                        doubt = gr.Image(
                            label="Colour uncertainty: dark = sure (of a colour or of gray), bright = unsure",
                            format="png",
                            interactive=False,
                            elem_id="doubt",
                        )
                info = gr.Markdown("Click a pixel of the result to see its histograms.", elem_id="pixel-info")
                plot = gr.Plot(show_label=False, elem_id="histograms", format="png")
                downloads = gr.File(
                    label="Full-resolution results", file_count="multiple", elem_id="downloads"
                )

        controls = [model, size, chroma, hue, fade, boost, temperature]
        shown = [gallery, original, gray, colorized, slider, doubt, downloads, state]
        heavy = {"concurrency_id": "network", "concurrency_limit": 1}

        def wire(event, handler, inputs):  # previews first, then the full-resolution files
            event(handler, inputs, [*shown, status], **heavy).then(
                on_downloads, [*controls, state], [downloads, state], **heavy
            )

        for event in (files.upload, files.clear):
            wire(event, on_files, [files, *controls, state])
        for event in (model.change, size.change):
            wire(event, on_run, [*controls, state])
        for event in (chroma.change, hue.change, fade.change, boost.release, temperature.release):
            wire(event, on_decode, [*controls, state])
        hue.change(lambda h: gr.Checkbox(interactive=h == "expectation"), hue, fade)
        gallery.select(on_select, state, shown[1:])
        for img in (colorized, gray, doubt):
            img.select(on_pixel, [*controls, state], [plot, info])
    return page


def serve(
    models: Models,
    host: str = "127.0.0.1",
    port: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    queue_size: int = 32,
    open_browser: bool = False,
) -> None:
    """Serve the page until interrupted; all it writes lies in one temporary folder, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="autocolor-serve-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")  # read when gradio is imported
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    print(f"temporary files: {root}", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM ends like Ctrl-C: cleaned up
    page = None
    try:
        import gradio as gr

        theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
        page = build(models, root, max_pixels)
        page.queue(max_size=queue_size, default_concurrency_limit=2)
        page.launch(
            server_name=host,
            server_port=port,
            max_file_size=int(max_upload_mb * 2**20),
            inbrowser=open_browser,
            ssr_mode=False,
            footer_links=[],
            theme=theme,
            css=CSS,
            allowed_paths=[str(root)],
            show_error=False,
            quiet=True,  # Gradio's own lines suggest share=True, which does not apply offline
            prevent_thread_lock=True,
        )
        print(f"autocolor serve: {page.local_url} (Ctrl-C to stop)", flush=True)
        while True:  # until Ctrl-C or SIGTERM (Gradio's own wait prints a line of its own)
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if page is not None:
            page.close(verbose=False)  # no new work starts
        remove_folder(root)


def remove_folder(root: Path, quiet: float = 1.0, limit: float = 30.0) -> None:
    """Remove ``root``, again while work still in flight writes into it, until it stays gone ``quiet`` s."""
    deadline = time.monotonic() + limit
    while True:
        shutil.rmtree(root, ignore_errors=True)
        time.sleep(quiet)
        if not root.exists() or time.monotonic() > deadline:
            return
