"""Demo inputs: a clip made from a real photograph with exact motion, and painterly styles; and the procedural
textured scene with an occluding object that the tests use.

Both scenes' motion is known exactly, so tests and benches can check flow, warping and occlusion against the truth.
"""

from __future__ import annotations

import colorsys
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_file, write_rgb
from stylepipe.photo_scene import PhotoScene
from stylepipe.video import ffmpeg_exe


def _smooth_noise(rng: np.random.Generator, height: int, width: int, scales: tuple[float, ...]) -> np.ndarray:
    """Sum of blurred white noise at several scales, normalised to [0, 1]; HxWx3."""
    total = np.zeros((height, width, 3), np.float32)
    for octave, sigma in enumerate(scales):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        # Coarse scales dominate so the image has shapes, with fine texture on top for the flow to lock on to.
        total += blurred / (blurred.std() + 1e-6) * 0.5 ** (len(scales) - 1 - octave)
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


@dataclass
class Scene:
    """A textured background panned by `pan` pixels a frame, with a textured disc moving by `velocity`.

    Frame t shows background point `x + t * pan` at pixel x, so the backward flow (frame t to t-1) of the
    background is `+pan` and that of the disc is `-velocity`.
    """

    width: int
    height: int
    frames: int
    pan: tuple[int, int] = (2, 1)
    velocity: tuple[int, int] = (-3, 0)
    radius_fraction: float = 0.22
    seed: int = 0
    _background: np.ndarray = field(init=False, repr=False)
    _disc: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        extra_w = abs(self.pan[0]) * self.frames + 1
        extra_h = abs(self.pan[1]) * self.frames + 1
        base = _smooth_noise(rng, self.height + extra_h, self.width + extra_w, (1.5, 6.0, 24.0))
        # Warm earthy background, cool saturated disc: two clearly different regions for flow and style.
        self._background = np.clip(base * np.array([0.9, 0.75, 0.5]) + np.array([0.1, 0.1, 0.05]), 0, 1)
        self.radius = max(3, int(self.radius_fraction * min(self.width, self.height)))
        disc = _smooth_noise(rng, 2 * self.radius + 1, 2 * self.radius + 1, (0.8, 2.0))
        self._disc = np.clip(disc * np.array([0.3, 0.6, 1.0]), 0, 1)

    def _origin(self, t: int) -> tuple[int, int]:
        ox = t * self.pan[0] if self.pan[0] >= 0 else (self.frames - t) * -self.pan[0]
        oy = t * self.pan[1] if self.pan[1] >= 0 else (self.frames - t) * -self.pan[1]
        return ox, oy

    def disc_centre(self, t: int) -> tuple[int, int]:
        x0 = self.width * 2 // 3 if self.velocity[0] < 0 else self.width // 3
        return x0 + t * self.velocity[0], self.height // 2 + t * self.velocity[1]

    def disc_mask(self, t: int) -> np.ndarray:
        yy, xx = np.mgrid[0 : self.height, 0 : self.width]
        cx, cy = self.disc_centre(t)
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= self.radius**2

    def render(self, t: int) -> np.ndarray:
        """Frame t as HxWx3 uint8 RGB."""
        ox, oy = self._origin(t)
        frame = self._background[oy : oy + self.height, ox : ox + self.width].copy()
        mask = self.disc_mask(t)
        cx, cy = self.disc_centre(t)
        ys, xs = np.nonzero(mask)
        frame[ys, xs] = self._disc[ys - cy + self.radius, xs - cx + self.radius]
        return (frame * 255 + 0.5).astype(np.uint8)

    def backward_flow(self, t: int) -> np.ndarray:
        """True flow from frame t to frame t-1: pixel x of frame t is at x + flow[x] in frame t-1."""
        flow = np.empty((self.height, self.width, 2), np.float32)
        flow[..., 0], flow[..., 1] = self.pan
        mask = self.disc_mask(t)
        flow[mask] = (-self.velocity[0], -self.velocity[1])
        return flow

    def forward_flow(self, t: int) -> np.ndarray:
        """True flow from frame t-1 to frame t, on frame t-1's pixel grid."""
        flow = np.empty((self.height, self.width, 2), np.float32)
        flow[..., 0], flow[..., 1] = -self.pan[0], -self.pan[1]
        flow[self.disc_mask(t - 1)] = self.velocity
        return flow

    def disoccluded(self, t: int) -> np.ndarray:
        """Pixels of frame t whose scene point was hidden (or off screen) in frame t-1."""
        flow = self.backward_flow(t)
        yy, xx = np.mgrid[0 : self.height, 0 : self.width]
        px = xx + flow[..., 0]
        py = yy + flow[..., 1]
        outside = (px < 0) | (px > self.width - 1) | (py < 0) | (py > self.height - 1)
        cx, cy = self.disc_centre(t - 1)
        under_disc = ((px - cx) ** 2 + (py - cy) ** 2 <= self.radius**2) & ~self.disc_mask(t)
        return outside | under_disc


def painterly_frame(width: int, height: int, t: float, seed: int = 1, strokes: int | None = None) -> np.ndarray:
    """One frame of an animated brush-stroke pattern: swirling strokes whose hues drift with t."""
    rng = np.random.default_rng(seed)
    count = strokes if strokes is not None else max(200, width * height // 60)
    xs = rng.uniform(0, width, count)
    ys = rng.uniform(0, height, count)
    hue0 = rng.uniform(0, 1, count)
    jitter = np.random.default_rng(seed * 7919 + int(t * 1000)).normal(0, 1.5, (count, 2))
    base_hue = (0.58 + 0.12 * np.sin(0.6 * t)) % 1.0
    canvas = np.empty((height, width, 3), np.uint8)
    top = np.array(colorsys.hsv_to_rgb(base_hue, 0.6, 0.35)) * 255
    bottom = np.array(colorsys.hsv_to_rgb((base_hue + 0.1) % 1, 0.7, 0.8)) * 255
    ramp = np.linspace(0, 1, height)[:, None, None]
    canvas[:] = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    length = max(3.0, 0.05 * max(width, height))
    thickness = max(1, int(round(0.012 * max(width, height))))
    for i in range(count):
        x, y = xs[i] + jitter[i, 0], ys[i] + jitter[i, 1]
        angle = np.sin(x / width * 6.0 + t) + np.cos(y / height * 5.0 - 0.7 * t)
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        hue = (base_hue + 0.25 * hue0[i] + 0.05 * np.sin(t + i)) % 1.0
        color = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.75, 0.55 + 0.45 * hue0[i]))
        cv2.line(canvas, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), color, thickness, cv2.LINE_AA)
    return canvas


def pipe_frames_to_h264(args: list[str], frames: Iterable[np.ndarray], size: tuple[int, int], fps: Fraction, out: Path) -> None:
    """Encode RGB uint8 `frames` of `size` at `fps` into `out` (H.264, yuv420p, crf 16), with ffmpeg options `args`
    for a further input such as a tone."""
    width, height = size
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
        "-r", f"{fps.numerator}/{fps.denominator}", "-i", "-",
        *args,
        "-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p", str(out),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise StylepipeError(f"{out}: ffmpeg failed writing the demo video ({err.strip()[-200:]})")


def write_content_video(
    path: str | Path, width: int, height: int, frames: int, fps: Fraction, audio: bool = True, seed: int = 0
) -> Scene:
    """Render the demo scene to an H.264 .mp4 with an optional 440 Hz tone; returns the scene."""
    scene = Scene(width, height, frames, seed=seed)
    with atomic_file(path) as tmp:
        pipe_frames_to_h264(_tone(frames / fps) if audio else [], (scene.render(t) for t in range(frames)), (width, height), fps, tmp)
    return scene


# Photographs from a wheel on PyPI that ships them, so nothing is fetched from anywhere else: scikit-image's `data`
# folder. The demo uses NASA's portrait of Eileen Collins (`astronaut`, public domain) and a cup of coffee (`coffee`,
# CC0); the benches also use `rocket` (public domain: a launch pad under a smooth sky) and `chelsea` (CC0: a cat).
PHOTO_WHEEL = "scikit-image==0.26.0"
PHOTO_FILES = {"astronaut": "astronaut.png", "coffee": "coffee.png", "rocket": "rocket.jpg", "chelsea": "chelsea.png"}
# Any platform's wheel holds the same photographs; naming one makes the download the same file everywhere.
PHOTO_WHEEL_PLATFORM = ("--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                        "--implementation", "cp", "--abi", "cp311")


def photographs(*names: str) -> dict[str, np.ndarray]:
    """The named photographs (keys of PHOTO_FILES) as RGB uint8: from scikit-image when it is installed, else from its
    wheel, downloaded with pip (about 14 MB)."""
    import importlib.util
    import tempfile

    from stylepipe.frames import read_rgb
    from stylepipe.wheels import extract_from_wheel

    members = {name: f"skimage/data/{PHOTO_FILES[name]}" for name in names}
    spec = importlib.util.find_spec("skimage")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations))).parent
        if all((root / member).is_file() for member in members.values()):
            return {name: read_rgb(root / member) for name, member in members.items()}
    with tempfile.TemporaryDirectory(prefix="stylepipe-photos-") as tmp:
        paths = extract_from_wheel(PHOTO_WHEEL, list(members.values()), tmp, "the demo's photographs",
                                   "render your own clip instead: --config content=CLIP style=PAINTING", PHOTO_WHEEL_PLATFORM)
        return {name: read_rgb(path) for name, path in zip(members, paths)}


def write_photo_video(path: str | Path, width: int, height: int, frames: int, fps: Fraction, audio: bool = True) -> PhotoScene:
    """The demo clip: a real photograph the camera pans, zooms and turns over, a round object crossing it, a 440 Hz tone."""
    photos = photographs("astronaut", "coffee")
    # The astronaut's face and helmet ring in view, the camera drifting down and right past them.
    scene = PhotoScene(photos["astronaut"], photos["coffee"], width, height, frames, view=0.85, view_centre=(0.45, 0.28))
    with atomic_file(path) as tmp:
        pipe_frames_to_h264(_tone(frames / fps) if audio else [], (scene.render(t) for t in range(frames)), (width, height), fps, tmp)
    return scene


def _tone(seconds: Fraction) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={float(seconds):.3f}",
            "-c:a", "aac", "-b:a", "96k", "-shortest"]


def write_style_video(path: str | Path, width: int, height: int, frames: int, fps: Fraction, seed: int = 1) -> None:
    """Render the animated painterly pattern to an H.264 .mp4 with no audio."""
    with atomic_file(path) as tmp:
        stream = (painterly_frame(width, height, t / float(fps), seed) for t in range(frames))
        pipe_frames_to_h264([], stream, (width, height), fps, tmp)


def write_style_image(path: str | Path, width: int, height: int, seed: int = 3) -> None:
    """Write one still painterly frame as PNG."""
    with atomic_file(path) as tmp:
        write_rgb(tmp, painterly_frame(width, height, 2.0, seed))
