"""The shots stage: where the cuts are, so that each shot becomes its own chain of chunks. No torch here."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from stylepipe.frames import read_rgb, write_text_atomic
from stylepipe.jobs.common import Log, Progress, stderr_log, verified_frames
from stylepipe.shots import DETECT_WIDTH, cut_scores, find_cuts, shots_from_cuts


def _as_json(result: dict[str, Any]) -> str:
    """One key a line, so that the shot list reads at a glance: {"shots": [[0, 48], [48, 130]], ...}."""
    return "{\n" + ",\n".join(f" {json.dumps(key)}: {json.dumps(value)}" for key, value in result.items()) + "\n}\n"


def shots_job(frames_dir: str, out_path: str, detect: bool, threshold: float, min_frames: int, log: Log = stderr_log) -> dict[str, Any]:
    """Write shots.json: {"shots": [[start, end], ...]} (end exclusive, covering every frame), with each cut's score."""
    frames = [path for chunk in sorted(Path(frames_dir).glob("chunk_*")) for path in verified_frames(chunk)]
    result: dict[str, Any] = {"detect": detect}
    if not detect:
        result["shots"] = shots_from_cuts([], len(frames))
        write_text_atomic(out_path, _as_json(result))
        log(f"{len(frames)} frames as one shot (shots.detect is false)")
        return result
    began = time.perf_counter()
    progress = Progress(len(frames), log)

    def read(path: Path) -> np.ndarray:
        image = read_rgb(path)
        progress.step()
        return image

    scores = cut_scores(read(path) for path in frames)
    cuts = find_cuts(scores, threshold, min_frames)
    result.update({
        "shots": shots_from_cuts(cuts, len(frames)),
        "cuts": [{"frame": t, "score": round(scores[t], 4)} for t in cuts],
        "scores": [round(s, 4) for s in scores],
        "detector": {"threshold": threshold, "min_frames": min_frames, "width": DETECT_WIDTH,
                     "definition": "share of the frame's pixels that the previous frame, warped by DIS flow, misses by more "
                                   "than 0.6 of the frame's contrast; a cut stands out from its neighbours"},
    })
    write_text_atomic(out_path, _as_json(result))
    for cut in result["cuts"]:
        log(f"cut at frame {cut['frame']} (score {cut['score']:.2f})")
    log(f"{len(frames)} frames, {len(cuts)} cut(s), {len(result['shots'])} shot(s); {time.perf_counter() - began:.1f} s")
    return result
