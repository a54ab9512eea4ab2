"""Shots: the cut detector on generated clips with known cuts, and each shot as its own chain in the workflow."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, make_workdir, rules_run, run_snakemake, stylize_chains, tiny_config
from videotools import read_all_frames, shot_frames, write_timed_clip

from stylepipe.config import load_schema
from stylepipe.shots import cut_scores, find_cuts, shots_from_cuts

SIZE = (160, 96)
SHOTS_SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")["properties"]["shots"]["properties"]
THRESHOLD, MIN_FRAMES = SHOTS_SCHEMA["threshold"]["default"], SHOTS_SCHEMA["min_frames"]["default"]


def _noisy(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """Sensor noise, so that no two frames of a still shot are identical."""
    rng = np.random.default_rng(seed)
    return [np.clip(f.astype(np.int16) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8) for f in frames]


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return ((1 - w) * a.astype(np.float32) + w * b.astype(np.float32)).round().astype(np.uint8)


def _detected(frames: list[np.ndarray]) -> list[int]:
    return find_cuts(cut_scores(frames), THRESHOLD, MIN_FRAMES)


def test_every_cut_is_found_including_one_to_the_same_place_seen_mirrored():
    first, second, third = shot_frames(1, 12, SIZE, pan=2), shot_frames(2, 10, SIZE, pan=-3), shot_frames(3, 14, SIZE, pan=0)
    mirrored = [f[:, ::-1].copy() for f in shot_frames(3, 12, SIZE, pan=1)]
    assert _detected(_noisy(first + second + third + mirrored)) == [12, 22, 36]


def test_a_fade_through_black_is_not_a_cut():
    out, back = shot_frames(1, 20, SIZE, pan=2), shot_frames(2, 20, SIZE, pan=-2)
    frames = out[:12] + [_mix(f, 0 * f, k / 8) for k, f in enumerate(out[12:20], 1)]
    frames += [_mix(0 * f, f, k / 8) for k, f in enumerate(back[:8])] + back[8:]
    assert _detected(_noisy(frames)) == []


def test_a_dissolve_is_not_a_cut():
    a, b = shot_frames(1, 24, SIZE, pan=2), shot_frames(2, 24, SIZE, pan=-2)
    frames = a[:10] + [_mix(x, y, k / 11) for k, (x, y) in enumerate(zip(a[10:20], b[:10]), 1)] + b[10:]
    assert _detected(_noisy(frames)) == []


def test_a_fast_pan_and_a_flash_are_not_cuts():
    # From a standstill, the window jumps an eighth of the frame a frame.
    pan = shot_frames(5, 20, SIZE, pan=20)
    still = [pan[0]] * 8
    flash = [f if k != 5 else np.clip(f.astype(np.int16) + 60, 0, 255).astype(np.uint8) for k, f in enumerate(shot_frames(6, 12, SIZE, pan=1))]
    assert _detected(_noisy(still + pan)) == []
    assert _detected(_noisy(flash)) == []


def test_cuts_closer_than_min_frames_are_dropped_and_shots_cover_every_frame():
    scores = [0, 0.01, 0.9, 0.01, 0.9, 0.02, 0.01, 0.02, 0.02, 0.8, 0.01, 0.01]
    assert find_cuts(scores, 0.25, 1) == [2, 4, 9]
    assert find_cuts(scores, 0.25, 3) == [4, 9]
    assert shots_from_cuts([4, 9], 12) == [[0, 4], [4, 9], [9, 12]]
    assert shots_from_cuts([], 5) == [[0, 5]]


SHOT_LENGTH = 8


@pytest.fixture(scope="module")
def three_shots(tiny_inputs, tmp_path_factory) -> Path:
    """A 64x48 clip of three 8-frame shots with a second of audio each, in a work folder set up to stylise it."""
    folder = tmp_path_factory.mktemp("shots")
    pictures = shot_frames(1, SHOT_LENGTH, (64, 48), pan=1) + shot_frames(2, SHOT_LENGTH, (64, 48), pan=-2) \
        + shot_frames(3, SHOT_LENGTH, (64, 48), pan=0)
    clip = folder / "three_shots.mp4"
    write_timed_clip(clip, [i / 8 for i in range(3 * SHOT_LENGTH)], audio=(0.0, 3.0), pictures=pictures)
    variants = {"oneshot": {"shots": {"detect": False}}, "ff": {"mode": "feedforward", "chunk_frames": 12, "feedforward": {"arch": "arbitrary"}}}
    config = tiny_config(tiny_inputs, content=str(clip), width=48, chunk_frames=4, variants=variants)
    return make_workdir(folder / "work", config)


def _span(log: Path) -> tuple[datetime, datetime]:
    lines = log.read_text().splitlines()
    return datetime.fromisoformat(lines[0].split()[1]), datetime.fromisoformat(lines[-1].split()[1])


def test_three_shots_are_three_independent_chains_that_run_side_by_side(three_shots):
    workdir = three_shots
    result = run_snakemake(workdir, "results/out/shots.json", "results/oneshot/shots.json")
    assert result.returncode == 0, result.stderr[-2000:]
    shots = json.loads((workdir / "results/out/shots.json").read_text())
    assert shots["shots"] == [[0, 8], [8, 16], [16, 24]]
    assert json.loads((workdir / "results/oneshot/shots.json").read_text())["shots"] == [[0, 24]]

    chains = stylize_chains(workdir, "results/out.mp4")
    assert sorted(len(chain) for chain in chains) == [2, 2, 2], chains
    assert [len(chain) for chain in stylize_chains(workdir, "results/oneshot.mp4")] == [6]

    # Two cores and one thread a job: two shots' chains run at the same time.
    result = run_snakemake(workdir, "results/out.mp4", "--set-threads", "stylize_gatys=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert rules_run(result.stdout + result.stderr)["stylize_gatys"] == 6
    logs = workdir / "results/out/logs"
    spans = {k: _span(logs / f"stylize_{k:04d}.log") for k in range(6)}
    first_of_shot = {0: 0, 1: 2, 2: 4}
    overlapping = [(a, b) for a in first_of_shot.values() for b in first_of_shot.values()
                   if a < b and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]]
    assert overlapping, f"no two chains overlapped in time: {spans}"

    # Every shot's first frame starts afresh; no frame looks back across a cut.
    for shot, chunk in first_of_shot.items():
        lines = [line for line in (logs / f"stylize_{chunk:04d}.log").read_text().splitlines() if line.startswith("frame")]
        assert int(lines[0].split()[1]) == SHOT_LENGTH * shot
        assert ("(new shot)" in lines[0]) == (shot > 0)
    warp = json.loads((workdir / "results/out/metrics.json").read_text())["warp_error"]
    gaps = [t for t, value in enumerate(warp["output_per_frame"]) if value is None]
    assert gaps == [0, 8, 16]
    flows = np.load(workdir / "results/out/flow/chunk_0002.npz")
    assert "bwd_1_8" not in flows.files and "bwd_1_9" in flows.files

    frames = read_all_frames(workdir / "results/out.mp4", (48, 36))
    assert len(frames) == 3 * SHOT_LENGTH


def test_feed_forward_chunks_span_cuts_but_the_flow_and_the_blend_do_not(three_shots):
    from stylepipe.frames import read_rgb

    workdir = three_shots
    # keep_intermediates: the network's frames stay, to set beside the blended ones.
    result = run_snakemake(workdir, "results/ff.mp4", "--config", "keep_intermediates=true")
    assert result.returncode == 0, result.stderr[-3000:]
    # 24 frames in chunks of 12 over three 8-frame shots: two network jobs, not three or six.
    assert rules_run(result.stdout + result.stderr)["stylize_feedforward"] == 2
    out = workdir / "results/ff"
    first, second = (np.load(out / f"flow/chunk_{k:04d}.npz").files for k in (0, 1))
    assert {"bwd_1_7", "bwd_1_9"} <= set(first) and "bwd_1_8" not in first
    assert {"bwd_1_12", "bwd_1_17"} <= set(second) and "bwd_1_16" not in second  # 12 looks back into chunk 0

    def frame(stage: str, number: int) -> np.ndarray:
        return read_rgb(next((out / stage).glob(f"chunk_*/{number:06d}.*"))).astype(int)

    # The blend starts afresh at each cut: a shot's first frame is the network's own (stored as JPEG), the next is
    # blended.
    for cut in (8, 16):
        fresh = np.abs(frame("stable", cut) - frame("feedforward", cut)).mean()
        assert fresh < 1.5 and np.abs(frame("stable", cut + 1) - frame("feedforward", cut + 1)).mean() > 3 * fresh
    assert not np.array_equal(frame("stable", 12), frame("feedforward", 12))  # across the chunk boundary it goes on
    warp = json.loads((out / "metrics.json").read_text())["warp_error"]
    assert [t for t, value in enumerate(warp["output_per_frame"]) if value is None] == [0, 8, 16]
    assert len(read_all_frames(workdir / "results/ff.mp4", (48, 36))) == 3 * SHOT_LENGTH
