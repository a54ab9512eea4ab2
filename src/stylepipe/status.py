"""`stylepipe status`: how far each output has got, read from its chunk folders and job logs.

It only reads files, so it works while Snakemake runs in another terminal: finished chunks count their
frames, the chunk in flight from the last progress line of its job's log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from stylepipe.disk import folder_bytes, human_bytes
from stylepipe.fingerprint import changed_since_stamp, stamp_path
from stylepipe.frames import list_frames
from stylepipe.jobs.common import format_duration

PROGRESS_LINE = re.compile(r"progress: (\d+)/(\d+) frames .*?([0-9.]+) s a frame")
STYLIZE_STAGES = (("stylized", "stylize"), ("feedforward", "feedforward"))


@dataclass
class OutputStatus:
    """Where one output stands. `state` is done, running, stopped, failed, stale (an input changed since the video was
    made) or not started."""

    name: str
    state: str
    total: int | None
    stylized: int
    seconds_per_frame: float | None
    in_flight: list[str]
    error: str | None = None
    cache_bytes: int = 0  # what results/<name>/ holds: frames, flow, logs, metrics

    @property
    def eta_seconds(self) -> float | None:
        if self.total is None or self.seconds_per_frame is None:
            return None
        return (self.total - self.stylized) * self.seconds_per_frame

    def cache(self) -> str:
        per_frame = f", {human_bytes(self.cache_bytes / self.total)} a frame" if self.total else ""
        return f"cache {human_bytes(self.cache_bytes)}{per_frame}"

    def line(self) -> str:
        if self.state == "stale":
            return f"{self.name}: stale: {self.error}; {self.cache()}"
        if self.state == "done":
            speed = f", {self.seconds_per_frame:.3f} s a frame" if self.seconds_per_frame is not None else ""
            return f"{self.name}: done, results/{self.name}.mp4 ({self.total} frames{speed}); {self.cache()}"
        if self.total is None:
            return f"{self.name}: {self.state}, the content video is not probed yet"
        parts = [f"{self.name}: {self.stylized}/{self.total} frames stylised ({100 * self.stylized / max(1, self.total):.0f}%)"]
        if self.seconds_per_frame is not None:
            parts.append(f"{self.seconds_per_frame:.3f} s a frame")
            parts.append(f"ETA {format_duration(self.eta_seconds or 0)}")
        state = self.state + (f" ({', '.join(self.in_flight)})" if self.in_flight and self.state == "running" else "")
        if self.error:
            state += f": {self.error}"
        return ", ".join(parts) + f"; {state}; {self.cache()}"


def _finished_seconds(folder: Path) -> list[float]:
    try:
        return [float(frame["seconds"]) for frame in json.loads((folder / "stats.json").read_text())["frames"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def snakemake_is_running(workdir: Path) -> bool:
    """Snakemake holds lock files while it runs (a kill -9 leaves them; `snakemake --unlock` clears them)."""
    locks = workdir / ".snakemake" / "locks"
    return locks.is_dir() and any(locks.iterdir())


def output_status(results: Path, name: str) -> OutputStatus:
    root = results / name
    total = None
    if (root / "meta.json").is_file():
        total = int(json.loads((root / "meta.json").read_text())["frame_count"])
    partial, seconds, in_flight, latest, error = 0, [], [], None, None
    # Frame numbers, not files: a segment's overlap frames are stylised twice but are one frame of the video.
    finished: set[str] = set()
    for folder, log_prefix in STYLIZE_STAGES:
        for chunk in sorted((root / folder).glob("chunk_*")) if (root / folder).is_dir() else []:
            finished.update(path.stem for path in list_frames(chunk))
            seconds += _finished_seconds(chunk)
        for log in sorted((root / "logs").glob(f"{log_prefix}_*.log")):
            chunk_id = log.stem.split("_")[-1]
            if (root / folder / f"chunk_{chunk_id}").is_dir():  # renamed into place only when finished
                continue
            lines = log.read_text(errors="replace").splitlines()
            if lines and lines[-1].startswith("error:"):
                error = lines[-1][len("error:"):].strip()
                continue
            matches = [PROGRESS_LINE.search(line) for line in lines]
            last = next((m for m in reversed(matches) if m), None)
            done = int(last.group(1)) if last else 0
            partial += done
            in_flight.append(f"chunk {chunk_id} at {done}/{last.group(2)}" if last else f"chunk {chunk_id} starting")
            if last:
                latest = float(last.group(3))
    # The network's frames are removed once blended (keep_intermediates): the blended frames count for them.
    for chunk in sorted((root / "stable").glob("chunk_*")):
        finished.update(path.stem for path in list_frames(chunk))
    stylized = len(finished)
    per_frame = latest if latest is not None else (sum(seconds) / len(seconds) if seconds else None)
    video = results / f"{name}.mp4"
    running = snakemake_is_running(results.parent)
    if running:
        stylized += partial  # a stopped job's frames are redone from its chunk's start, so they do not count
    else:
        in_flight = []
    changed = changed_inputs(results, name) if video.is_file() else []
    if changed and not running:
        state, error = "stale", f"{', '.join(changed)} changed since results/{name}.mp4 was made; give the same command again"
    elif total is not None and video.is_file() and stylized >= total and not in_flight:
        state = "done"
    elif error:
        state = "failed"
    elif running and (in_flight or total is None or stylized < total or not video.is_file()):
        state = "running"
    elif not stylized and not in_flight:
        state = "not started"
    else:
        state = "stopped" if not video.is_file() or stylized < (total or 0) else "done"
    return OutputStatus(name, state, total, stylized, per_frame, in_flight, error, folder_bytes(root))


def changed_inputs(results: Path, name: str) -> list[str]:
    """The input files of output `name` (its content video and styles, as its probe and style index name them)
    whose content differs from what the output was made from: their bytes no longer match their stamp, or the stamp
    is newer than the video."""
    root = results / name
    paths: list[str] = []
    for file, read in (("meta.json", lambda data: [data["path"]]), ("style_index.json", lambda data: [e["path"] for e in data["styles"]])):
        try:
            paths += read(json.loads((root / file).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    video_time = (results / f"{name}.mp4").stat().st_mtime_ns
    changed = []
    for path in paths:
        stamp = stamp_path(path, results / ".inputs")
        if not Path(path).is_file() or not stamp.is_file():
            continue
        if changed_since_stamp(path, results / ".inputs") or stamp.stat().st_mtime_ns > video_time:
            changed.append(path)
    return changed


def output_names(results: Path) -> list[str]:
    """Every output that has begun: a folder under results/ with a probe or logs."""
    if not results.is_dir():
        return []
    return sorted(p.name for p in results.iterdir() if p.is_dir() and not p.name.startswith(".") and ((p / "meta.json").is_file() or (p / "logs").is_dir()))


def name_from_argument(argument: str) -> str:
    """`out`, `results/out`, `results/out/` and `results/out.mp4` all name the output `out`."""
    path = Path(argument)
    return path.stem if path.suffix == ".mp4" else path.name
