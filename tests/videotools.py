"""Reading videos back in tests, through the same ffmpeg binary the pipeline uses."""

from __future__ import annotations

import subprocess
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


__all__ = ["probe", "read_all_frames"]
