"""Batches over a Ray cluster: every file once, a manifest to resume from, workers that load the model once.

Ray Data runs over the list of files, not over decoded pixels: each worker of an actor pool builds the
job's one-file step once (the model loads once per worker) and reads and writes the files itself with
the same code as the plain command, so outputs are the same files with the same bytes. Work is cut into
chunks of about equal megapixels, not of equal file counts. A worker that dies has its chunk retried
elsewhere; an output whose modification time changed since the job was planned was written by this job
and is not done again. The driver appends one manifest row per file (``MANIFEST`` beside the outputs);
a later run with the same outputs skips what the manifest marks done.

Inputs and outputs must be on storage every node sees (a shared or mounted file system).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

MANIFEST = "autocolor-manifest.csv"
FIELDS = ("input", "output", "status", "error", "seconds", "megapixels")
CHUNK_MEGAPIXELS = 32.0  # at most this much work per chunk; smaller when the batch is small
EXTRA = "pip install 'autocolor[cluster]'"

Step = Callable[[Path, Path], "str | None"]  # one file: None when done, else a one-line error


class ClusterError(RuntimeError):
    """Ray missing, or the cluster cannot be reached; the message is one line."""


def address(text: str) -> str:
    """A ``--ray`` address: ``local`` (a Ray on this machine), ``auto``, ``host:port`` or ``ray://host:port``."""
    if text in ("local", "auto") or re.fullmatch(r"(ray://)?[\w.\-\[\]:]+:\d{1,5}", text):
        return text
    raise ValueError(f"{text!r} is not a Ray address (local, auto, host:port or ray://host:port)")


@dataclass(frozen=True)
class Task:
    """One file to do. ``stamp``: the output's modification time (ns) when planned, None if absent."""

    src: str
    dst: str
    megapixels: float = 0.0
    stamp: int | None = None

    @classmethod
    def plan(cls, src: Path, dst: Path, megapixels: float = 0.0) -> Task:
        return cls(str(src), str(dst), megapixels, _stamp(dst))

    def row(self, status: str, error: str = "", seconds: float = 0.0) -> dict:
        return {"input": self.src, "output": self.dst, "status": status, "error": error,
                "seconds": round(seconds, 3), "megapixels": round(self.megapixels, 3)}  # fmt: skip


def _stamp(path: str | os.PathLike) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def photo_megapixels(path: str | os.PathLike) -> float:
    """A photo's size from its header (0 when unreadable: the worker reports why)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.width * im.height / 1e6
    except Exception:
        return 0.0


def chunks(tasks: list[Task], workers: int) -> list[list[Task]]:
    """Consecutive tasks cut into chunks of about equal megapixels (about four per worker, at most
    ``CHUNK_MEGAPIXELS`` unless one photo is larger); a photo of unknown size counts as small."""
    total = sum(max(t.megapixels, 0.01) for t in tasks)
    target = min(CHUNK_MEGAPIXELS, total / (4 * workers))
    out: list[list[Task]] = []
    load = 0.0
    for t in tasks:
        size = max(t.megapixels, 0.01)
        if not out or load + size > target:
            out.append([])
            load = 0.0
        out[-1].append(t)
        load += size
    return out


class Manifest:
    """``MANIFEST``: one CSV row per file and attempt, appended as results arrive; the last row wins."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.last: dict[tuple[str, str], dict] = {}
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.DictReader(f):
                    if row.get("status") and row.get("input") and row.get("output"):
                        self.last[row["input"], row["output"]] = row  # a cut-off last line has no status

    def done(self, src: Path, dst: Path) -> bool:
        """True if a run already wrote ``dst`` from ``src`` and it is still there."""
        row = self.last.get((str(src), str(dst)))
        return row is not None and row["status"] == "done" and dst.exists()

    def write(self, row: dict) -> None:
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        self.last[row["input"], row["output"]] = row


class Worker:
    """A Ray actor of the pool: builds the job's step once, then runs the chunks it is given."""

    def __init__(self, build: Callable[[], Step]):
        self.step = build()

    def __call__(self, batch: dict) -> dict:
        rows = [self.one(Task(**t)) for chunk in batch["chunk"] for t in json.loads(chunk)]
        return {"row": [json.dumps(r) for r in rows]}

    def one(self, task: Task) -> dict:
        if task.stamp != _stamp(task.dst):  # written by this job before a worker died and the chunk came back
            return task.row("done", "written before a retry")
        start = time.perf_counter()
        try:
            error = self.step(Path(task.src), Path(task.dst))
        except Exception as err:  # a bug in one file must not end the job
            first = (str(err).strip().splitlines() or [""])[0]
            error = f"{task.src}: unexpected error ({type(err).__name__}: {first}); please report it"
        return task.row("failed" if error else "done", error or "", time.perf_counter() - start)


def require() -> None:
    """Raise ``ClusterError`` (one line naming the extra) unless Ray can be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ClusterError(f"--ray needs Ray: {EXTRA}") from None


def connect(where: str) -> bool:
    """Join (or start, for ``local``) a Ray cluster; True if this call started Ray and should stop it."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray's start-up notices would bury the progress
    opts = dict(logging_level=logging.WARNING, include_dashboard=False, configure_logging=False)
    try:
        ray.init(address=where, **opts)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ClusterError(f"cannot reach the Ray cluster at {where}: {err}") from None
    return True


def run(tasks: list[Task], build: Callable[[], Step], threads: int,
        workers: int | None = None) -> Iterator[dict]:  # fmt: skip
    """Run ``tasks`` over the connected cluster; yields one manifest row per task as it finishes.

    ``build`` makes a worker's one-file step (pickled to every worker: a module-level function or a
    ``functools.partial`` of one). Each worker reserves ``threads`` CPUs (or one GPU where the cluster
    has GPUs); ``workers``: the pool's size (default: as many as the cluster holds)."""
    import ray
    import ray.data

    for name in ("ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
    gpus = int(ray.cluster_resources().get("GPU", 0))
    threads = min(threads, max(int(n["Resources"].get("CPU", 1)) for n in ray.nodes() if n["Alive"]))
    fits = gpus or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    workers = min(workers or fits, fits)  # a pool larger than the cluster holds would wait for ever
    parts = chunks(tasks, workers)
    items = [{"chunk": json.dumps([asdict(t) for t in part])} for part in parts]
    data = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        Worker, fn_constructor_args=(build,), batch_size=1, num_cpus=threads, num_gpus=1 if gpus else 0,
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(parts))),
    )  # fmt: skip
    for item in data.iter_rows():
        yield json.loads(item["row"])


class Progress:
    """Files and megapixels done, rate and time left, on stderr (files alone when sizes are unknown)."""

    def __init__(self, tasks: list[Task], quiet: bool):
        self.files, self.done = len(tasks), 0
        self.by_pixels = any(t.megapixels > 0 for t in tasks)
        unit, total = ("MP", sum(t.megapixels for t in tasks)) if self.by_pixels else ("file", self.files)
        self.bar = tqdm(total=total, unit=unit, disable=quiet, file=sys.stderr, dynamic_ncols=True,
                        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} MP [{elapsed}<{remaining}, "
                        "{rate_fmt}]{postfix}" if self.by_pixels else None)  # fmt: skip

    def update(self, row: dict) -> None:
        self.done += 1
        self.bar.update(float(row["megapixels"]) if self.by_pixels else 1)
        if self.by_pixels:
            self.bar.set_postfix_str(f"{self.done}/{self.files} files", refresh=False)

    def close(self) -> None:
        self.bar.close()


def batch(tasks: list[Task], build: Callable[[], Step], where: str, threads: int, workers: int | None,
          manifest: Manifest, quiet: bool, report: Callable[[str], None]) -> int:  # fmt: skip
    """Join the cluster, run ``tasks``, write a manifest row per file and show progress; how many were
    done. Failed files go to ``report``; a cluster that fails raises ``ClusterError``."""
    if not tasks:
        return 0
    started = connect(where)
    progress, done = Progress(tasks, quiet), 0
    try:
        for row in run(tasks, build, threads, workers):
            manifest.write(row)
            progress.update(row)
            done += row["status"] == "done"
            if row["status"] == "failed":
                report(row["error"])
    except Exception as err:  # the cluster itself failed: what is done stays done, the manifest says what
        first = (str(err).strip().splitlines() or [""])[0]
        msg = f"the Ray job stopped ({type(err).__name__}: {first}); run again to resume"
        raise ClusterError(msg) from None
    finally:
        progress.close()
        if started:
            shutdown()
    return done


def manifest_for(output: str | os.PathLike) -> Manifest:
    """The manifest of a batch writing to ``output`` (a folder, or one file: beside it)."""
    out = Path(output)
    return Manifest((out.parent if out.suffix and not out.is_dir() else out) / MANIFEST)


def shutdown() -> None:
    import ray

    ray.shutdown()
