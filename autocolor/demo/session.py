"""The demo's logic, without Gradio: models, a session's photos (``state.Entry``) and their
cached predictions, re-decoding without the network, full-resolution downloads."""

import functools
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .. import imagefile
from ..evidence.hints import Hint, parse_color
from ..evidence.reference import Reference
from ..histograms import HUE_METHODS
from ..pipeline import BUNDLED, Colorizer, bundled_weights, pick_device
from ..restore import Restorer
from .state import Entry, Settings
from .views import defects_image, doubt_image

PREVIEW_SIDE = 1280  # longest side of the images sent to the page (downloads are full resolution)
DEFAULT_MAX_PIXELS = 50_000_000
SESSION_PHOTOS = 24  # what one visitor's session keeps: photos ...
SESSION_PIXELS = 150_000_000  # ... their pixels in all (about 4 bytes each were measured) ...
SESSION_REFERENCES = 8  # ... and reference photos
SERVER_BYTES = 4 << 30  # what all sessions together keep; past it, the least recently used let go
DEFAULT_MAX_UPLOAD_MB = 50
SIZES = (256, 352, 512, 768, 1024)
# The page offers fading as its own switch; "expectation-cf" is expectation plus fading.
DEMO_HUE_METHODS = tuple(h for h in HUE_METHODS if h != "expectation-cf")


class Models:
    """The colorizers a page offers, by name; each is loaded on first use and shared by all sessions."""

    def __init__(self, factories: dict[str, Callable[[], Colorizer]]):
        if not factories:
            raise ValueError("no model to serve: pass --weights FILE or install a bundled model")
        self.factories, self.loaded, self.lock = factories, {}, threading.Lock()
        self.device, self.engine = "cpu", "torch"
        self._restorer: Restorer | None = None

    @classmethod
    def find(cls, weights: list[str] | None = None, device: str = "auto", engine: str = "torch") -> "Models":
        """The bundled models that are installed, then each checkpoint in ``weights`` (by file name),
        their networks and the restorer's run on ``engine`` (``engines.ENGINES``)."""
        factories: dict[str, Callable[[], Colorizer]] = {}
        for backbone in BUNDLED:
            if bundled_weights(backbone).exists():
                factories[f"{backbone} (bundled)"] = functools.partial(
                    Colorizer.from_pretrained, backbone, device=device, engine=engine
                )
        for w in weights or []:
            if not Path(w).is_file():
                raise FileNotFoundError(f"--weights {w}: no such file")
            factories[Path(w).name] = functools.partial(Colorizer.load, w, device=device, engine=engine)
        models = cls(factories)
        models.device, models.engine = device, engine
        return models

    def restorer(self) -> Restorer:
        """The bundled old-photo restorer, loaded on first use and shared by all sessions."""
        with self.lock:
            if self._restorer is None:
                self._restorer = Restorer.from_pretrained(device=pick_device(self.device), engine=self.engine)
            return self._restorer

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
class Session:
    """What one browser session holds; its files live in ``folder`` and go with it."""

    entries: list[Entry] = field(default_factory=list)
    selected: int = 0
    folder: Path | None = None
    references: list[np.ndarray] = field(default_factory=list)  # colour photos (previews), float RGB
    prepared: dict[str, list[Reference]] = field(default_factory=dict)  # by model name

    released: bool = False  # its photos were let go to make room for other sessions (``Budget``)

    def current(self) -> Entry | None:
        return self.entries[self.selected] if self.entries else None

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def release(self) -> None:
        """Let go of the photos, references and results (the session itself lives on, empty)."""
        self.entries, self.references, self.prepared, self.selected = [], [], {}, 0
        self.close()
        self.folder, self.released = None, True


def _nbytes(value) -> int:
    """Bytes held by the arrays and tensors in ``value`` (nested in dataclasses, dicts, lists)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if hasattr(value, "element_size") and hasattr(value, "nelement"):  # a torch tensor
        return value.element_size() * value.nelement()
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(_nbytes(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


class Budget:
    """What all sessions together keep in memory, at most ``limit`` bytes: past it, the sessions used
    longest ago let go of their photos (``Session.release``; the page asks them to upload again)."""

    def __init__(self, limit: int = SERVER_BYTES):
        self.limit, self.lock = limit, threading.Lock()
        self.held: dict[int, tuple[weakref.ref, int]] = {}  # by id, least recently used first

    def admit(self, session: Session) -> None:
        """Count ``session`` as just used, at its present size; release others while over the limit."""
        with self.lock:
            self.held.pop(id(session), None)
            self.held[id(session)] = (weakref.ref(session), _nbytes(session))
            total = sum(size for _, size in self.held.values())
            for key in list(self.held):
                if total <= self.limit or key == id(session):
                    break
                ref, size = self.held.pop(key)
                total -= size
                if (old := ref()) is not None:
                    old.release()

    def total(self) -> int:
        with self.lock:
            return sum(size for _, size in self.held.values())


def preview(im: Image.Image, side: int | None = None) -> Image.Image:
    """``im`` shrunk (never enlarged) to at most ``side`` (``PREVIEW_SIDE``) pixels on its longer edge."""
    side = side or PREVIEW_SIDE
    im = im.copy()
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return im


def load_entry(path: str, max_pixels: int) -> Entry:
    """Read an uploaded file (raises ``imagefile.ImageError`` with a one-line message)."""
    im = imagefile.open_image(path, max_pixels)
    try:
        photo = imagefile.opened_photo(im)
    except ValueError as err:  # pixels that make no picture (all NaN, ...)
        raise imagefile.ImageError(f"{Path(path).name}: {err}") from None
    small = preview(im)
    light = imagefile.to_photo(small).light
    if photo.bits == 16:  # Pillow shows 16-bit gray only as 8-bit gray
        shown = np.repeat(imagefile.quantize(light)[..., None], 3, axis=2)
    else:
        shown = np.asarray(small.convert("RGB"))
    return Entry(Path(path).name, str(path), photo, shown, light)


def _upload_error(path: str, err: imagefile.ImageError) -> str:
    """An upload's error as the page shows it: the file's name (not the server's temporary path)."""
    return f"{Path(path).name}: {str(err).split(': ', 1)[-1]}"


def update_entries(session: Session, paths: list[str], max_pixels: int) -> list[str]:
    """Make the session's entries the uploaded ``paths`` (keeping those already read); the errors."""
    known = {e.source: e for e in session.entries}
    entries, errors, pixels = [], [], 0
    for p in paths:
        if len(entries) >= SESSION_PHOTOS:
            errors.append(f"{Path(p).name}: not kept, a session holds {SESSION_PHOTOS} photos at most")
            continue
        try:
            entry = known[p] if p in known else load_entry(p, max_pixels)
        except imagefile.ImageError as err:
            errors.append(_upload_error(p, err))
            continue
        if pixels + entry.photo.light.size > SESSION_PIXELS:
            most = f"{SESSION_PIXELS / 1e6:.0f} MP"
            errors.append(f"{Path(p).name}: not kept, a session holds {most} of photos at most; remove some")
            continue
        pixels += entry.photo.light.size
        entries.append(entry)
    session.entries = entries
    session.selected = min(session.selected, max(len(entries) - 1, 0))
    return errors


def add_hint(session: Session, x: float, y: float, color: str) -> None:
    """A hint of ``colour`` (any CSS colour) at preview pixel (x, y) of the current photo."""
    entry = session.current()
    if entry is None:
        return
    h, w = entry.photo.light.shape
    fy, fx = entry.full_res_coords(y, x)
    point = (min(max(fx, 0.0), w - 1.0), min(max(fy, 0.0), h - 1.0))
    entry.hints.append(Hint((point,), parse_color(color)))


def remove_hints(session: Session, every: bool = False) -> None:
    """Remove the current photo's last hint (or all of them)."""
    entry = session.current()
    if entry is not None and entry.hints:
        entry.hints = [] if every else entry.hints[:-1]


def set_references(session: Session, paths: list[str], max_pixels: int) -> list[str]:
    """Make ``paths`` the session's reference photos; the errors of those that cannot be read."""
    session.references, session.prepared, errors = [], {}, []
    for p in paths:
        if len(session.references) >= SESSION_REFERENCES:
            errors.append(
                f"{Path(p).name}: not kept, a session takes {SESSION_REFERENCES} reference photos at most"
            )
            continue
        try:
            session.references.append(imagefile.to_rgb(preview(imagefile.open_image(p, max_pixels))))
        except imagefile.ImageError as err:
            errors.append(_upload_error(p, err))
    return errors


def _references(session: Session, models: Models, model: str) -> list[Reference]:
    if model not in session.prepared:
        colorizer = models.get(model)
        session.prepared[model] = [colorizer.reference(rgb) for rgb in session.references]
    return session.prepared[model]


def restore_entry(entry: Entry, restorer: Restorer | None) -> None:
    """Make ``entry``'s photo and preview the restored ones (``restorer``) or the uploaded ones (None);
    its prediction is dropped when that changes."""
    if (entry.raw is not None) == (restorer is not None):
        return
    if restorer is None:
        (entry.photo, entry.light), entry.raw, entry.defects = entry.raw, None, None
    else:
        entry.raw = (entry.photo, entry.light)
        found = restorer(entry.photo.light)
        entry.photo = replace(entry.photo, light=found.light)
        entry.light = _resized(found.light, entry.light.shape)
        prob = _resized(found.defects, entry.light.shape)
        entry.defects = defects_image(entry.light, prob, restorer.threshold)
    entry.pred, entry.made_with = None, None


def _resized(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if plane.shape == shape:
        return plane
    im = Image.fromarray(plane.astype(np.float32), "F").resize(shape[::-1], Image.Resampling.BOX)
    return np.asarray(im, np.float32)


def run(session: Session, models: Models, settings: Settings) -> None:
    """Restore where asked, predict where the model, size, restoration or mirror switch changed, then
    decode every entry's preview."""
    colorizer = models.get(settings.model).with_mirror(settings.mirror)
    restorer = models.restorer() if settings.restore else None
    made_with = (settings.model, settings.size, settings.mirror)
    for entry in session.entries:
        restore_entry(entry, restorer)
        if entry.made_with != made_with:
            entry.pred = colorizer.predict(entry.photo, size=settings.size, features=True)
            entry.made_with = made_with
            entry.doubt = doubt_image(entry)
    redecode(session, models, settings)


def redecode(session: Session, models: Models, settings: Settings) -> None:
    """Decode the cached histograms again (no network) into the previews; downloads are now stale."""
    colorizer = models.get(settings.model)
    param = settings.param()
    refs = _references(session, models, settings.model)
    for entry in session.entries:
        if entry.pred is not None:
            entry.steered = colorizer.steer(entry.pred, entry.hints, refs) if entry.hints or refs else None
            entry.colorized = imagefile.quantize(colorizer.render(entry.shown, entry.light, param), 8)
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
            imagefile.write_image(
                dst, colorizer.render(entry.shown, entry.photo.light, param), like=entry.photo
            )
            entry.download = dst
