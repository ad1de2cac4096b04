"""Serving the page: one temporary folder for everything it writes, removed when it stops."""

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from .session import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, SERVER_BYTES, Budget, Models


def serve(
    models: Models,
    host: str = "127.0.0.1",
    port: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    queue_size: int = 32,
    open_browser: bool = False,
    max_memory_gb: float = SERVER_BYTES / 2**30,
) -> None:
    """Serve the page until interrupted; all it writes lies in one temporary folder, removed at exit:
    visitors' uploads in ``uploads`` (Gradio serves them back only as downloads, never as pages) and the
    page's own results in ``results`` (images and videos, the one folder served inline)."""
    root = Path(tempfile.mkdtemp(prefix="autocolor-serve-"))
    results = root / "results"
    results.mkdir()
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")  # read when gradio is imported
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    print(f"temporary files: {root}", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM ends like Ctrl-C: cleaned up
    page, stop = None, threading.Event()
    try:
        import gradio as gr  # only now: it reads GRADIO_TEMP_DIR when imported

        from .page import CSS, build

        theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
        page = build(models, results, max_pixels, stop, Budget(int(max_memory_gb * 2**30)))
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
            allowed_paths=[str(results)],  # not the uploads: an uploaded .html must not be served as a page
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
        stop.set()  # a clip in progress ends after its current frame
        if page is not None:
            page.close(verbose=False)  # no new work starts
        remove_folder(root)  # waits until work in flight stops writing into it


def remove_folder(root: Path, quiet: float = 1.0, limit: float = 30.0) -> None:
    """Remove ``root``, again while work still in flight writes into it, until it stays gone ``quiet`` s."""
    deadline = time.monotonic() + limit
    while True:
        shutil.rmtree(root, ignore_errors=True)
        time.sleep(quiet)
        if not root.exists() or time.monotonic() > deadline:
            return
