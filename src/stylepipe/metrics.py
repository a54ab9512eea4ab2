"""Warping error (Lai et al. 2018) of a frame sequence, and the per-run metrics report."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stylepipe.flow import FlowEstimator, consistency_mask, warping_error
from stylepipe.frames import list_frames, read_frame
from stylepipe.video import decode_frames, probe, scaled_size


def finite_mean(values: Sequence[float | None]) -> float:
    """The mean of the values that are numbers (not None, not NaN); NaN when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def video_warping_errors(video: str | Path, width: int | None = None, method: str = "dis", preset: str = "medium",
                         interpolation: str = "bilinear") -> list[float]:
    """Per-frame E_warp of any video, with flow computed on the video itself; two frames in memory at a time."""
    meta = probe(video)
    size = scaled_size(meta.width, meta.height, width) if width else (meta.width, meta.height)
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
