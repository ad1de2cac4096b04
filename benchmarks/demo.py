"""The web demo's response times: a new photo (read, network, previews) against a decoding change
(the cached histograms decoded again into the previews, no network); the full-resolution PNG that
follows either on the page is timed on its own.

    python benchmarks/demo.py                      # 1, 4 and 12 MP photos, bundled effnet-lite0
    python benchmarks/demo.py --megapixels 1 24 --runs 7

Medians of ``--runs`` runs after one warm-up run, in this process, on the logic the page calls
(``autocolor.demo``); the browser and Gradio's transfer are not included.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import table
from PIL import Image


def median_time(fn, runs: int) -> float:
    times = []
    for i in range(runs + 1):
        t = time.perf_counter()
        fn()
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--megapixels", nargs="+", type=float, default=[1, 4, 12])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()

    import skimage

    from autocolor import demo

    models = demo.Models.find(device="cpu")
    name = models.names[0]
    src = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("L")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mp in args.megapixels:
            w = round((mp * 1e6 * 4 / 3) ** 0.5)
            h = round(w * 3 / 4)
            inp = Path(tmp) / f"in-{mp}.jpg"
            src.resize((w, h), Image.BICUBIC).save(inp, quality=92)
            settings = demo.Settings(name)
            session = demo.Session()

            def new_photo(inp=inp, session=session, settings=settings):
                session.entries = []
                demo.update_entries(session, [str(inp)], demo.DEFAULT_MAX_PIXELS)
                demo.run(session, models, settings)

            t_new = median_time(new_photo, args.runs)
            t_change = median_time(
                lambda s=session: demo.redecode(s, models, demo.Settings(name, boost=1.3)), args.runs
            )
            t_full = median_time(
                lambda s=session, c=settings: demo.write_downloads(s, models, c, Path(tmp)), args.runs
            )
            rows.append(
                [
                    f"{w * h / 1e6:.1f}",
                    f"{t_new:.2f}",
                    f"{t_change:.3f}",
                    f"{t_new / t_change:.0f}",
                    f"{t_full:.2f}",
                ]
            )
    print(f"model: {name}; medians of {args.runs} runs")
    cols = ["photo MP", "new photo s", "decoding change s", "new / change", "full-res PNG s"]
    print(table(cols, rows))


if __name__ == "__main__":
    main()
