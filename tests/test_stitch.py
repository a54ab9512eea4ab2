"""Reading an output whose long shot was split into segments: one frame per number, overlaps cross-faded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_workdir, run_snakemake, stylize_chains, tiny_config
from videotools import read_all_frames, shot_frames, write_timed_clip

from stylepipe.errors import StylepipeError
from stylepipe.flow import ChunkFlows, warping_error
from stylepipe.frames import atomic_dir, chunk_layout, frame_name, read_rgb, write_rgb
from stylepipe.jobs.temporal import seam_report
from stylepipe.settings import GatysSettings
from stylepipe.stitch import OutputFrames, Seam


def _write_chunks(root, layout, value_of):
    folders = []
    for k, chunk in enumerate(layout):
        folder = root / f"chunk_{k:04d}"
        with atomic_dir(folder) as scratch:
            for t in range(chunk["start"], chunk["end"]):
                write_rgb(scratch / frame_name(t), np.full((4, 6, 3), value_of(chunk["chain"], t), np.uint8))
        folders.append(folder)
    return folders


def test_overlap_frames_cross_fade_linearly_from_the_earlier_segment_to_the_later(tmp_path):
    layout = chunk_layout([[0, 20]], 4, segment_frames=10, segment_overlap=3)
    # Chain 0 paints every frame 0, chain 1 paints 240: the video must ramp between them across frames 7-9.
    folders = _write_chunks(tmp_path, layout, lambda chain, t: 240 * chain)
    frames = OutputFrames(folders, layout)
    assert len(frames) == 20
    assert frames.seams == [Seam(7, 10)]
    values = [int(frame[0, 0, 0]) for frame in frames]
    assert values == [0] * 7 + [60, 120, 180] + [240] * 10
    assert [w for _, w in frames.sources(8)] == [0.5, 0.5]
    assert list(frames.seams[0].frames) == [7, 8, 9, 10]


def test_no_overlap_switches_at_the_segment_start(tmp_path):
    layout = chunk_layout([[0, 12]], 4, segment_frames=6, segment_overlap=0)
    frames = OutputFrames(_write_chunks(tmp_path, layout, lambda chain, t: 100 * chain), layout)
    assert [int(f[0, 0, 0]) for f in frames] == [0] * 6 + [100] * 6
    assert frames.seams == [Seam(6, 6)] and list(frames.seams[0].frames) == [6]


def test_a_folder_that_does_not_hold_its_chunks_frames_is_named(tmp_path):
    layout = chunk_layout([[0, 8]], 4)
    folders = _write_chunks(tmp_path, layout, lambda chain, t: 0)
    (folders[1] / frame_name(7)).unlink()
    with pytest.raises(StylepipeError, match="chunk_0001: holds frames 4-6 but the chunk layout says 4-7"):
        OutputFrames(folders, layout)


def test_an_overlap_longer_than_half_a_segment_is_refused_naming_the_key():
    GatysSettings.from_config({"segment_frames": 24, "segment_overlap": 12})
    GatysSettings.from_config({"segment_frames": 0, "segment_overlap": 12})  # segments off: the overlap is unused
    with pytest.raises(StylepipeError, match=r"config key 'gatys.segment_overlap': 12 frames is more than half of gatys.segment_frames \(20\)"):
        GatysSettings.from_config({"segment_frames": 20, "segment_overlap": 12})


def test_seam_report_sets_each_seam_beside_the_median_of_the_other_frames():
    errors = [None, 1.0, 1.0, 1.2, 3.0, 2.0, 1.0, 0.8, 1.0, 1.0]
    report = seam_report([Seam(4, 5)], errors)
    assert report["count"] == 1 and report["seams"][0]["per_frame"] == [3.0, 2.0]
    assert report["median_elsewhere"] == 1.0 and report["ratio_max_to_median"] == 3.0
    assert seam_report([], errors)["count"] == 0


LONG_SHOT = 24


@pytest.fixture(scope="module")
def long_shot(tiny_inputs, tmp_path_factory) -> Path:
    """A 64x48 clip of one 24-frame panning shot, set up to stylise it in three segments of 8 frames (with a
    long-term temporal term, which must not look back past its segment's own first frame)."""
    folder = tmp_path_factory.mktemp("segments")
    clip = folder / "long_shot.mp4"
    write_timed_clip(clip, [i / 8 for i in range(LONG_SHOT)], audio=(0.0, 3.0), pictures=shot_frames(5, LONG_SHOT, (64, 48), pan=1))
    # crf 0 keeps the luma nearly whole (about 1 level off after the colour conversions), so the test can see the
    # cross-fade in the video itself.
    config = tiny_config(tiny_inputs, content=str(clip), width=48, chunk_frames=4, encode={"crf": 0},
                         gatys={**tiny_config(tiny_inputs)["gatys"], "segment_frames": 8, "segment_overlap": 3, "long_term": [1, 2]})
    return make_workdir(folder / "work", config)


def test_a_long_shot_in_segments_runs_as_independent_chains_whose_seams_are_cross_faded(long_shot):
    workdir = long_shot
    result = run_snakemake(workdir, "results/out/shots.json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((workdir / "results/out/shots.json").read_text())["shots"] == [[0, LONG_SHOT]]
    chains = stylize_chains(workdir, "results/out.mp4")
    # Segment 0 is frames 0-7; segments 1 and 2 start 3 frames early (5-15 and 13-23), in chunks of 4.
    assert sorted(len(chain) for chain in chains) == [2, 3, 3], chains

    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    logs = workdir / "results/out/logs"
    first_lines = {k: next(line for line in (logs / f"stylize_{k:04d}.log").read_text().splitlines() if line.startswith("frame"))
                   for k in (2, 5)}
    assert first_lines[2].split()[1] == "5" and "(new segment, taking over at frame 8)" in first_lines[2]
    assert first_lines[5].split()[1] == "13" and "(new segment, taking over at frame 16)" in first_lines[5]

    metrics = json.loads((workdir / "results/out/metrics.json").read_text())
    assert metrics["frames"] == LONG_SHOT and len(metrics["warp_error"]["output_per_frame"]) == LONG_SHOT
    seams = metrics["seams"]
    assert [(s["chain_start"], s["segment_start"], s["overlap"]) for s in seams["seams"]] == [(5, 8, 3), (13, 16, 3)]
    assert all(len(s["per_frame"]) == 4 for s in seams["seams"])
    # Switching from one segment to the other between two frames would jump by E; the fade takes four steps of
    # about E/16 each (the error is squared), on top of the motion's own.
    stylized = workdir / "results/out/stylized"
    flows = ChunkFlows.load(workdir / "results/out/flow/chunk_0002.npz")
    jump = warping_error(read_rgb(stylized / "chunk_0002" / frame_name(8)), read_rgb(stylized / "chunk_0001" / frame_name(7)),
                         flows.backward(1, 8), flows.reliable(1, 8))
    assert seams["seams"][0]["max"] < jump / 4, (seams["seams"][0], jump)
    assert seams["median_elsewhere"] > 0 and seams["ratio_max_to_median"] == pytest.approx(seams["max"] / seams["median_elsewhere"])

    # The video shows the cross-fade: frame 6 (weight 2/4 on the later segment) is the mean of the two chains' frame 6.
    earlier, later = (read_rgb(stylized / chunk / frame_name(6)) for chunk in ("chunk_0001", "chunk_0002"))
    video = read_all_frames(workdir / "results/out.mp4", (48, 36))
    assert len(video) == LONG_SHOT
    shown, earlier, later = (_luma(picture) for picture in (video[6], earlier, later))
    assert np.abs(earlier - later).mean() > 3, "the two segments painted frame 6 alike; the test cannot see the fade"
    assert np.abs(shown - (earlier + later) / 2).mean() < 0.4 * min(np.abs(shown - earlier).mean(), np.abs(shown - later).mean())


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma, which the encode keeps whole (its chroma is subsampled)."""
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
