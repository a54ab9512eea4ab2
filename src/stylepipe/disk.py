"""What a run will write, estimated before its first job, and the cache each output holds.

A three-minute 1080p clip caches tens of gigabytes; a run that cannot fit should say so before it starts, not fail
an hour in with a full disk. Nothing here imports torch.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylepipe.errors import StylepipeError
from stylepipe.flow import working_size
from stylepipe.jobs.temporal import REPORT_PAIRS
from stylepipe.plan import flow_offsets, frames_looked_back, video_stage
from stylepipe.video import VideoMeta, header_size_and_frames, scaled_size

# Bytes a cached frame takes per pixel, measured at 720p (bench/real_resolution.py, docs/performance.md) and
# rounded up: content frames are JPEG at 0.2, a stage's stylised frames PNG at up to 3.0 (the network's are stored
# uncompressed), blended frames JPEG at 0.73. The network's frames are removed once blended, but a run holds them
# until then, so they count.
CONTENT_BYTES_PER_PIXEL = 0.4
STYLIZED_BYTES_PER_PIXEL = 3.1
BLENDED_BYTES_PER_PIXEL = 1.0
# One offset's flow (two int16) and mask per pixel at the flow's working size, deflated: 0.43 measured at 640x360.
FLOW_BYTES_PER_PIXEL = 1.0
# The report's own flow for a measured frame pair, at the frames' size: 0.47 measured at 720p. There are at most
# REPORT_PAIRS of them (and the seams') whatever the clip's length.
REPORT_FLOW_BYTES_PER_PIXEL = 0.6
# The delivered video: H.264 at crf 18 of stylised texture, with room for the audio.
VIDEO_BYTES_PER_PIXEL = 0.4


@dataclass(frozen=True)
class RunEstimate:
    """What one output's finished cache and video hold, estimated from its content video's header."""

    frames: int
    size: tuple[int, int]
    bytes_per_frame: float

    @property
    def total(self) -> int:
        return int(self.frames * self.bytes_per_frame)


def cached_bytes_per_pixel(variant: Mapping[str, Any]) -> tuple[float, float]:
    """Bytes per output pixel that each frame caches at most during a run (content, stylised and blended frames,
    video), and per flow working pixel."""
    blended = BLENDED_BYTES_PER_PIXEL if video_stage(variant) == "stable" else 0.0
    per_pixel = CONTENT_BYTES_PER_PIXEL + STYLIZED_BYTES_PER_PIXEL + blended + VIDEO_BYTES_PER_PIXEL
    uses_flow = video_stage(variant) == "stable" or frames_looked_back(variant) > 0
    return per_pixel, FLOW_BYTES_PER_PIXEL * len(flow_offsets(variant)) if uses_flow else 0.0


def estimate_run(variant: Mapping[str, Any], meta: VideoMeta | None = None) -> RunEstimate:
    """The most bytes an output's run holds: from its meta.json when the probe has run, else from the content
    video's header (its frame count or duration times rate)."""
    if meta is not None:
        width, height, frames = meta.width, meta.height, meta.frame_count
    else:
        width, height, frames = header_size_and_frames(variant["content"])
    size = scaled_size(width, height, variant["width"])
    flow_width = variant["flow"]["width"] if isinstance(variant["flow"]["width"], int) else size[0]
    flow_size = working_size(*size, flow_width)
    per_pixel, per_flow_pixel = cached_bytes_per_pixel(variant)
    per_frame = per_pixel * size[0] * size[1] + per_flow_pixel * flow_size[0] * flow_size[1]
    per_frame += REPORT_FLOW_BYTES_PER_PIXEL * size[0] * size[1] * min(frames, REPORT_PAIRS) / max(1, frames)
    return RunEstimate(frames=frames, size=size, bytes_per_frame=per_frame)


def folder_bytes(folder: str | Path) -> int:
    """Bytes of the files under `folder` (0 when it does not exist)."""
    folder = Path(folder)
    if folder.is_file():
        return folder.stat().st_size
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def check_room(results: Path, variants: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Stop with one line when the outputs `variants` (name -> config) still have more to write than the disk holding
    `results` has free; what an output has cached already counts as written. An output whose content a rule of the
    run makes (the demo) is left out. Returns a line per output to print."""
    lines, needed = [], 0
    for name, variant in variants.items():
        meta_path = results / name / "meta.json"
        if not meta_path.is_file() and not Path(variant["content"]).is_file():
            continue
        estimate = estimate_run(variant, VideoMeta.from_json_file(meta_path) if meta_path.is_file() else None)
        written = folder_bytes(results / name) + folder_bytes(results / f"{name}.mp4")
        left = max(0, estimate.total - written)
        needed += left
        lines.append(f"results/{name}: about {human_bytes(estimate.total)} at most ({estimate.frames} frames at "
                     f"{estimate.size[0]}x{estimate.size[1]}, {human_bytes(estimate.bytes_per_frame)} a frame), "
                     f"{human_bytes(left)} of it still to write")
    existing = results if results.exists() else results.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise StylepipeError(f"{existing.resolve()}: this run would write about {human_bytes(needed)} and the disk has "
                             f"{human_bytes(free)} free ({'; '.join(lines)}); free some space, or lower `width`, and "
                             "give the same command again")
    return lines
