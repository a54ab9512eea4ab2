"""Input files known by their content, not their timestamps.

Snakemake reruns a job when an input is newer than its output. A clip replaced by another with an older timestamp
(`cp -p`, `mv`, `rsync -a`, unzip, a camera that reuses VID_0001.mp4) is not newer, and the old video came out again
with exit 0. Each input file therefore gets a stamp under `results/.inputs/`: its size and a BLAKE2b hash of its
bytes, rewritten (so its time moves on) only when those change. The rules take the stamp as an input beside the file,
so a changed file reruns what depends on it, whatever its timestamp says.

Hashing a large clip on every run would cost seconds, so the stamp also keeps the file's stat (device, inode, size,
modification and change times): while none of them moved the file is taken as unchanged. Writing a file always moves
its change time, which no user-level tool sets back, so `cp -p` over it is always seen.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stylepipe.frames import write_text_atomic

STAMP_DIR = Path("results/.inputs")
_CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """BLAKE2b (128-bit) of the file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while block := stream.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stat_key(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def stamp_path(path: str | Path, folder: str | Path = STAMP_DIR) -> Path:
    """Where the stamp of the input `path` lives: one file per absolute path."""
    absolute = os.path.abspath(path)
    return Path(folder) / f"{Path(absolute).name}-{hashlib.sha1(absolute.encode()).hexdigest()[:12]}.json"


def read_stamp(path: str | Path, folder: str | Path = STAMP_DIR) -> dict[str, Any] | None:
    try:
        return json.loads(stamp_path(path, folder).read_text())
    except (OSError, ValueError):
        return None


def fingerprint(path: str | Path, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """{path, size, hash, stat} of the file; the hash is taken from `known` when its stat has not moved."""
    path = Path(path)
    stat = _stat_key(path)
    if known and known.get("stat") == stat and known.get("path") == os.path.abspath(path):
        return known
    return {"path": os.path.abspath(path), "size": stat[2], "hash": content_hash(path), "stat": stat}


def changed_since_stamp(path: str | Path, folder: str | Path = STAMP_DIR) -> bool:
    """Whether the file's content differs from what its stamp records (no stamp: it has never been used)."""
    known = read_stamp(path, folder)
    if known is None:
        return True
    now = fingerprint(path, known)
    return (now["size"], now["hash"]) != (known["size"], known["hash"])


def stamp(path: str | Path, folder: str | Path = STAMP_DIR) -> str:
    """The stamp of input `path`, rewritten when its content changed (or its stat moved, to remember the new stat
    without hashing again) and left alone, with its old time, when nothing did. Returns the stamp's path."""
    target = stamp_path(path, folder)
    known = read_stamp(path, folder)
    now = fingerprint(path, known)
    if now is not known:
        if known is not None and (now["size"], now["hash"]) == (known["size"], known["hash"]):
            # Same bytes, new stat (touched, copied back): keep the stamp's time, or everything would rerun.
            times = os.stat(target)
            write_text_atomic(target, json.dumps(now))
            os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
        else:
            write_text_atomic(target, json.dumps(now))
    return str(target)


def stamps(paths: list[str], generated: Sequence[str] = ()) -> list[str]:
    """The stamps of the input files among `paths`. A file a rule makes (`generated`: the demo's) needs none: it is
    newer than what is made from it whenever it is made again, and stamping it only once it exists would make the
    second run redo everything."""
    made = {os.path.abspath(path) for path in generated}
    return [stamp(path) for path in paths if os.path.abspath(path) not in made and Path(path).is_file()]
