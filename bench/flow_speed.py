"""Milliseconds per frame pair at 640x360 for OpenCV DIS (ultrafast, fast, medium) and Farneback.

One "pair" is one flow field (one direction); the pipeline computes two per pair
(forward and backward) plus the consistency mask, which is also timed here. The last line compares to DIS
medium, the default.

    .venv/bin/python bench/flow_speed.py [--pairs 30] [--width 640 --height 360]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from stylepipe.demo import Scene
from stylepipe.flow import FlowEstimator, consistency_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    scene = Scene(args.width, args.height, args.pairs + 1, pan=(3, 1), velocity=(-8, 2))
    frames = [scene.render(t) for t in range(args.pairs + 1)]
    print(f"{args.width}x{args.height}, {args.pairs} pairs, OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    timings: dict[str, float] = {}
    for label, method, preset in [
        ("dis/ultrafast", "dis", "ultrafast"),
        ("dis/fast", "dis", "fast"),
        ("dis/medium", "dis", "medium"),
        ("farneback", "farneback", "medium"),
    ]:
        estimator = FlowEstimator(method, preset)
        estimator(frames[1], frames[0])  # warm-up
        began = time.perf_counter()
        flows = [estimator(frames[t], frames[t - 1]) for t in range(1, len(frames))]
        timings[label] = (time.perf_counter() - began) / args.pairs * 1000
        errors = [np.linalg.norm(flow - scene.backward_flow(t), axis=-1).mean() for t, flow in enumerate(flows, start=1)]
        print(f"{label:14s} {timings[label]:7.2f} ms/pair   mean endpoint error {np.mean(errors):.3f} px")
    bwd = FlowEstimator()(frames[1], frames[0])
    fwd = FlowEstimator()(frames[0], frames[1])
    began = time.perf_counter()
    for _ in range(args.pairs):
        consistency_mask(bwd, fwd)
    print(f"{'mask':14s} {(time.perf_counter() - began) / args.pairs * 1000:7.2f} ms/pair (consistency check)")
    base = timings["dis/medium"]
    print(" ".join(f"{label}/dis-medium: {value / base:.2f}x" for label, value in timings.items()))


if __name__ == "__main__":
    main()
