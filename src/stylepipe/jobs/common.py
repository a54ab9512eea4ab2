"""What every job shares: its log, the device, and where a frame lives. Imports no torch."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from stylepipe.errors import StylepipeError
from stylepipe.frames import chunk_name, frame_name, list_frames

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def job_log(path: str) -> Iterator[None]:
    """Send a job's stderr to its log; a StylepipeError ends the job with its one line, not a traceback."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle:
        saved, sys.stderr = sys.stderr, handle
        try:
            yield
        except StylepipeError as err:
            print(f"error: {err}", file=handle)
            print(f"stylepipe: {err}", file=saved)
            raise SystemExit(1) from None
        finally:
            sys.stderr = saved


def resolve_device(device: str) -> str:
    """`auto` picks CUDA when present; asking for CUDA without it is an error, not a silent fallback."""
    import torch  # only the jobs that run a network pay for importing torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise StylepipeError("config key 'device': cuda was asked for but torch sees no CUDA GPU; use auto or cpu")
    return device


def content_frame_total(frames_dir: str | Path) -> int:
    return sum(len(list_frames(chunk)) for chunk in Path(frames_dir).glob("chunk_*"))


def content_frame_path(frames_dir: str | Path, number: int, chunk_frames: int) -> Path:
    return Path(frames_dir) / chunk_name(number // chunk_frames) / frame_name(number)


def find_frame(folders: Sequence[str | Path], number: int) -> Path:
    """The frame `number` in whichever of `folders` holds it."""
    for folder in folders:
        candidate = Path(folder) / frame_name(number)
        if candidate.is_file():
            return candidate
    raise StylepipeError(f"frame {number} is in none of {', '.join(map(str, folders))}")
