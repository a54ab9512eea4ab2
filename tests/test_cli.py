"""The `stylepipe` command's small tools: bad arguments and odd videos get one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from videotools import write_timed_clip


def stylepipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylepipe.cli", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("args", [["--fps", "0"], ["--fps", "abc"], ["--frames", "0"], ["--width", "15"]])
def test_demo_arguments_that_cannot_make_a_video_are_refused_in_one_line(tmp_path, args):
    result = stylepipe("demo", str(tmp_path / "out"), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument {args[0]}" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_demo_into_a_folder_it_cannot_create_says_so(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = stylepipe("demo", str(blocker / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"stylepipe: {blocker / 'out'}: cannot create the folder (Not a directory)"


@pytest.mark.parametrize("width", ["1", "-5"])
def test_warp_error_refuses_a_width_flow_cannot_work_at(tmp_path, width):
    clip = tmp_path / "clip.mp4"
    write_timed_clip(clip, [i / 8 for i in range(3)])
    result = stylepipe("metrics", "warp-error", str(clip), "--width", width)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--width" in result.stderr


def test_warp_error_of_a_one_frame_video_is_null_in_json_and_one_line_otherwise(tmp_path):
    clip = tmp_path / "one.mp4"
    write_timed_clip(clip, [0.0])
    result = stylepipe("metrics", "warp-error", str(clip), "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == {"video": str(clip), "mean": None, "per_frame": []}
    result = stylepipe("metrics", "warp-error", str(clip))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "1 frame(s)" in result.stderr


def test_warp_error_of_a_tiny_video_names_its_size(tmp_path):
    clip = tmp_path / "tiny.mp4"
    write_timed_clip(clip, [i / 8 for i in range(3)], size=(8, 8))
    result = stylepipe("metrics", "warp-error", str(clip))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "8x8 is too small" in result.stderr


def test_a_disk_with_no_room_to_start_is_one_line(tmp_path, monkeypatch):
    import shutil as shutil_module
    from collections import namedtuple

    from stylepipe.errors import StylepipeError
    from stylepipe.preflight import check_free_space

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda folder: usage(10 << 30, 10 << 30, 0))
    with pytest.raises(StylepipeError, match=r"no space left on device \(0 MiB free, at least 16 MiB needed to start\)"):
        check_free_space(tmp_path)
    monkeypatch.setattr(shutil_module, "disk_usage", lambda folder: usage(10 << 30, 0, 10 << 30))
    check_free_space(tmp_path)
