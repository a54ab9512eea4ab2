"""The disk a run will need, estimated before its first job, and what a run that does not fit gets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from videotools import write_timed_clip

from stylepipe.config import TOP_LEVEL_NAME, load_schema, resolve_variants
from stylepipe.disk import check_room, estimate_run, human_bytes
from stylepipe.errors import StylepipeError
from stylepipe.video import header_size_and_frames, probe

REPO = Path(__file__).resolve().parents[1]


def variant(**overrides) -> dict:
    return resolve_variants(overrides, load_schema(REPO / "workflow/schemas/config.schema.yaml"))[TOP_LEVEL_NAME]


def test_the_header_gives_the_displayed_size_and_the_frame_count_without_decoding_the_clip(tmp_path):
    clip = tmp_path / "phone.mp4"
    write_timed_clip(clip, [k / 10 for k in range(23)], size=(64, 48), rotation=90)
    meta = probe(clip)
    assert header_size_and_frames(clip) == (meta.width, meta.height, meta.frame_count) == (48, 64, 23)


def test_the_estimate_grows_with_what_the_mode_caches_and_uses_the_flows_working_size(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_timed_clip(clip, [k / 10 for k in range(10)], size=(64, 36))
    feedforward = estimate_run(variant(content=str(clip), mode="feedforward", width=1280))
    assert feedforward.frames == 10 and feedforward.size == (1280, 720)
    # Content frames, the network's and the blend's frames, the video, the report's flow for every pair of so short a
    # clip, and one flow at 640x360.
    assert feedforward.bytes_per_frame == pytest.approx((0.4 + 3.1 + 1.0 + 0.4 + 0.6) * 1280 * 720 + 1.0 * 640 * 360)
    independent = estimate_run(variant(content=str(clip), width=1280, gatys={"init": "content", "temporal_weight": 0}))
    assert independent.bytes_per_frame == pytest.approx((0.4 + 3.1 + 0.4 + 0.6) * 1280 * 720), "no flow, no blend"
    assert estimate_run(variant(content=str(clip), mode="feedforward", width=1280, flow={"width": 1280})).bytes_per_frame \
        == pytest.approx(feedforward.bytes_per_frame + 1280 * 720 - 640 * 360)
    # The report measures at most 60 pairs, however long the clip.
    long_clip = tmp_path / "long.mp4"
    write_timed_clip(long_clip, [k / 10 for k in range(240)], size=(64, 36))
    long = estimate_run(variant(content=str(long_clip), mode="feedforward", width=1280))
    assert long.bytes_per_frame == pytest.approx(feedforward.bytes_per_frame - 0.6 * 1280 * 720 * (1 - 60 / 240))


def test_what_is_cached_already_counts_as_written_and_a_run_that_does_not_fit_stops(tmp_path, monkeypatch):
    clip = tmp_path / "clip.mp4"
    write_timed_clip(clip, [k / 10 for k in range(10)], size=(64, 36))
    config = variant(content=str(clip), mode="feedforward", width=128)
    total = estimate_run(config).total
    results = tmp_path / "results"
    (results / "out").mkdir(parents=True)
    (results / "out" / "cached.bin").write_bytes(b"\0" * (total // 2))
    free = total - total // 2 + 1000
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 40, 1 << 40, free))
    [line] = check_room(results, {"out": config})
    assert line.startswith("results/out: about") and "10 frames at 128x72" in line
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 40, 1 << 40, free - 2000))
    with pytest.raises(StylepipeError, match=r"this run would write about .* and the disk has .* free"):
        check_room(results, {"out": config})


def test_an_output_whose_content_a_rule_makes_is_left_out(tmp_path):
    assert check_room(tmp_path / "results", {"out": variant(content=str(tmp_path / "made_by_the_demo_rule.mp4"))}) == []


def test_sizes_read_as_people_write_them():
    assert [human_bytes(n) for n in (999, 1000, 1_500_000, 2.5e9, 3e12)] == ["999 B", "1.0 KB", "1.5 MB", "2.5 GB", "3.0 TB"]
