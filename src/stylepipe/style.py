"""Style inputs: images or videos, blends of several, and which style frame each content frame uses."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_dir, list_frames, read_rgb, write_rgb, write_text_atomic
from stylepipe.losses import gram_matrix
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


def _resize_rgb(frame: np.ndarray, width: int) -> np.ndarray:
    height, src_w = frame.shape[:2]
    size = scaled_size(src_w, height, width)
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
) -> dict:
    """Write each style's frames to `out_dir/style_<k>/` and the frame index to `index_path`."""
    entries = []
    with atomic_dir(out_dir) as scratch:
        for k, source in enumerate(sources):
            folder = scratch / f"style_{k}"
            folder.mkdir()
            fps: Fraction | None = None
            if source.is_image:
                write_rgb(folder / "000000.png", _resize_rgb(read_rgb(source.path), width))
                count = 1
            else:
                meta = probe(source.path)
                fps = meta.fps
                count = decode_frames(source.path, folder, scaled_size(meta.width, meta.height, width))
            frames = style_frame_index(content_frames, content_fps, count, fps, match)
            entries.append({"path": source.path, "weight": source.weight, "folder": f"style_{k}", "frames": count, "index": frames})
        index = {"match": match, "content_frames": content_frames, "styles": entries}
        write_text_atomic(index_path, json.dumps(index, indent=1))
    return index


class StyleTargets:
    """Gram-matrix targets for each content frame: blended over styles, averaged over a window of style frames.

    Averaging the Grams of 2*window+1 neighbouring style frames keeps the style video's own flicker out of
    the output. Grams of each style frame are computed once and cached.
    """

    def __init__(self, net: torch.nn.Module, style_dir: str | Path, index: dict, layers: Sequence[str], gram_window: int, device: str | torch.device) -> None:
        self.net = net
        self.style_dir = Path(style_dir)
        self.index = index
        self.layers = tuple(layers)
        self.window = gram_window
        self.device = device
        self._cache: dict[tuple[int, int], dict[str, torch.Tensor]] = {}

    def _frame_grams(self, style: int, frame: int) -> dict[str, torch.Tensor]:
        key = (style, frame)
        if key not in self._cache:
            entry = self.index["styles"][style]
            image = read_rgb(list_frames(self.style_dir / entry["folder"])[frame])
            tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).to(self.device)
            with torch.no_grad():
                features = self.net(tensor)
            self._cache[key] = {layer: gram_matrix(features[layer]) for layer in self.layers}
        return self._cache[key]

    def grams_for(self, content_frame: int) -> dict[str, torch.Tensor]:
        """The target Gram per style layer for content frame `content_frame`."""
        blended: dict[str, torch.Tensor] = {}
        for style, entry in enumerate(self.index["styles"]):
            centre = entry["index"][content_frame]
            lo, hi = max(0, centre - self.window), min(entry["frames"] - 1, centre + self.window)
            for frame in range(lo, hi + 1):
                grams = self._frame_grams(style, frame)
                share = entry["weight"] / (hi - lo + 1)
                for layer, gram in grams.items():
                    blended[layer] = blended[layer] + share * gram if layer in blended else share * gram
        return blended
