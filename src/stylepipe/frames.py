"""The frame store: chunk layout, PNG frames and atomic writes."""

from __future__ import annotations

import bisect
import errno
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from stylepipe.errors import StylepipeError


def segment_starts(start: int, end: int, segment_frames: int) -> list[int]:
    """Where the segments of the shot [start, end) begin: as few as keep each within `segment_frames`, as even as can be.

    Even lengths, not N, N, ..., remainder: a 2-frame tail segment would pay a whole warm-up for almost nothing.
    0 means the shot is one segment.
    """
    length = end - start
    if segment_frames <= 0 or length <= segment_frames:
        return [start]
    count = -(-length // segment_frames)
    return [start + k * length // count for k in range(count)]


def chunk_layout(
    shots: Sequence[Sequence[int]], chunk_frames: int, segment_frames: int = 0, segment_overlap: int = 0, follow_cuts: bool = True,
) -> list[dict[str, int]]:
    """Chunks of at most `chunk_frames` frames, in frame order, that never span a cut unless `follow_cuts` is false.

    With `follow_cuts` false the clip is cut into as few chunks as `chunk_frames` allows, as even as can be, and the
    whole clip is one chain (shot 0, starting at 0): for per-frame networks, where a cut only means that the blend
    starts afresh, which the flow's absence across the cut already tells it. Four shots then cost one job, not four.

    Each chunk is {"start", "end", "shot", "shot_start", "chain", "chain_start", "segment_start"}. The chunks of one
    chain are consecutive: a chunk waits for the chunk before it in its chain, and chains do not depend on each other.
    A shot is one chain, unless `segment_frames` splits it into segments of at most that many frames. Then every
    segment after the first is a chain of its own that starts `segment_overlap` frames early, at `chain_start`, so
    that it has settled by `segment_start`; the frames [chain_start, segment_start) are stylised by both chains, and
    whoever reads the output cross-fades them (`stylepipe.stitch`).
    """
    if not follow_cuts:
        if segment_frames:
            raise ValueError("segments split shots; a layout that ignores the cuts has none")
        total = shots[-1][1] if shots else 0
        firsts = segment_starts(0, total, chunk_frames) if total else []
        return [{"start": first, "end": last, "shot": 0, "shot_start": 0, "chain": 0, "chain_start": 0, "segment_start": 0}
                for first, last in zip(firsts, [*firsts[1:], total])]
    layout: list[dict[str, int]] = []
    chain = 0
    for number, (start, end) in enumerate(shots):
        firsts = segment_starts(start, end, segment_frames)
        for first, last in zip(firsts, [*firsts[1:], end]):
            chain_start = max(start, first - segment_overlap) if first > start else first
            for chunk_start in range(chain_start, last, chunk_frames):
                layout.append({
                    "start": chunk_start, "end": min(chunk_start + chunk_frames, last), "shot": number, "shot_start": start,
                    "chain": chain, "chain_start": chain_start, "segment_start": first,
                })
            chain += 1
    return layout


def shot_firsts(shots: Sequence[Sequence[int]], numbers: Iterable[int]) -> dict[int, int]:
    """The first frame of the shot each of `numbers` is in: no flow or warm start reaches back past it."""
    starts = sorted(start for start, _ in shots)
    return {number: starts[bisect.bisect_right(starts, number) - 1] if starts and number >= starts[0] else 0 for number in numbers}


def owned_frames(chunk: Mapping[str, int]) -> range:
    """The frames a chunk of the layout gives the output: all it stylises, less a later segment's warm-up frames,
    which the segment before it owns (they are only cross-faded in)."""
    return range(max(chunk["start"], chunk["segment_start"]), chunk["end"])


def chunk_name(chunk: int) -> str:
    return f"chunk_{chunk:04d}"


# Frames are PNG, except the decoded content and the blended output, which every later stage reads but which are
# only ever a step before a lossy encode: JPEG at quality 95 with full-resolution colour (4:4:4). At 720p that is
# 0.18 MB a content frame against 0.99 as PNG (PSNR 48.8 dB) and 0.67 MB a blended frame against 1.86 (40.5 dB),
# where the H.264 the video is delivered in is far lossier (docs/performance.md).
FRAME_SUFFIXES = (".png", ".jpg")
JPEG = ".jpg"


def frame_name(index: int, suffix: str = ".png") -> str:
    return f"{index:06d}{suffix}"


MANIFEST = "manifest.json"
class DamagedCacheError(StylepipeError):
    """A cached folder that no longer holds what was written into it."""


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a scratch folder that becomes `final` only if the block finishes, with a manifest of what it holds.

    A killed job therefore never leaves a folder that looks finished but is not, and a folder damaged later is
    told apart from a finished one by its manifest. Scratch folders that killed jobs left for `final` are removed
    here: Snakemake runs one job per output at a time, so no one else is writing them.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in final.parent.glob(f".{final.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    scratch = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    scratch.mkdir()
    try:
        yield scratch
        write_manifest(scratch)
        if final.exists():
            shutil.rmtree(final)
        os.replace(scratch, final)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StylepipeError(f"{final}: no space left on device") from None
        raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def _digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _listed_files(folder: Path) -> list[Path]:
    # Snakemake stamps directory outputs with its own hidden file after the job; it is not part of the content.
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST and not p.name.startswith(".snakemake"))


def write_manifest(folder: Path) -> None:
    """Record every file under `folder` (name, size, BLAKE2b) in `folder/manifest.json`."""
    files = _listed_files(folder)
    entries = {p.relative_to(folder).as_posix(): [p.stat().st_size, _digest(p)] for p in files}
    (folder / MANIFEST).write_text(json.dumps({"files": entries}, indent=0))


def check_folder(folder: str | Path, *, contents: bool = True) -> None:
    """Raise DamagedCacheError, naming the folder and the first bad file, unless it holds what its manifest says.

    Without `contents` only names and sizes are compared: cheap enough to run over every cached folder each time
    the workflow is parsed. Consumers compare contents too, before they read.
    """
    folder = Path(folder)
    try:
        entries = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise DamagedCacheError(f"{folder}: no readable {MANIFEST} (an older stylepipe wrote it, or a damaged one), "
                                "so what it holds cannot be trusted") from None
    present = {p.relative_to(folder).as_posix() for p in _listed_files(folder)}
    for name, (size, digest) in entries.items():
        path = folder / name
        if name not in present:
            raise DamagedCacheError(f"{folder}: {name} is missing")
        if path.stat().st_size != size:
            raise DamagedCacheError(f"{folder}: {name} has {path.stat().st_size} bytes, not the {size} written")
        if contents and _digest(path) != digest:
            raise DamagedCacheError(f"{folder}: {name} has changed since it was written")
    extra = sorted(present - set(entries))
    if extra:
        raise DamagedCacheError(f"{folder}: {extra[0]} was not written by its job")


def set_aside(folder: str | Path) -> Path:
    """Rename a damaged folder or file out of the way (nothing is deleted), so that its job runs again."""
    folder = Path(folder)
    target = folder.with_name(f".{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}")
    os.replace(folder, target)
    return target


def output_root(folder: str | Path) -> Path:
    """The job output that holds `folder`: a chunk of the content frames belongs to the whole frames folder."""
    root = Path(folder)
    while (root.parent / MANIFEST).is_file():
        root = root.parent
    return root


def checked_folder(folder: str | Path) -> Path:
    """`folder`, after checking it against its manifest.

    A damaged folder's job output is set aside, so that the same command redoes it, and the job stops with one line.
    """
    if not Path(folder).is_dir():
        raise StylepipeError(f"{folder}: not found (a cached folder that a job needs)")
    try:
        check_folder(folder)
    except DamagedCacheError as err:
        moved = set_aside(output_root(folder))
        raise DamagedCacheError(f"{err}; set aside as {moved.name}: run the same command again to redo it") from None
    return Path(folder)


@contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a scratch path next to `final` that is renamed onto it only if the block finishes."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        yield scratch
        # Some writers (safetensors) create files readable by their owner only; a cache is shared like any output.
        os.chmod(scratch, 0o666 & ~_umask())
        os.replace(scratch, final)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StylepipeError(f"{final}: no space left on device") from None
        raise
    finally:
        if scratch.exists():
            scratch.unlink()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


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
    except Image.DecompressionBombError as exc:
        # Pillow's guard against images whose header declares more pixels than memory can take.
        raise StylepipeError(f"{path}: too large to read ({exc}); scale the image down first") from None
    except (OSError, ValueError) as exc:
        raise StylepipeError(f"{path}: not a readable image ({exc})") from None


def read_frame(path: str | Path) -> np.ndarray:
    """Read a frame this pipeline wrote (8-bit RGB PNG) as HxWx3 uint8 RGB.

    OpenCV decodes these in 0.76 ms at 320x136 against Pillow's 1.06. Anything else (another bit depth, alpha, a
    damaged file) goes through `read_rgb`, which converts it or names the file in its error.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if Path(path).is_file() else None
    if image is None or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        return read_rgb(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# Stylised frames are all texture, which deflate's matching barely shrinks. Huffman coding alone after PNG's "sub"
# row filter wrote 320x136 frames in 1.3 ms against Pillow's level 1 at 4.5 ms, at about the same size (106 KiB
# against 103 on stylised frames, 97 against 95 on blended ones); trying every filter per row, as the default
# does, cost 1.7x the time for 6% smaller files.
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
               cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
# Stored (deflate level 0, no filter): 0.26 ms a 320x136 frame against 1.32, and read back in 0.17 ms against 0.76,
# for files 21% larger (128 KiB against 106 on stylised frames).
_STORED_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]


_JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]


def write_rgb(path: str | Path, frame: np.ndarray, *, compress: bool = True) -> None:
    """Write an HxWx3 uint8 frame as PNG, or as JPEG when `path` ends in .jpg (callers write into an atomic folder
    or file).

    `compress=False` stores a PNG's pixels as they are: for frames that one job writes and the next reads once,
    where the encoding and decoding time matters more than the disk.
    """
    jpeg = Path(path).suffix == JPEG
    params = _JPEG_PARAMS if jpeg else _PNG_PARAMS if compress else _STORED_PNG_PARAMS
    ok, data = cv2.imencode(JPEG if jpeg else ".png", cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise StylepipeError(f"{path}: could not encode the frame")
    Path(path).write_bytes(data.tobytes())


def list_frames(folder: str | Path) -> list[Path]:
    """The numbered frames (PNG or JPEG) in a folder, in order."""
    return sorted((path for suffix in FRAME_SUFFIXES for path in Path(folder).glob(f"[0-9]*{suffix}")), key=lambda p: p.stem)


def frame_in(folder: str | Path, number: int) -> Path:
    """Frame `number`'s file in `folder`, whichever format it is in (the PNG name when there is none)."""
    for suffix in FRAME_SUFFIXES[1:]:
        candidate = Path(folder) / frame_name(number, suffix)
        if candidate.is_file():
            return candidate
    return Path(folder) / frame_name(number)


def split_into_chunks(flat_dir: Path, out_dir: Path, chunk_frames: int) -> int:
    """Move numbered frames from `flat_dir` into `out_dir/chunk_XXXX/`; returns the frame count."""
    frames = list_frames(flat_dir)
    for index, frame in enumerate(frames):
        chunk_dir = out_dir / chunk_name(index // chunk_frames)
        chunk_dir.mkdir(parents=True, exist_ok=True)
        os.replace(frame, chunk_dir / frame_name(index, frame.suffix))
    for chunk_dir in out_dir.glob("chunk_*"):
        write_manifest(chunk_dir)
    return len(frames)
