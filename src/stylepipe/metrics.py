"""Warping error (Lai et al. 2018) of a frame sequence, and the per-run metrics report."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from stylepipe.flow import FlowEstimator, consistency_mask, warping_error
from stylepipe.frames import list_frames, read_rgb
from stylepipe.video import decode_frames, probe, scaled_size


def sequence_warping_errors(
    frames: Sequence[np.ndarray],
    flow_for: Callable[[int], tuple[np.ndarray, np.ndarray]],
) -> list[float]:
    """E_warp(t) for t = 1..N-1; `flow_for(t)` gives frame t's backward flow to t-1 and its reliability mask."""
    return [warping_error(frames[t], frames[t - 1], *flow_for(t)) for t in range(1, len(frames))]


def estimate_flows(frames: Sequence[np.ndarray], estimator: FlowEstimator) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """A `flow_for` that computes flow and mask from the frames themselves."""

    def flow_for(t: int) -> tuple[np.ndarray, np.ndarray]:
        bwd = estimator(frames[t], frames[t - 1])
        fwd = estimator(frames[t - 1], frames[t])
        return bwd, consistency_mask(bwd, fwd)

    return flow_for


def finite_mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def video_warping_errors(video: str | Path, width: int | None = None, method: str = "dis", preset: str = "medium") -> list[float]:
    """Per-frame E_warp of any video, with flow computed on the video itself."""
    meta = probe(video)
    size = scaled_size(meta.width, meta.height, width) if width else (meta.width, meta.height)
    with tempfile.TemporaryDirectory(prefix="stylepipe-warp-") as scratch:
        decode_frames(video, Path(scratch), size)
        frames = [read_rgb(path) for path in list_frames(scratch)]
    return sequence_warping_errors(frames, estimate_flows(frames, FlowEstimator(method, preset)))
