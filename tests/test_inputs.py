"""Inputs known by their content: a file replaced by another with an older timestamp still reruns what it feeds."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import make_workdir, rules_run, run_snakemake, tiny_config
from stylepipe.demo import painterly_frame
from stylepipe.fingerprint import stamp, stamp_path
from stylepipe.status import output_status
from videotools import probe, write_timed_clip


def copy_keeping_time(source: Path, target: Path) -> None:
    """`cp -p`: the bytes and the source's (older) modification time."""
    shutil.copy2(source, target)


def test_a_stamp_moves_only_when_the_bytes_change(tmp_path):
    data, folder = tmp_path / "clip.bin", tmp_path / "stamps"
    data.write_bytes(b"first")
    first = Path(stamp(data, folder))
    past = time.time() - 1000
    os.utime(first, (past, past))
    os.utime(data, (past - 500, past - 500))  # touched back: new stat, same bytes
    assert stamp(data, folder) == str(first) and first.stat().st_mtime == past
    older = tmp_path / "older.bin"
    older.write_bytes(b"other")
    os.utime(older, (past - 9000, past - 9000))
    copy_keeping_time(older, data)
    assert Path(stamp(data, folder)).stat().st_mtime > past + 900
    assert stamp_path(data, folder) == first


def test_files_a_rule_makes_get_no_stamp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # stamps go to results/.inputs under the project folder
    # The demo's clip does not exist when the first run is planned; stamping it on the second would redo everything.
    made, given = tmp_path / "demo.mp4", tmp_path / "mine.mp4"
    made.write_bytes(b"generated")
    given.write_bytes(b"given")
    from stylepipe.fingerprint import stamps

    assert stamps([str(made), str(given)], generated=[str(made)]) == [str(stamp_path(given))]


def test_a_content_or_style_replaced_by_an_older_file_is_rendered_again(tmp_path, tiny_inputs):
    work = tmp_path / "work"
    work.mkdir()
    first, second = tmp_path / "A.mp4", tmp_path / "B.mp4"
    write_timed_clip(first, [i / 8 for i in range(8)])
    write_timed_clip(second, [i / 8 for i in range(5)])
    painting, other_painting = tmp_path / "p1.png", tmp_path / "p2.png"
    Image.fromarray(painterly_frame(40, 30, 1.0, seed=5)).save(painting)
    Image.fromarray(painterly_frame(40, 30, 3.0, seed=9)).save(other_painting)
    for older in (second, other_painting):
        os.utime(older, (time.time() - 10**6, time.time() - 10**6))  # made long ago, as a camera or an archive says
    shutil.copy(first, work / "clip.mp4")
    shutil.copy(painting, work / "painting.png")
    config = tiny_config(tiny_inputs, content="clip.mp4", style="painting.png", gatys={"iterations": 2, "first_iterations": 2,
                                                                                           "scale_iterations": [2, 2]})
    config.pop("variants")
    make_workdir(work, config)
    assert run_snakemake(work, "results/out.mp4").returncode == 0
    assert probe(work / "results/out.mp4").frame_count == 8
    assert output_status(work / "results", "out").state == "done"

    copy_keeping_time(second, work / "clip.mp4")
    os.chdir(work)  # status reads the inputs' paths as the run gave them, relative to the project folder
    try:
        status = output_status(Path("results"), "out")
    finally:
        os.chdir(tmp_path)
    assert status.state == "stale" and "clip.mp4 changed" in status.line()
    result = run_snakemake(work, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-2000:]
    assert probe(work / "results/out.mp4").frame_count == 5, "the replaced clip is the one rendered"
    assert rules_run(result.stdout + result.stderr).get("probe") == 1

    before = (work / "results/out/frames/style").stat().st_mtime
    copy_keeping_time(other_painting, work / "painting.png")
    result = run_snakemake(work, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-2000:]
    assert rules_run(result.stdout + result.stderr).get("style_frames") == 1 and rules_run(result.stdout + result.stderr).get("probe") is None
    style = np.asarray(Image.open(next((work / "results/out/frames/style").glob("style_0/*.png"))))
    assert (work / "results/out/frames/style").stat().st_mtime > before and style.std() > 0
    # Nothing changed since: a third run does nothing.
    again = run_snakemake(work, "results/out.mp4")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
