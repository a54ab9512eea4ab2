"""Small jobs for tests/test_warm.py: importable by the warm-start server from the tests folder."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_dir


def where_am_i(out_path: str, *, note: str) -> None:
    """Record the process, folder and environment the job ran in."""
    Path(out_path).write_text(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "note": note,
                                          "variable": os.environ.get("WARM_TEST_VARIABLE"), "torch": "torch" in sys.modules}))
    print("where_am_i wrote its file", file=sys.stderr)


def fails_cleanly(path: str) -> None:
    raise StylepipeError(f"{path}: not a readable image (a test)")


def fails_with_a_bug() -> None:
    raise ZeroDivisionError("a bug")


def writes_slowly(out_dir: str, pid_path: str) -> None:
    """Write into an atomic folder for a long time, so that a test can interrupt it half-way."""
    Path(pid_path).write_text(str(os.getpid()))
    with atomic_dir(out_dir) as scratch:
        for index in range(600):
            (scratch / f"{index:06d}.txt").write_text("x")
            time.sleep(0.05)
