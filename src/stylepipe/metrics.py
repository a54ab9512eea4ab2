"""Warping error (Lai et al. 2018) of a frame sequence, and the per-run metrics report."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stylepipe.errors import StylepipeError
from stylepipe.flow import FlowEstimator, consistency_mask, warping_error
from stylepipe.frames import list_frames, read_frame
from stylepipe.video import decode_frames, probe, scaled_size


# The smallest frame side DIS optical flow works on (its patches are 8 px, on a pyramid).
MIN_FLOW_SIDE = 16


def finite_mean(values: Sequence[float | None]) -> float:
    """The mean of the values that are numbers (not None, not NaN); NaN when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def thirds(values: Sequence[float]) -> tuple[float, float]:
    """Mean over the first and the last third: drift along a shot shows as the second differing from the first."""
    n = max(1, len(values) // 3)
    return float(np.mean(values[:n])), float(np.mean(values[-n:]))


def video_warping_errors(video: str | Path, width: int | None = None, method: str = "dis", preset: str = "medium",
                         interpolation: str = "bilinear") -> list[float]:
    """Per-frame E_warp of any video, with flow computed on the video itself; two frames in memory at a time."""
    meta = probe(video)
    size = scaled_size(meta.width, meta.height, width) if width else (meta.width, meta.height)
    if min(size) < MIN_FLOW_SIDE:
        raise StylepipeError(f"{video}: {size[0]}x{size[1]} is too small to measure; optical flow needs at least "
                             f"{MIN_FLOW_SIDE} pixels a side (give a larger --width)")
    estimator = FlowEstimator(method, preset)
    errors: list[float] = []
    with tempfile.TemporaryDirectory(prefix="stylepipe-warp-") as scratch:
        decode_frames(video, Path(scratch), size)
        paths = list_frames(scratch)
        previous = read_frame(paths[0])
        for path in paths[1:]:
            frame = read_frame(path)
            bwd = estimator(frame, previous)
            mask = consistency_mask(bwd, estimator(previous, frame))
            errors.append(warping_error(frame, previous, bwd, mask, interpolation))
            previous = frame
    return errors


# The blur before the gradients: a stroke texture's own fine edges are not the picture's structure.
EDGE_BLUR_SIGMA = 1.0


def edge_magnitude(frame: np.ndarray, sigma: float = EDGE_BLUR_SIGMA) -> np.ndarray:
    """Sobel gradient magnitude of the frame's luma after a Gaussian blur of `sigma` pixels (HxW float32)."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY).astype(np.float32) if frame.ndim == 3 else frame.astype(np.float32)
    blurred = cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    return np.hypot(gx, gy)


def edge_correlation(content: np.ndarray, output: np.ndarray) -> float:
    """How much of the content's structure a frame keeps: the Pearson correlation of the two frames' edge magnitudes
    (`edge_magnitude`), 1 for the content itself, about 0 for a picture unrelated to it. NaN when either frame is flat."""
    a, b = edge_magnitude(content).ravel(), edge_magnitude(output).ravel()
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else float("nan")
