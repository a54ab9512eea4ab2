"""Reading videos back in tests, through the same ffmpeg binary the pipeline uses."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from stylepipe.video import ffmpeg_exe, probe


def read_all_frames(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Every frame of `path` as (N, H, W, 3) uint8, scaled to `size`."""
    width, height = size
    raw = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-fps_mode", "passthrough",
         "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)





def marked_frame(width: int, height: int, index: int) -> np.ndarray:
    """A test picture whose orientation can be read back: a red block in the top-left corner on a gradient."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([(x * 200 // width), (y * 200 // height), np.full_like(x, (index * 23) % 200)], axis=2).astype(np.uint8)
    frame[: height // 3, : width // 3] = (230, 20, 20)
    return frame


def write_timed_clip(
    path: Path,
    times: list[float],
    size: tuple[int, int] = (64, 48),
    *,
    audio: tuple[float, float] | None = None,
    empty_audio: bool = False,
    rotation: int = 0,
    pictures: list[np.ndarray] | None = None,
) -> None:
    """A clip with exactly these frame times (seconds) and, optionally, a sine tone from `audio` = (start, seconds).

    `empty_audio` adds an audio stream that holds no packets (an .mkv keeps such a stream; an .mp4 drops it).
    `rotation` is a display-matrix rotation, counter-clockwise, as phones write it. `pictures` replaces the
    generated test pictures, one per time.
    """
    import av

    time_base = Fraction(1, 12800)
    steps = np.diff(times) if len(times) > 1 else [0.125]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=Fraction(round(1 / float(np.median(steps)))))
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.codec_context.time_base = video.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=48000, layout="mono") if audio or empty_audio else None
        for index, seconds in enumerate(times):
            image = pictures[index] if pictures is not None else marked_frame(*size, index)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = round(Fraction(seconds).limit_denominator(100000) / time_base), time_base
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio:
            start, seconds = audio
            total = int(seconds * 48000)
            for first in range(0, total, 1024):
                n = min(1024, total - first)
                t = (np.arange(n) + first) / 48000
                block = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono")
                block.sample_rate, block.time_base = 48000, Fraction(1, 48000)
                block.pts = round(start * 48000) + first
                out.mux(sound.encode(block))
            out.mux(sound.encode(None))


__all__ = ["marked_frame", "probe", "read_all_frames", "write_timed_clip"]


def scene_texture(seed: int, width: int, height: int) -> np.ndarray:
    """A large picture for one generated shot: smooth colour blobs and a few hard-edged shapes, different per seed."""
    import cv2

    rng = np.random.default_rng(seed)
    # Octaves of smooth noise, coarse ones strongest, as natural pictures have (about a 1/f spectrum).
    picture = np.zeros((height, width, 3), np.float32)
    for cell, amplitude in ((height // 2, 1.0), (height // 5, 0.5), (height // 12, 0.25), (max(2, height // 30), 0.12)):
        cell = max(2, cell)
        coarse = rng.uniform(-1, 1, size=(height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        picture += amplitude * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    picture = np.clip(128 + 70 * picture, 0, 255).astype(np.uint8)
    for _ in range(12):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            cv2.circle(picture, centre, int(rng.integers(4, max(5, height // 4))), color, -1)
        else:
            size = (int(rng.integers(4, max(5, width // 4))), int(rng.integers(4, max(5, height // 4))))
            cv2.rectangle(picture, centre, (centre[0] + size[0], centre[1] + size[1]), color, -1)
    return picture


def shot_frames(seed: int, count: int, size: tuple[int, int], pan: float = 1.0, disc: bool = True) -> list[np.ndarray]:
    """`count` frames of one shot: a window panning `pan` pixels a frame across the shot's texture, with a disc
    moving in front of it."""
    import cv2

    width, height = size
    texture = scene_texture(seed, width + int(abs(pan) * count) + 8, height)
    frames = []
    for t in range(count):
        x = int(round(abs(pan) * (t if pan >= 0 else count - 1 - t)))
        frame = texture[:, x : x + width].copy()
        if disc:
            cv2.circle(frame, (int(width * (0.2 + 0.6 * t / max(1, count - 1))), height // 2), max(3, height // 6), (240, 240, 40), -1)
        frames.append(frame)
    return frames
