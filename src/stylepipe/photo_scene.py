"""A clip with exact, known motion made from a real photograph: the camera pans, zooms and turns over the photo, and
a round object cut from a second photo crosses it.

Real photographs have what procedural textures lack (faces, sky, walls: smooth regions beside sharp edges), and the
motion is known to the sub-pixel, so a clip made here can judge flow, warping and flicker against the truth rather
than against the pipeline's own flow. The demo, the tests and the benches use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Frames are drawn this many times larger and shrunk by area averaging, so edges are anti-aliased as a camera's are.
SUPERSAMPLE = 3


@dataclass
class PhotoScene:
    """The camera's view of `photo` at frame t, with a disc cut from `object_photo` moving across it.

    The camera looks at the photo's centre shifted by `pan` (a fraction of the photo's width, per frame, as x and y),
    magnified by `zoom` per frame and turned by `turn` degrees per frame; the disc (diameter `object_size` of the frame
    height) enters on one side and moves by `object_speed` frame widths per frame. Sizes are the output's.
    """

    photo: np.ndarray
    object_photo: np.ndarray | None
    width: int
    height: int
    frames: int
    pan: tuple[float, float] = (0.004, 0.0015)
    zoom: float = 1.004
    turn: float = 0.15
    object_size: float = 0.4
    object_speed: float = 0.025
    object_start: float = 0.8
    view: float = 0.7
    view_centre: tuple[float, float] = (0.5, 0.5)
    _photo: np.ndarray = field(init=False, repr=False)
    _disc: np.ndarray | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._photo = np.ascontiguousarray(self.photo[..., :3])
        photo_h, photo_w = self._photo.shape[:2]
        # At frame 0 the frame shows `view` of the photo's width or height around `view_centre` (fractions of the
        # photo); with a margin around it, the motion never shows the photo's edges.
        self._base = self.view * min(photo_w / self.width, photo_h / self.height)
        self.radius = self.object_size * self.height / 2
        self._disc = None
        if self.object_photo is not None:
            side = min(self.object_photo.shape[:2])
            y0, x0 = (self.object_photo.shape[0] - side) // 2, (self.object_photo.shape[1] - side) // 2
            diameter = int(round(2 * self.radius * SUPERSAMPLE))
            self._disc = cv2.resize(np.ascontiguousarray(self.object_photo[y0 : y0 + side, x0 : x0 + side, :3]),
                                    (diameter, diameter), interpolation=cv2.INTER_AREA)

    def camera(self, t: float) -> np.ndarray:
        """2x3 affine map from output pixel coordinates (x, y) at frame t to photo coordinates."""
        photo_h, photo_w = self._photo.shape[:2]
        # A slow back-and-forth that never runs out of photo, however long the clip.
        phase = np.sin(np.pi * t / max(1, self.frames - 1)) * (self.frames - 1) / np.pi
        scale = self._base / self.zoom**phase
        angle = np.deg2rad(self.turn * phase)
        cx = self.view_centre[0] * photo_w + self.pan[0] * photo_w * phase
        cy = self.view_centre[1] * photo_h + self.pan[1] * photo_w * phase
        cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
        # p = c + R s (x - frame centre)
        ox, oy = (self.width - 1) / 2, (self.height - 1) / 2
        return np.array([[cos, -sin, cx - cos * ox + sin * oy], [sin, cos, cy - sin * ox - cos * oy]], np.float64)

    def object_centre(self, t: float) -> tuple[float, float]:
        """The disc's centre in output pixels at frame t: it moves right to left, a little downwards."""
        x = self.object_start * self.width - self.object_speed * self.width * t
        y = self.height * (0.45 + 0.004 * t)
        return x, y

    def render(self, t: int) -> np.ndarray:
        """Frame t as HxWx3 uint8 RGB."""
        s = SUPERSAMPLE
        affine = self.camera(t)
        # Supersampled output pixel (X, Y) is output pixel ((X + 0.5) / s - 0.5, ...).
        to_output = np.array([[1 / s, 0, 0.5 / s - 0.5], [0, 1 / s, 0.5 / s - 0.5], [0, 0, 1]])
        big_map = affine @ to_output
        big = cv2.warpAffine(self._photo, big_map, (self.width * s, self.height * s),
                             flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        if self._disc is not None:
            cx, cy = self.object_centre(t)
            diameter = self._disc.shape[0]
            # Disc pixel (u, v) sits at supersampled ((cx + 0.5) s - diameter/2 + u, ...).
            shift = np.array([[1, 0, (cx + 0.5) * s - diameter / 2], [0, 1, (cy + 0.5) * s - diameter / 2]])
            disc = cv2.warpAffine(self._disc, shift, (self.width * s, self.height * s), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT)
            yy, xx = np.mgrid[0 : self.height * s, 0 : self.width * s].astype(np.float32)
            distance = np.hypot(xx + 0.5 - (cx + 0.5) * s, yy + 0.5 - (cy + 0.5) * s)
            alpha = np.clip(self.radius * s - distance + 0.5, 0, 1)[..., None]
            big = (big * (1 - alpha) + disc * alpha).astype(np.float32)
        small = cv2.resize(big.astype(np.float32), (self.width, self.height), interpolation=cv2.INTER_AREA)
        return np.clip(np.rint(small), 0, 255).astype(np.uint8)

    def _in_object(self, t: float, x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
        if self._disc is None:
            return np.zeros(x.shape, bool)
        cx, cy = self.object_centre(t)
        return np.hypot(x - cx, y - cy) <= self.radius + margin

    def background_at(self, t: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the photograph's point under each pixel of frame t lies in frame k (output pixel x and y, HxW each),
        wherever the object is."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        now, then = self.camera(t), cv2.invertAffineTransform(self.camera(k))
        px = now[0, 0] * xx + now[0, 1] * yy + now[0, 2]
        py = now[1, 0] * xx + now[1, 1] * yy + now[1, 2]
        return then[0, 0] * px + then[0, 1] * py + then[0, 2], then[1, 0] * px + then[1, 1] * py + then[1, 2]

    def backward_flow(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """The true flow from frame t to frame t-1 (pixel x of frame t shows what x + flow[x] showed), and where it
        holds: not where frame t-1 did not show the same scene point (it was under the disc, or off screen), nor on
        the disc's anti-aliased rim."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        bx, by = self.background_at(t, t - 1)
        on_object = self._in_object(t, xx, yy)
        (cx, cy), (pcx, pcy) = self.object_centre(t), self.object_centre(t - 1)
        bx = np.where(on_object, xx + pcx - cx, bx)
        by = np.where(on_object, yy + pcy - cy, by)
        rim = self._in_object(t, xx, yy, 1.0) & ~self._in_object(t, xx, yy, -1.0)
        hidden = ~on_object & self._in_object(t - 1, bx, by, 1.0)
        outside = (bx < 0) | (bx > self.width - 1) | (by < 0) | (by > self.height - 1)
        flow = np.stack([bx - xx, by - yy], axis=-1).astype(np.float32)
        return flow, ~(rim | hidden | outside)
