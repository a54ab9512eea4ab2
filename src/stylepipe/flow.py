"""Optical flow, backward warping and Ruder et al.'s forward-backward consistency check.

Convention: `flow_bwd` for frame t points from frame t to frame t-d: pixel x of frame t shows the scene point
that frame t-d shows at x + flow_bwd[x]. `warp_backward(frame_prev, flow_bwd)` therefore brings frame t-d
onto frame t's pixel grid.
"""

from __future__ import annotations

import threading
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # torch is imported only where the differentiable warp is used (training)
    import torch

from stylepipe.errors import StylepipeError
from stylepipe.frames import set_aside

FLOW_METHODS = ("dis", "farneback")
# Frames a flow job's thread takes in turn (reading the frames it looks back to itself): the unit its threads share.
FLOW_RUN = 8
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    "fine": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# `fine` is medium down to full resolution (OpenCV's presets stop a pyramid level or more above it), with twice the
# variational refinement, and where the picture is flat, a smoother flow. Gatys mode carries each frame's strokes
# along the flow, and a stroke texture has far sharper edges than the content, so a flow error shows as flicker. The
# worst errors are where the picture is flat (a sky, a wall): there the only thing for DIS to match is compression
# noise. A flow with three times the refinement and four times its smoothness weight fills those areas from around
# them, but taken everywhere it blurs the motion across a moving object's rim (twice the error on a painted disc) and
# spreads it into a flat sky beside it, so it is taken in proportion to how flat the frame is (`flat_share`). On
# photographs panned and crossed by a disc, through H.264 (bench/flow_truth.py: astronaut, night sky, cat), the
# background's end-point error against the true motion is 0.09, 0.33 and 0.07 px (medium: 0.12, 0.45, 0.10; the
# sharp flow alone, this preset until now: 0.11, 0.44, 0.07), and near the disc's rim 0.88, 1.31, 0.64 px (0.89,
# 1.34, 0.64). It costs about 12x medium's time (21 ms a pair at 192 px; 30 with DOMINANT_AGREEMENT's snap below),
# nothing beside a Gatys frame.
SHARP_DIS = {"finest_scale": 0, "variational_refinement_iterations": 10}
SMOOTH_DIS = {"finest_scale": 0, "variational_refinement_iterations": 30, "variational_refinement_alpha": 80.0}
# Gradient energy (grey levels squared per pixel, over a 1.5 px window) at which a pixel counts half flat: about
# 2 levels a pixel, a little above the grain of an H.264 sky.
FLAT_GRADIENT_ENERGY = 4.0
# Even smoothed, a flat area's flow is what its grain suggests (0.33 px off in a night sky). Where the picture is flat
# and that flow agrees with the frame's dominant motion (a homography fitted robustly to the textured pixels' flow:
# the camera's motion over a far or flat scene) within DOMINANT_AGREEMENT px, fully, fading to nothing at twice that,
# the flow is taken to be the dominant motion: a flat area has nothing of its own to say, and a fast object differs by
# more. Background end-point error against the true motion (bench/flow_truth.py, 192 px through H.264, with the
# neighbours' check below): night sky 0.19 px (0.33 before), astronaut 0.08 (0.09), cat 0.06 (0.07); near the disc's
# rim the same. Taken everywhere, not only where flat, it would force one plane's motion on textured parallax, where
# DIS measures well.
DOMINANT_AGREEMENT = 1.0
# ... unless the textured pixels around it say otherwise: where those within NEIGHBOUR_WINDOW (a fraction of the
# frame's width) move, on average, more than NEIGHBOUR_AGREEMENT px from the dominant motion (fully at that, not at
# all at twice it), the flat pixels among them are taken to move with them (a slowly moving object, parallax), not
# with the camera. Pixels count as textured below a flat share of TEXTURED_FLAT_SHARE. Without this, a cup moving
# 0.5 px a frame against the camera was pulled towards the camera's motion where it is smooth (its error there 0.056
# to 0.067 px on the astronaut clip); with it, 0.056, while the night sky keeps most of its gain (0.19 px). A smooth
# part of such an object further than half the window from any of its textured pixels still takes the camera's motion.
# A wider window (0.13 of the width) kept less of the sky's gain (0.21 px).
NEIGHBOUR_AGREEMENT = 0.25
NEIGHBOUR_WINDOW = 0.08
TEXTURED_FLAT_SHARE = 0.1
# RANSAC's inlier distance (px), the samples it fits (a fixed draw, so a pair's flow is the same on every run), and the
# fewest textured pixels, and the least share of them that must follow one homography, for a frame to have a
# dominant motion at all.
DOMINANT_INLIER_PX = 0.5
DOMINANT_SAMPLES = 4000
DOMINANT_MIN_POINTS = 64
DOMINANT_MIN_INLIERS = 0.3

# Ruder et al. 2016, section 3.1: thresholds of the disocclusion and motion-boundary tests.
DISOCCLUSION_RATIO = 0.01
DISOCCLUSION_OFFSET = 0.5
BOUNDARY_RATIO = 0.01
BOUNDARY_OFFSET = 0.002


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """Dense optical flow between two RGB uint8 frames (OpenCV DIS or Farneback; no weights needed)."""

    def __init__(self, method: str = "dis", preset: str = "medium", *, finest: bool = False) -> None:
        """`finest` runs DIS down to the frames' own resolution. The presets below `fine` stop a pyramid level or
        more above it (medium: at half size), which is what shrinking the frames to a working size does already."""
        if method not in FLOW_METHODS:
            raise StylepipeError(f"config key 'flow.method': unknown method '{method}'; use one of {', '.join(FLOW_METHODS)}")
        if method == "dis" and preset not in DIS_PRESETS:
            raise StylepipeError(f"config key 'flow.preset': unknown DIS preset '{preset}'; use one of {', '.join(DIS_PRESETS)}")
        self.method = method
        self.preset = preset
        self.finest = finest

    def __call__(self, frame: np.ndarray, other: np.ndarray) -> np.ndarray:
        """Flow from `frame` to `other` (HxWx2 float32): frame[x] ≈ other[x + flow[x]]."""
        a, b = _grey(frame), _grey(other)
        if self.method == "dis":
            # A fresh DIS object per pair (about 6 µs): a reused one keeps state between calls, which made
            # a pair's flow depend on the pairs computed before it.
            if self.preset == "fine":
                flat = flat_share(a)
                flow = (1 - flat[..., None]) * dis_flow(a, b, SHARP_DIS) + flat[..., None] * dis_flow(a, b, SMOOTH_DIS)
                return snap_flat_to_dominant_motion(flow, flat).astype(np.float32)
            dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.preset])
            if self.finest:
                dis.setFinestScale(0)
            return dis.calc(a, b, None)
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)


def dis_flow(a: np.ndarray, b: np.ndarray, settings: dict[str, float]) -> np.ndarray:
    """DIS flow from grey frame `a` to `b`, from the medium preset with `settings` (SHARP_DIS, SMOOTH_DIS) on top."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(int(settings["finest_scale"]))
    dis.setVariationalRefinementIterations(int(settings["variational_refinement_iterations"]))
    if "variational_refinement_alpha" in settings:
        dis.setVariationalRefinementAlpha(settings["variational_refinement_alpha"])
    return dis.calc(a, b, None)


def flat_share(grey: np.ndarray) -> np.ndarray:
    """Per pixel, from 0 (edges, texture) towards 1 (flat): how little image gradient there is to match a flow to."""
    image = grey.astype(np.float32)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3) / 8
    energy = cv2.GaussianBlur(gx * gx + gy * gy, (0, 0), 1.5)
    return FLAT_GRADIENT_ENERGY / (energy + FLAT_GRADIENT_ENERGY)


def dominant_motion(flow: np.ndarray, flat: np.ndarray) -> np.ndarray | None:
    """The flow of the homography most of the textured pixels' flow follows (HxWx2), or None when too few pixels
    are textured or too few of them follow one homography."""
    height, width = flow.shape[:2]
    textured = np.flatnonzero(flat.ravel() < 0.5)
    if textured.size < DOMINANT_MIN_POINTS:
        return None
    picked = np.random.default_rng(0).choice(textured, min(DOMINANT_SAMPLES, textured.size), replace=False)
    source = np.stack([picked % width, picked // width], axis=1).astype(np.float32)
    target = source + flow.reshape(-1, 2)[picked]
    homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, DOMINANT_INLIER_PX)
    if homography is None or inliers.mean() < DOMINANT_MIN_INLIERS:
        return None
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), axis=-1)
    return cv2.perspectiveTransform(grid.reshape(-1, 1, 2), homography).reshape(height, width, 2) - grid


def snap_flat_to_dominant_motion(flow: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """`flow` moved towards the frame's dominant motion in proportion to how flat the picture is (`flat`, from
    `flat_share`), where the two agree within DOMINANT_AGREEMENT px and the textured pixels around follow the dominant
    motion within NEIGHBOUR_AGREEMENT px (each fading out at twice its figure)."""
    dominant = dominant_motion(flow, flat)
    if dominant is None:
        return flow
    deviation = (flow - dominant).astype(np.float32)
    apart = np.hypot(deviation[..., 0], deviation[..., 1])
    textured = (flat < TEXTURED_FLAT_SHARE).astype(np.float32)
    side = max(3, int(NEIGHBOUR_WINDOW * flow.shape[1]) // 2 * 2 + 1)
    count = cv2.boxFilter(textured, -1, (side, side), normalize=False)
    votes = [cv2.boxFilter(textured * deviation[..., k], -1, (side, side), normalize=False) for k in range(2)]
    # Where no textured pixel is near (open sky), nothing says the area moves otherwise.
    neighbours_apart = np.where(count >= 1, np.hypot(*votes) / np.maximum(count, 1), 0.0)
    share = flat * np.clip(2 - apart / DOMINANT_AGREEMENT, 0, 1) * np.clip(2 - neighbours_apart / NEIGHBOUR_AGREEMENT, 0, 1)
    return flow - share[..., None] * deviation


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


# Gatys mode warps its own output again on every frame (warm start and temporal target), so whatever one warp
# does to a frequency compounds over a shot. Bilinear sampling at a sub-pixel offset damps fine detail (x0.59 at
# 0.3 cycles/px for a half-pixel shift): the output smears along the motion. Keys' cubic and Lanczos overshoot
# (up to x1.04 and x1.03 per warp), so 30 frames of a pan raise stripes of 3-7 px period to 1.6-2x their
# strength. A cardinal cubic B-spline never gains (at most x1 at every shift and frequency) and keeps x0.93
# at 0.3 cycles/px: detail fades slowly, nothing grows.
INTERPOLATIONS = {"bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4, "spline": None}


def warp_backward(image: np.ndarray, flow: np.ndarray, interpolation: str = "bilinear") -> np.ndarray:
    """Sample `image` at x + flow[x] (edge pixels repeated); same dtype and channels as `image`."""
    map_x, map_y = sample_grid(flow.astype(np.float32))
    if interpolation == "spline":
        return _spline_sample(image, map_x, map_y)
    return cv2.remap(image, map_x, map_y, INTERPOLATIONS[interpolation], borderMode=cv2.BORDER_REPLICATE)


# The cubic B-spline prefilter's impulse response, sqrt(3) * z^|k| with z = sqrt(3) - 2, cut where it falls
# below 1e-4 of its centre: a few hundredths of a uint8 step.
_POLE = np.sqrt(3) - 2
_PREFILTER = (np.sqrt(3) * _POLE ** np.abs(np.arange(-7, 8))).astype(np.float32)


def spline_coefficients(image: np.ndarray) -> np.ndarray:
    """Cubic B-spline coefficients of `image` (HxW or HxWxC, float32 out): the spline through them passes through
    every pixel. The image is mirrored about its edge pixels, as the sampling in `warp_backward` assumes."""
    return cv2.sepFilter2D(image.astype(np.float32), -1, _PREFILTER, _PREFILTER, borderType=cv2.BORDER_REFLECT_101)


def _spline_taps(coordinate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The four B-spline weights about `coordinate`, folded into two linear samples (Sigg and Hadwiger 2005):
    the first sample's weight (the second's is 1 minus it) and the two positions, as float32."""
    base = np.floor(coordinate)
    t = coordinate - base
    w0, w1, w3 = (1 - t) ** 3 / 6, (4 - 6 * t * t + 3 * t**3) / 6, t**3 / 6
    near = w0 + w1
    return near, (base - 1 + w1 / near).astype(np.float32), (base + 1 + w3 / (1 - near)).astype(np.float32)


def _mix_into(first: np.ndarray, second: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """weight * first + (1 - weight) * second, written over `first`; `weight` is per pixel (HxW)."""
    first -= second
    first *= weight if first.ndim == 2 else weight[..., None]
    first += second
    return first


def _spline_sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    coefficients = spline_coefficients(image)
    height, width = image.shape[:2]
    # Past the edge the sample is the edge pixel's value, as cv2's BORDER_REPLICATE gives the other methods.
    near_x, left, right = _spline_taps(np.clip(map_x, 0, width - 1))
    near_y, top, bottom = _spline_taps(np.clip(map_y, 0, height - 1))
    top_row, bottom_row = (
        _mix_into(*(cv2.remap(coefficients, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101) for x in (left, right)), near_x)
        for y in (top, bottom)
    )
    result = _mix_into(top_row, bottom_row, near_y)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        return np.clip(np.rint(result), info.min, info.max).astype(image.dtype)
    return result.astype(image.dtype)


def consistency_mask(flow_bwd: np.ndarray, flow_fwd: np.ndarray) -> np.ndarray:
    """Ruder et al.'s reliability of `flow_bwd` (frame t to t-d) given `flow_fwd` (frame t-d to t).

    A pixel of frame t is unreliable (False) when it is disoccluded,
    |w_b + w_f(x + w_b)|^2 > 0.01 (|w_b|^2 + |w_f(x + w_b)|^2) + 0.5,
    when it lies on a motion boundary, |grad w_b|^2 > 0.01 |w_b|^2 + 0.002,
    or when x + w_b falls outside frame t-d.
    """
    fwd_at_target = warp_backward(flow_fwd.astype(np.float32), flow_bwd)
    # Channel by channel: numpy's sum over a last axis of two is slower than the rest of this function together.
    bx, by = flow_bwd[..., 0], flow_bwd[..., 1]
    fx, fy = fwd_at_target[..., 0], fwd_at_target[..., 1]
    bwd_sq = bx * bx + by * by
    round_trip = (bx + fx) ** 2 + (by + fy) ** 2
    disoccluded = round_trip > DISOCCLUSION_RATIO * (bwd_sq + (fx * fx + fy * fy)) + DISOCCLUSION_OFFSET
    grad_sq = np.zeros(flow_bwd.shape[:2], np.float32)
    for channel in (bx, by):
        gy, gx = np.gradient(channel)
        grad_sq += gx**2 + gy**2
    boundary = grad_sq > BOUNDARY_RATIO * bwd_sq + BOUNDARY_OFFSET
    map_x, map_y = sample_grid(flow_bwd)
    height, width = flow_bwd.shape[:2]
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    return ~(disoccluded | boundary | outside)


def long_term_weights(masks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Ruder's long-term weights: frame t-d counts only where no nearer frame in `masks` is reliable.

    c_long(d) = max(c(d) - sum of c(k) for k < d, 0), with c in {0, 1}.
    """
    weights: dict[int, np.ndarray] = {}
    covered = None
    for offset in sorted(masks):
        reliable = masks[offset].astype(np.float32)
        weights[offset] = reliable if covered is None else np.maximum(reliable - covered, 0.0)
        covered = reliable if covered is None else covered + reliable
    return weights


def warping_error(frame: np.ndarray, previous: np.ndarray, flow_bwd: np.ndarray, mask: np.ndarray,
                  interpolation: str = "bilinear") -> float:
    """Lai et al. 2018: sum(M * |F_t - warp(F_{t-1})|^2) / sum(M), RGB in [0, 1], squared norm over channels.

    Lai et al. warp bilinearly, and that blur is itself an error on sharp frames: a stylised texture that moves
    exactly with the flow, with no flicker at all, scores several times a smooth content frame's error. The
    `lanczos` warp barely blurs, so its error is the frames' own inconsistency (tests/test_flow.py,
    `test_lanczos_warping_error_counts_flicker_not_the_bilinear_blur_of_a_sharp_frame`).
    """
    current = frame.astype(np.float32) / 255.0
    warped = warp_backward(previous.astype(np.float32) / 255.0, flow_bwd, interpolation)
    weight = mask.astype(np.float32)
    total = float(weight.sum())
    if total == 0:
        return float("nan")
    return float((weight * np.sum((current - warped) ** 2, axis=-1)).sum() / total)


# Stored flows are whole multiples of this fraction of a pixel (int16 at the working size): the error is at most
# 1/64 px there, far below any flow's own, and the files are a tenth to a fiftieth of float16's, written 15x faster.
FLOW_STEPS_PER_PIXEL = 32


def working_size(width: int, height: int, flow_width: int) -> tuple[int, int]:
    """The size flows are computed at for frames of `width` x `height`: `flow_width` wide (never wider than the
    frames, and even), with the frames' aspect ratio."""
    if flow_width >= width:
        return width, height
    return flow_width, max(2, 2 * round(height * flow_width / width / 2))


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow field (HxWx2, pixels) brought to `size` (width, height): resampled, and its vectors scaled with it."""
    height, width = flow.shape[:2]
    if (width, height) == tuple(size):
        return flow
    resized = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    resized[..., 0] *= size[0] / width
    resized[..., 1] *= size[1] / height
    return resized


class ChunkFlows:
    """The flows and reliability masks of one chunk of frames, stored as one compressed .npz.

    Keys are `bwd_<d>_<t>` (int16, 1/FLOW_STEPS_PER_PIXEL px) and `reliable_<d>_<t>` (bool) for frame t and offset
    d: bwd maps frame t to t-d, and reliable is its consistency mask. Both are at the working size (`flow.width`);
    `frame_size` holds the frames' (width, height), and `backward` and `reliable` return them at that size. The
    forward flow is needed only to compute the mask, so it is not stored. A loaded file is read one array at a
    time, when it is asked for, so memory does not grow with the chunk.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], path: str | None = None) -> None:
        self.arrays = arrays
        self.path = path
        self._lock = threading.Lock()  # a zip member is read through one shared file handle
        self.frame_size: tuple[int, int] | None = None
        if "frame_size" in arrays:
            width, height = (int(v) for v in self._array("frame_size"))
            self.frame_size = (width, height)

    @classmethod
    def load(cls, path: str | Path) -> "ChunkFlows":
        try:
            return cls(np.load(path), str(path))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise cls._damaged(str(path), exc) from None

    @staticmethod
    def _damaged(path: str, exc: BaseException) -> StylepipeError:
        if not Path(path).is_file():
            return StylepipeError(f"{path}: flow file not found")
        # A damaged cache: move it out of the way so the same command recomputes it.
        aside = set_aside(path)
        return StylepipeError(f"{path}: damaged flow file ({type(exc).__name__}); set aside as {aside.name}: "
                              "run the same command again to redo it")

    def _array(self, key: str) -> np.ndarray:
        try:
            with self._lock:
                return self.arrays[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            if self.path is None:
                raise
            raise self._damaged(self.path, exc) from None

    def has(self, offset: int, frame: int) -> bool:
        return f"bwd_{offset}_{frame}" in self.arrays

    def frames(self, offset: int) -> list[int]:
        """The frames that have a flow to the frame `offset` before them, in order."""
        prefix = f"bwd_{offset}_"
        return sorted(int(key.removeprefix(prefix).removesuffix(".npy")) for key in self.arrays if key.startswith(prefix))

    def working_size(self) -> tuple[int, int] | None:
        """The (width, height) the flows are stored at; None when the chunk holds none (a run of cuts)."""
        key = next((key for key in self.arrays if key.startswith("reliable_")), None)
        if key is None:
            return None
        height, width = self._array(key).shape
        return width, height

    def backward(self, offset: int, frame: int, *, working: bool = False) -> np.ndarray:
        """Frame `frame`'s flow to frame `frame - offset` (float32 px), at the frames' size or, `working`, as stored."""
        stored = self._array(f"bwd_{offset}_{frame}")
        flow = stored.astype(np.float32) / FLOW_STEPS_PER_PIXEL if stored.dtype == np.int16 else stored.astype(np.float32)
        return flow if working or self.frame_size is None else resize_flow(flow, self.frame_size)

    def reliable(self, offset: int, frame: int, *, working: bool = False) -> np.ndarray:
        """Its consistency mask (bool), at the frames' size or, `working`, as stored."""
        mask = self._array(f"reliable_{offset}_{frame}").astype(bool)
        if working or self.frame_size is None or mask.shape[::-1] == self.frame_size:
            return mask
        return cv2.resize(mask.astype(np.uint8), self.frame_size, interpolation=cv2.INTER_NEAREST).astype(bool)


class FlowWriter:
    """Writes a chunk's flows into an .npz one frame at a time, as `np.load` reads them (what np.savez_compressed
    writes, without holding every array first)."""

    def __init__(self, path: str | Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def add(self, arrays: Mapping[str, np.ndarray]) -> None:
        for key, array in arrays.items():
            with self._zip.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    def __enter__(self) -> "FlowWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._zip.close()


def quantized_flow(flow: np.ndarray) -> np.ndarray:
    """A flow as stored: int16 steps of 1/FLOW_STEPS_PER_PIXEL px (enough for 1000 px of motion either way)."""
    limit = np.iinfo(np.int16).max
    return np.clip(np.rint(flow * FLOW_STEPS_PER_PIXEL), -limit, limit).astype(np.int16)


def frame_flows(
    frame: np.ndarray, earlier: Mapping[int, np.ndarray], t: int, estimator: FlowEstimator,
) -> dict[str, np.ndarray]:
    """Frame t's backward flow (quantized) and consistency mask to each frame t-d in `earlier` (keyed by d), at the
    size the frames are given."""
    arrays: dict[str, np.ndarray] = {}
    for d, other in earlier.items():
        bwd = estimator(frame, other)
        fwd = estimator(other, frame)
        arrays[f"bwd_{d}_{t}"] = quantized_flow(bwd)
        arrays[f"reliable_{d}_{t}"] = consistency_mask(bwd, fwd)
    return arrays


def warp_backward_torch(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Differentiable `warp_backward` for (B, C, H, W) images and (B, H, W, 2) pixel flows (training losses)."""
    import torch
    import torch.nn.functional as F

    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=image.device, dtype=image.dtype),
        torch.arange(width, device=image.device, dtype=image.dtype),
        indexing="ij",
    )
    x = (xs + flow[..., 0]) / max(width - 1, 1) * 2 - 1
    y = (ys + flow[..., 1]) / max(height - 1, 1) * 2 - 1
    grid = torch.stack([x, y], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
