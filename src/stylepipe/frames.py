"""The frame store: chunk layout, PNG frames and atomic writes."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from stylepipe.errors import StylepipeError


def chunk_count(frame_count: int, chunk_frames: int) -> int:
    """Number of chunks of `chunk_frames` frames needed to hold `frame_count` frames."""
    return max(1, -(-frame_count // chunk_frames))


def chunk_range(chunk: int, frame_count: int, chunk_frames: int) -> range:
    """Global frame indices that chunk `chunk` holds."""
    start = chunk * chunk_frames
    return range(start, min(start + chunk_frames, frame_count))


def chunk_name(chunk: int) -> str:
    return f"chunk_{chunk:04d}"


def frame_name(index: int) -> str:
    return f"{index:06d}.png"


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a scratch folder that becomes `final` only if the block finishes.

    A killed job therefore never leaves a folder that looks finished but is not.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    scratch.mkdir()
    try:
        yield scratch
        if final.exists():
            shutil.rmtree(final)
        os.replace(scratch, final)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a scratch path next to `final` that is renamed onto it only if the block finishes."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        yield scratch
        os.replace(scratch, final)
    finally:
        if scratch.exists():
            scratch.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB; grayscale, palette and RGBA images are converted.

    Transparent pixels are composited over white, which is what a viewer shows for a painting scan.
    """
    path = Path(path)
    if not path.is_file():
        raise StylepipeError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode.startswith("I") or img.mode == "F":
                # 16-bit and float greyscale: Pillow's convert("RGB") would clip them to white.
                grey = np.asarray(img, dtype=np.float64)
                peak = 65535.0 if grey.max() > 255 else 255.0
                grey8 = np.clip(grey / peak * 255 + 0.5, 0, 255).astype(np.uint8)
                return np.repeat(grey8[..., None], 3, axis=2)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError) as exc:
        raise StylepipeError(f"{path}: not a readable image ({exc})") from None


def write_rgb(path: str | Path, frame: np.ndarray) -> None:
    """Write an HxWx3 uint8 frame as PNG (callers write into an atomic folder or file)."""
    Image.fromarray(frame).save(path, compress_level=1)


def list_frames(folder: str | Path) -> list[Path]:
    """The numbered PNG frames in a folder, in order."""
    return sorted(Path(folder).glob("[0-9]*.png"))


def split_into_chunks(flat_dir: Path, out_dir: Path, chunk_frames: int) -> int:
    """Move numbered frames from `flat_dir` into `out_dir/chunk_XXXX/`; returns the frame count."""
    frames = list_frames(flat_dir)
    for index, frame in enumerate(frames):
        chunk_dir = out_dir / chunk_name(index // chunk_frames)
        chunk_dir.mkdir(parents=True, exist_ok=True)
        os.replace(frame, chunk_dir / frame_name(index))
    return len(frames)
