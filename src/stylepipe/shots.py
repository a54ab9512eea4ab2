"""Shot boundaries (cuts); `frames.chunk_layout` turns the shots into chains of chunks. No torch here.

A cut is a frame whose structure cannot be explained by the frame before it moved along an optical flow:

- Both frames are shrunk to `DETECT_WIDTH` pixels, made grey and normalised to zero mean and unit contrast,
  so that a fade (a gain) or a dissolve (a slow mix) changes almost nothing between neighbours.
- The previous frame is warped onto the current one by DIS flow, so that a pan or a moving object explains
  itself, and the score is the share of pixels that still differ by more than `RESIDUAL` contrast units.
- As in PySceneDetect's adaptive detector, a score counts only where it stands out from its neighbours: at least
  `threshold`, and `NEIGHBOUR_RATIO` times the median of the scores either side, so that a stretch of hard
  motion (water, a crowd) that no flow explains does not cut a shot into pieces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from stylepipe.flow import warp_backward

# 256 px and DIS's medium preset follow a pan of 15% of the width a frame (bench/shot_cuts.py prints the scores).
DETECT_WIDTH = 256
RESIDUAL = 0.6  # in units of the frame's own contrast (standard deviation)
FLAT_CONTRAST = 4.0 / 255  # below this a frame has no structure to compare (black in a fade)
FLAT_JUMP = 0.25  # a mean-brightness jump this big between flat and textured frames is a cut (black to a bright shot)
NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
NEIGHBOR_RATIO = 2.5
NEIGHBORS = 3  # scores either side that the median compares against


@dataclass(frozen=True)
class _Prepared:
    grey: np.ndarray  # normalised, float32
    image: np.ndarray  # uint8 for the flow: the normalised picture at a fixed contrast
    mean: float
    contrast: float
    noise: float  # the sensor noise's standard deviation, in units of the contrast


def _prepare(frame: np.ndarray) -> _Prepared:
    height, width = frame.shape[:2]
    small_w = min(width, DETECT_WIDTH)
    small_h = max(8, round(height * small_w / width))
    grey = cv2.cvtColor(cv2.resize(frame, (small_w, small_h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32) / 255
    mean, contrast = float(grey.mean()), float(grey.std())
    normalized = (grey - mean) / max(contrast, FLAT_CONTRAST)
    image = np.clip(128 + 40 * normalized, 0, 255).astype(np.uint8)
    # Immerkaer's estimate with a median, which edges barely move: a dim frame in a fade is mostly noise once
    # normalised, and its pixels must not count as unexplained.
    laplacian = cv2.filter2D(normalized, -1, NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)
    noise = 1.4826 * float(np.median(np.abs(laplacian))) / 6
    return _Prepared(normalized, image, mean, contrast, noise)


def _pair_score(before: _Prepared, after: _Prepared) -> float:
    """Share of `after`'s pixels that `before`, moved along the flow, does not explain (0..1)."""
    if min(before.contrast, after.contrast) < FLAT_CONTRAST:
        return 1.0 if abs(after.mean - before.mean) > FLAT_JUMP else 0.0
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(after.image, before.image, None)
    warped = warp_backward(before.grey, flow)
    height, width = after.grey.shape
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    # Pixels that the flow sends outside the frame came into view (a pan): nothing in `before` shows them.
    inside = ((grid_x + flow[..., 0] >= 0) & (grid_x + flow[..., 0] <= width - 1)
              & (grid_y + flow[..., 1] >= 0) & (grid_y + flow[..., 1] <= height - 1))
    if inside.mean() < 0.25:
        return 1.0
    # Pixels differ by noise alone up to about three standard deviations of the two frames' noise together.
    tolerance = max(RESIDUAL, 3 * float(np.hypot(before.noise, after.noise)))
    return float((np.abs(after.grey - warped)[inside] > tolerance).mean())


def cut_scores(frames: Iterable[np.ndarray]) -> list[float]:
    """One score per frame: how little of it the frame before explains; the first frame scores 0."""
    scores: list[float] = []
    before: _Prepared | None = None
    for frame in frames:
        current = _prepare(frame)
        scores.append(0.0 if before is None else _pair_score(before, current))
        before = current
    return scores


def find_cuts(scores: Sequence[float], threshold: float, min_frames: int) -> list[int]:
    """Frames that start a new shot (never 0): scores that pass `threshold` and stand out from their neighbours.

    A cut closer than `min_frames` to the previous one (or to the start) is dropped, keeping the shot long
    enough to be worth a chain of its own.
    """
    cuts: list[int] = []
    for t in range(1, len(scores)):
        if scores[t] < threshold:
            continue
        around = [scores[k] for k in range(max(1, t - NEIGHBORS), min(len(scores), t + NEIGHBORS + 1)) if k != t]
        if around and scores[t] < NEIGHBOR_RATIO * float(np.median(around)):
            continue
        if t - (cuts[-1] if cuts else 0) < min_frames:
            continue
        cuts.append(t)
    return cuts


def shots_from_cuts(cuts: Sequence[int], frame_count: int) -> list[list[int]]:
    """[start, end) of every shot, end exclusive, covering all `frame_count` frames."""
    bounds = [0, *[c for c in cuts if 0 < c < frame_count], frame_count]
    return [[a, b] for a, b in zip(bounds, bounds[1:]) if b > a]
