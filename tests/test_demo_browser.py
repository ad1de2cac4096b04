"""``autocolor serve`` used as a person would: Debian's Chromium, headless, driven by Playwright.

Skipped where Playwright or /usr/bin/chromium is missing, unless AUTOCOLOR_REQUIRE_BROWSER=1 (as in CI),
where that is a failure. AUTOCOLOR_DEMO_SCREENSHOT=PATH also saves the page's screenshot there.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 120_000


def _require(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("AUTOCOLOR_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def colourfulness(png: bytes) -> tuple[tuple[int, int], float]:
    with Image.open(io.BytesIO(png)) as im:
        a = np.asarray(im.convert("RGB")).astype(np.float32)
        return im.size, float(np.mean(a.max(axis=2) - a.min(axis=2)))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``autocolor serve`` in a subprocess, started in an empty folder with its own TMPDIR; stopped
    with SIGTERM, after which both must be empty."""
    pytest.importorskip("gradio")
    cwd, tmp = tmp_path_factory.mktemp("cwd"), tmp_path_factory.mktemp("tmp")
    port = _free_port()
    cmd = [sys.executable, "-m", "autocolor", "serve", "--port", str(port), "--max-upload-mb", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}  # its temporary files go here
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first = proc.stdout.readline()
    assert first.startswith("temporary files: "), first
    root = Path(first.split(": ", 1)[1].strip())
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, "the server did not start"
            time.sleep(0.5)
    yield url
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert f"autocolor serve: {url}" in out and "share=True" not in out, out
    left = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*"))
    assert root.parent == tmp and not root.exists(), f"temporary files were left behind: {left}"
    assert left == [], "temporary files were left behind"
    assert list(cwd.iterdir()) == [], "the server wrote into its working folder"


@pytest.fixture(scope="module")
def browser():
    _require(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "the playwright package is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    outside = []
    local = (server, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    page.wait_for_selector("#upload input[type=file]", state="attached")
    yield page
    context.close()
    assert outside == [], "the page asked for something beyond the local server"


def _result(page, selector: str, previous: str | None = None) -> tuple[str, bytes]:
    """Wait for the image in ``selector`` (a new one if ``previous``), return its address and bytes."""
    img = page.locator(f"{selector} img").first
    img.wait_for()
    if previous is not None:
        page.wait_for_function(
            "([sel, old]) => { const i = document.querySelector(sel + ' img'); return i && i.src !== old; }",
            arg=[selector, previous],
        )
    src = img.get_attribute("src")
    return src, page.request.get(src).body()


def test_an_uploaded_page_is_served_back_as_a_download_not_a_page(server):
    """Stored XSS: an uploaded .html must never come back as a live page from the demo's address."""
    httpx = pytest.importorskip("httpx")
    up = httpx.post(
        f"{server}gradio_api/upload", files={"files": ("evil.html", b"<script>1</script>", "text/html")}
    )
    path = up.json()[0]
    got = httpx.get(f"{server}gradio_api/file={path}")
    assert (
        "html" not in got.headers.get("content-type", "")
        and "attachment" in got.headers["content-disposition"]
    )


def test_colorize_inspect_redecode_download(page, photo_dir, tmp_path):
    page.locator("#upload input[type=file]").set_input_files(str(photo_dir / "chelsea.png"))
    src, png = _result(page, "#colorized")
    size, colour = colourfulness(png)
    assert size == (451, 300)
    assert colour > 10, "the result is (nearly) gray"
    _, gray = _result(page, "#gray")
    assert colourfulness(gray)[1] < 1

    # the full-resolution download: the photo's size, in colour
    link = page.locator("#downloads a[href]").first
    link.wait_for()
    size, colour = colourfulness(page.request.get(link.get_attribute("href")).body())
    assert size == (451, 300) and colour > 10

    # click a pixel: its histograms are plotted and its colour explained
    box = page.locator("#colorized img").first.bounding_box()
    page.locator("#colorized img").first.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.6})
    page.locator("#histograms img").first.wait_for()
    assert "hue" in page.locator("#pixel-info").inner_text()
    shot = tmp_path / "demo.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("AUTOCOLOR_DEMO_SCREENSHOT"):
        page.screenshot(path=os.environ["AUTOCOLOR_DEMO_SCREENSHOT"], full_page=True)
    assert shot.stat().st_size > 10_000

    # a decoding control: re-decoded (the network is not run again; see test_demo.py)
    page.locator("#hue input").click()
    page.get_by_role("option", name="mode", exact=True).click()
    src2, png2 = _result(page, "#colorized", previous=src)
    assert png2 != png

    # the before/after slider shows gray and colour
    page.get_by_role("tab", name="Before / after").click()
    page.locator("#slider img").last.wait_for()
    shots = [page.request.get(i.get_attribute("src")).body() for i in page.locator("#slider img").all()]
    assert [colourfulness(b)[1] < 1 for b in shots] == [True, False]  # gray | colour

    # where the model hesitates: a heat map of the photo's size
    page.get_by_role("tab", name="Where it hesitates").click()
    _, png = _result(page, "#doubt")
    assert colourfulness(png)[0] == (451, 300)

    # restoring an old photo first: the bundled restorer runs, and shows the defects it found
    page.locator("#restore input").check()
    page.get_by_role("tab", name="Defects found").click()
    _, png = _result(page, "#defects")
    assert colourfulness(png)[0] == (451, 300)


def test_several_photos_and_the_gallery(page, photo_dir):
    page.locator("#upload input[type=file]").set_input_files(
        [str(photo_dir / "coffee.png"), str(photo_dir / "rocket.jpg")]
    )
    src, png = _result(page, "#colorized")
    assert colourfulness(png)[0] == (600, 400)  # the first photo is shown
    page.locator("#gallery button img, #gallery img").nth(1).click()
    _, png = _result(page, "#colorized", previous=src)
    assert colourfulness(png)[0] == (640, 427)
    assert page.locator("#downloads a[href]").count() == 2


def test_bad_files_get_a_message(page, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    page.get_by_text("holiday.jpg: corrupt or truncated image", exact=False).first.wait_for()
    assert "Traceback" not in page.content()

    big = tmp_path / "big.png"  # over the server's --max-upload-mb 1
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (800, 800, 3), dtype=np.uint8)).save(big)
    page.locator("#upload input[type=file]").set_input_files(str(big))
    page.get_by_text("exceed the maximum allowed size", exact=False).first.wait_for()


def test_two_people_at_once_are_queued(browser, server, photo_dir):
    contexts = [browser.new_context() for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    for p, name in zip(pages, ("coffee.png", "rocket.jpg"), strict=True):
        p.set_default_timeout(TIMEOUT_MS)
        p.goto(server)
        p.wait_for_selector("#upload input[type=file]", state="attached")
        p.locator("#upload input[type=file]").set_input_files(str(photo_dir / name))
    sizes = [colourfulness(_result(p, "#colorized")[1])[0] for p in pages]
    assert sizes == [(600, 400), (640, 427)]
    for c in contexts:
        c.close()


def _pixel(png: bytes, x: int, y: int) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))[y, x].astype(int)


def test_a_hint_placed_by_clicking_turns_its_spot_toward_its_colour(page, photo_dir):
    page.locator("#upload input[type=file]").set_input_files(str(photo_dir / "chelsea.png"))
    src, before = _result(page, "#colorized")
    page.get_by_label("place a hint").check()
    page.locator("#hint-colour button.dialog-button").click()  # Gradio's picker: a hex field inside
    field = page.locator("#hint-colour input[type=text]").first
    field.fill("#10d020")  # green: not the default blue
    field.press("Enter")
    page.locator("#hint-colour button.dialog-button").click()  # closed again
    img = page.locator("#colorized img").first
    box = img.bounding_box()
    x, y = 0.25, 0.5  # a fraction of the preview (451 x 300 at full size)
    img.click(position={"x": box["width"] * x, "y": box["height"] * y})
    src2, after = _result(page, "#colorized", previous=src)
    px, py = int(451 * x) + 12, int(300 * y)  # beside the dot drawn on the hint
    old, new = _pixel(before, px, py), _pixel(after, px, py)
    assert new[1] - max(new[0], new[2]) > old[1] - max(old[0], old[2]) + 20, (old, new)  # greener
    link = page.locator("#downloads a[href]").first
    link.wait_for()
    page.locator("#undo-hint").click()
    _, undone = _result(page, "#colorized", previous=src2)
    assert np.abs(_pixel(undone, px, py) - old).max() <= 2


def test_the_video_tab_colorizes_a_clip(page, astronaut, tmp_path):
    av = pytest.importorskip("av")
    gray = np.asarray(Image.open(astronaut).convert("L").resize((224, 160)))
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as out:
        vs = out.add_stream("libx264", rate=8)
        vs.width, vs.height, vs.pix_fmt = 224, 160, "yuv420p"
        for k in range(8):
            frame = av.VideoFrame.from_ndarray(
                np.repeat(np.roll(gray, 3 * k, 1)[..., None], 3, 2), format="rgb24"
            )
            frame.pts = k
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    page.get_by_role("tab", name="Video").click()
    page.locator("#clip input[type=file]").set_input_files(str(clip))
    video = page.locator("#clip-result video").first
    video.wait_for()
    assert "**" not in page.locator("#clip-status").inner_text()  # Markdown rendered
    result = tmp_path / "result.mp4"
    result.write_bytes(page.request.get(video.get_attribute("src")).body())
    with av.open(str(result)) as c:
        frames = [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]
    assert len(frames) == 8
    spread = np.mean([(f.max(axis=2) - f.min(axis=2)).mean() for f in frames])
    assert spread > 3, "the clip came back without colour"
