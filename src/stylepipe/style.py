"""Style inputs: images or videos, blends of several, and which style frame each content frame uses."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_dir, read_rgb, write_rgb, write_text_atomic
from stylepipe.video import decode_frames, probe, scaled_size

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
MATCH_MODES = ("stretch", "loop", "hold")


@dataclass(frozen=True)
class StyleSource:
    path: str
    weight: float = 1.0

    @property
    def is_image(self) -> bool:
        return Path(self.path).suffix.lower() in IMAGE_SUFFIXES


def parse_style_sources(style: str | Sequence[dict | str]) -> list[StyleSource]:
    """Config `style` (a path, or a list of paths / {path, weight}) to sources with weights summing to 1."""
    items = [style] if isinstance(style, str) else list(style)
    sources = [StyleSource(item) if isinstance(item, str) else StyleSource(item["path"], float(item.get("weight", 1.0))) for item in items]
    if not sources:
        raise StylepipeError("style: the list of styles is empty")
    if any(not source.path for source in sources):
        raise StylepipeError("config key 'style': a path is empty; give the path of an image or video")
    total = sum(source.weight for source in sources)
    if total <= 0:
        raise StylepipeError("style: the weights of the styles must add up to more than 0")
    return [StyleSource(source.path, source.weight / total) for source in sources]


def style_frame_index(content_frames: int, content_fps: Fraction, style_frames: int, style_fps: Fraction | None, match: str) -> list[int]:
    """Which style frame each content frame uses.

    `stretch` spreads the whole style video over the whole content video; `loop` plays the style at its own
    speed and starts again; `hold` plays it once at its own speed and then keeps its last frame.
    """
    if style_frames <= 1:
        return [0] * content_frames
    if match == "stretch":
        if content_frames == 1:
            return [0]
        return [round(i * (style_frames - 1) / (content_frames - 1)) for i in range(content_frames)]
    if style_fps is None:
        raise StylepipeError("style_video.match: loop and hold need the style video's frame rate")
    by_time = [math.floor(i / content_fps * style_fps) for i in range(content_frames)]
    if match == "loop":
        return [j % style_frames for j in by_time]
    if match == "hold":
        return [min(j, style_frames - 1) for j in by_time]
    raise StylepipeError(f"style_video.match: unknown mode '{match}'; use one of {', '.join(MATCH_MODES)}")


def style_frame_size(width: int, height: int, out_width: int, short_side: int | None = None) -> tuple[int, int]:
    """Size of the stored style frames: `out_width` wide (Gatys mode), or with the shorter side `short_side`
    (the arbitrary-style network, whose predictor takes a square of that size)."""
    if short_side is None:
        return scaled_size(width, height, out_width)
    scale = short_side / min(width, height)
    return max(short_side, round(width * scale)), max(short_side, round(height * scale))


def resize_rgb(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))


def extract_style_frames(
    sources: Sequence[StyleSource],
    out_dir: str | Path,
    index_path: str | Path,
    *,
    width: int,
    content_frames: int,
    content_fps: Fraction,
    match: str,
    short_side: int | None = None,
) -> dict:
    """Write each style's frames to `out_dir/style_<k>/` and the frame index to `index_path`."""
    entries = []
    with atomic_dir(out_dir) as scratch:
        for k, source in enumerate(sources):
            folder = scratch / f"style_{k}"
            folder.mkdir()
            fps: Fraction | None = None
            if source.is_image:
                image = read_rgb(source.path)
                size = style_frame_size(image.shape[1], image.shape[0], width, short_side)
                write_rgb(folder / "000000.png", resize_rgb(image, size))
                count = 1
            else:
                meta = probe(source.path)
                fps = meta.fps
                count = decode_frames(source.path, folder, style_frame_size(meta.width, meta.height, width, short_side))
            frames = style_frame_index(content_frames, content_fps, count, fps, match)
            entries.append({"path": source.path, "weight": source.weight, "folder": f"style_{k}", "frames": count, "index": frames})
        index = {"match": match, "content_frames": content_frames, "styles": entries}
        write_text_atomic(index_path, json.dumps(index, indent=1))
    return index


def style_frame_shares(index: dict, content_frame: int, window: int) -> list[tuple[int, int, float]]:
    """(style, style frame, share) for content frame `content_frame`: each style's weight spread evenly over the
    2*window+1 style frames around the one the index gives it (fewer at the ends). The shares add up to 1."""
    shares = []
    for style, entry in enumerate(index["styles"]):
        centre = entry["index"][content_frame]
        lo, hi = max(0, centre - window), min(entry["frames"] - 1, centre + window)
        shares += [(style, frame, entry["weight"] / (hi - lo + 1)) for frame in range(lo, hi + 1)]
    return shares
