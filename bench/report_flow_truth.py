"""Which flow the report should measure flicker with: each candidate against the true motion.

Reads a folder that `bench/real_resolution.py --keep DIR` left (its content frames, the network's frames and the
blended ones, all with exact known motion) and, for every third frame pair, measures Lai's warping error of each
sequence with each candidate flow and its consistency mask, against the same error along the true motion over
the known-visible pixels. A flow close to the one the blend followed rates the blended frames as steadier than they
are; the one that comes closest to 1.0x on them, at a cost the report can pay, is the report's.

    .venv/bin/python bench/real_resolution.py --height 720 --seconds 2 --keep /tmp/rr720 --set keep_intermediates=true
    .venv/bin/python bench/report_flow_truth.py /tmp/rr720
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench")]

from real_resolution import bench_scene  # noqa: E402
from stylepipe.flow import FlowEstimator, consistency_mask, resize_flow, warping_error, working_size  # noqa: E402
from stylepipe.frames import list_frames, read_frame  # noqa: E402

# (name, DIS preset, width it runs at, down to that size's finest scale)
CANDIDATES = [
    ("the blend's own: medium at 640, finest", "medium", 640, True),
    ("fine at 640", "fine", 640, False),
    ("fast at 640, finest", "fast", 640, True),
    ("medium at 480, finest", "medium", 480, True),
    ("medium at 960, finest", "medium", 960, True),
    ("medium at full size, finest", "medium", 100000, True),
    ("ultrafast at full size, finest (the report's)", "ultrafast", 100000, True),
]


def candidate_flow(frame: np.ndarray, previous: np.ndarray, preset: str, width: int, finest: bool) -> tuple[np.ndarray, np.ndarray]:
    size = frame.shape[1::-1]
    working = working_size(*size, width)
    if working != size:
        frame, previous = (cv2.resize(f, working, interpolation=cv2.INTER_AREA) for f in (frame, previous))
    estimator = FlowEstimator("dis", preset, finest=finest)
    bwd = estimator(frame, previous)
    mask = consistency_mask(bwd, estimator(previous, frame))
    if working == size:
        return bwd, mask
    return resize_flow(bwd, size), cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="the --keep folder of bench/real_resolution.py")
    parser.add_argument("--every", type=int, default=3, help="measure every n-th frame pair")
    parser.add_argument("--photos", default="astronaut,coffee", help="as the clip was made with")
    args = parser.parse_args()
    root = Path(args.folder) / "results" / "out"
    meta = json.loads((root / "meta.json").read_text())
    sequences = {name: [read_frame(p) for chunk in sorted((root / folder).glob("chunk_*")) for p in list_frames(chunk)]
                 for name, folder in (("input", "frames/content"), ("blended", "stable"), ("network", "feedforward"))}
    frames = len(sequences["input"])
    scene = bench_scene(meta["width"], meta["height"], frames, *args.photos.split(","))
    height, width = sequences["input"][0].shape[:2]
    assert (width, height) == (meta["width"], meta["height"]), "the bench renders at the clip's own size"
    pairs = range(2, frames, args.every)
    truth = {name: float(np.mean([warping_error(seq[t], seq[t - 1], *scene.backward_flow(t)) for t in pairs]))
             for name, seq in sequences.items()}
    print(f"{len(pairs)} pairs at {width}x{height}; true E_warp: " + ", ".join(f"{n} {v:.6f}" for n, v in truth.items())
          + f"; blended/input {truth['blended'] / truth['input']:.1f}")
    print(f"{'flow':48s} {'s/pair':>7s} " + " ".join(f"{n + ' /truth':>15s}" for n in truth) + f" {'blended/input':>14s}")
    cv2.setNumThreads(1)
    for name, preset, flow_width, finest in CANDIDATES:
        began = time.perf_counter()
        measured: dict[str, list[float]] = {n: [] for n in sequences}
        for t in pairs:
            bwd, mask = candidate_flow(sequences["input"][t], sequences["input"][t - 1], preset, flow_width, finest)
            for n, seq in sequences.items():
                measured[n].append(warping_error(seq[t], seq[t - 1], bwd, mask))
        seconds = (time.perf_counter() - began) / len(pairs)
        means = {n: float(np.mean(v)) for n, v in measured.items()}
        print(f"{name:48s} {seconds:7.2f} " + " ".join(f"{means[n] / truth[n]:15.2f}" for n in truth)
              + f" {means['blended'] / means['input']:14.1f}")


if __name__ == "__main__":
    main()
