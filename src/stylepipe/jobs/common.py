"""What every job shares: its log, the device, and where a frame lives. Imports no torch."""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from stylepipe.errors import StylepipeError
from stylepipe.frames import checked_folder, chunk_name, frame_in, list_frames

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def job_log(path: str) -> Iterator[None]:
    """Send a job's stderr to its log; a StylepipeError ends the job with its one line, not a traceback.

    In a Snakemake script process the job is the whole script, so a job that finishes also ends the process here:
    nothing after the `with` block runs there.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle:
        saved, sys.stderr = sys.stderr, handle
        stop_when_snakemake_dies(handle)
        # Wall-clock times, so that jobs that ran side by side (other shots, other nodes) can be told apart.
        print(f"started {_now()}", file=handle)
        try:
            yield
            print(f"finished {_now()}", file=handle)
        except (StylepipeError, OSError) as err:
            if isinstance(err, OSError) and err.errno != errno.ENOSPC:
                raise
            message = str(err) if isinstance(err, StylepipeError) else f"{err.filename or path}: no space left on device"
            print(f"error: {message}", file=handle)
            print(f"stylepipe: {message}", file=saved)
            raise SystemExit(1) from None
        finally:
            sys.stderr = saved
    if _is_snakemake_script():
        # The job is done and its files are closed. Tearing the interpreter down with torch loaded (its CUDA build's
        # libraries unloading) takes another 0.5-0.7 s on a 2-core CPU, a third of what a job pays to start; every
        # stylise, flow and report job would pay it again. Nothing is left to run, so leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _is_snakemake_script() -> bool:
    """True in a process Snakemake started for a `script:` (its preamble puts `snakemake` into the script's
    globals); false in tests and the CLI, which call jobs in their own process."""
    return getattr(sys.modules.get("__main__"), "snakemake", None) is not None


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _parent_pid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _snakemake_pid() -> int:
    """The nearest ancestor that is Snakemake itself (not the shell it runs the job in); the parent if unknown."""
    pid = os.getppid()
    for _ in range(8):
        argv = _command_line(pid)
        if any(Path(arg).name == "snakemake" for arg in argv[:2]) or argv[1:3] == ["-m", "snakemake"]:
            return pid
        pid = _parent_pid(pid)
        if pid <= 1:
            break
    return os.getppid()


def stop_when_snakemake_dies(log: object, interval: float = 1.0) -> None:
    """Exit this job if the Snakemake that started it is killed (`kill -9` gives it no chance to stop its jobs).

    A job running on alone would still hold the CPU or GPU, and its output would be thrown away by the next run
    anyway, as Snakemake marks it incomplete.
    """
    watched = _snakemake_pid()
    if watched <= 1:
        return

    def watch() -> None:
        while True:
            time.sleep(interval)
            try:
                os.kill(watched, 0)
                if _state(watched) == "Z":  # killed, not yet reaped by its own parent
                    raise ProcessLookupError
            except ProcessLookupError:
                print(f"error: Snakemake (pid {watched}) has gone; this job stops too", file=log, flush=True)
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="stop-when-snakemake-dies", daemon=True).start()


def resolve_device(device: str) -> str:
    """`auto` picks CUDA when present; asking for CUDA without it is an error, not a silent fallback.

    A job that gets CUDA also gets `make_cuda_reproducible`, before it runs anything there."""
    import torch  # only the jobs that run a network pay for importing torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise StylepipeError("config key 'device': cuda was asked for but torch sees no CUDA GPU; use auto or cpu")
    if device == "cuda":
        make_cuda_reproducible()
    return device


def make_cuda_reproducible() -> None:
    """Make CUDA give the same bits on every run of the same job.

    A frame that is redone after a crash or a damaged cache must be byte-identical to the one it replaces, and
    frames before a changed knob's first effect must not move. On CUDA they did not stay put: a run of the suite on
    an H200 failed every such check. cuDNN's fastest backward convolutions add in no fixed order, and
    Gatys mode optimises through them for hundreds of steps, so last-bit differences grow into visible ones. cuBLAS
    reads its workspace setting when it first starts, hence the variable before any CUDA work.
    """
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    # An op with no deterministic kernel says so in the job's log rather than stopping the job.
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Filling every new tensor with NaN is a debugging aid of the deterministic mode, and costs a pass per tensor.
    torch.utils.deterministic.fill_uninitialized_memory = False


def verified_frames(folder: str | Path) -> list[Path]:
    """The frames of a cached folder, after checking them against the folder's manifest."""
    return list_frames(checked_folder(folder))


def content_frame_total(frames_dir: str | Path) -> int:
    return sum(len(list_frames(chunk)) for chunk in Path(frames_dir).glob("chunk_*"))


def content_frame_path(frames_dir: str | Path, number: int, chunk_frames: int) -> Path:
    """Where content frame `number` is stored: decoded frames sit in folders of `chunk_frames`, in frame order (JPEG;
    PNG in a cache from before)."""
    return frame_in(Path(frames_dir) / chunk_name(number // chunk_frames), number)


def content_frames(frames_dir: str | Path, numbers: Iterable[int], chunk_frames: int) -> list[Path]:
    """Paths of these content frames, after checking every folder that holds one of them against its manifest.

    A chunk follows the shots, so it may take its frames from two storage folders.
    """
    numbers = sorted(set(numbers))
    for folder in sorted({number // chunk_frames for number in numbers}):
        checked_folder(Path(frames_dir) / chunk_name(folder))
    paths = [content_frame_path(frames_dir, number, chunk_frames) for number in numbers]
    for path in paths:
        if not path.is_file():
            raise StylepipeError(f"{path}: missing from the decoded content frames; delete {frames_dir} to decode them again")
    return paths


def find_frame(folders: Sequence[str | Path], number: int) -> Path:
    """The frame `number` in whichever of `folders` holds it."""
    for folder in folders:
        candidate = frame_in(folder, number)
        if candidate.is_file():
            return candidate
    raise StylepipeError(f"frame {number} is in none of {', '.join(map(str, folders))}")


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """A tqdm-style line in the job's log: frames done of the total, seconds a frame and an ETA.

    `stylepipe status` reads the last such line of a job still in flight; lines come at most every `every`
    seconds, and always for the last frame.
    """

    def __init__(self, total: int, log: Log, every: float = 2.0) -> None:
        self.total, self.log, self.every = total, log, every
        self.done = 0
        self.began = self.last = time.perf_counter()

    def step(self, frames: int = 1) -> None:
        self.done += frames
        now = time.perf_counter()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        each = (now - self.began) / max(1, self.done)
        self.log(f"progress: {self.done}/{self.total} frames ({100 * self.done / max(1, self.total):.0f}%), "
                 f"{each:.3f} s a frame, ETA {format_duration(each * (self.total - self.done))}")
