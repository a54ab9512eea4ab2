"""Peak memory of one flow job on a long 1080p chunk: the job streams its flows to disk a run of frames at a time.

Makes N frames of a 1 px/frame pan over a blurred noise picture at 1920x1080, runs `flow_job` on them as one
chunk with both cores, and prints the job's time, its peak RSS and what holding every flow at once would take.

    .venv/bin/python bench/flow_memory.py [--frames 96] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from stylepipe.flow import ChunkFlows  # noqa: E402
from stylepipe.frames import atomic_dir, write_rgb  # noqa: E402
from stylepipe.jobs.temporal import flow_job  # noqa: E402

WIDTH, HEIGHT = 1920, 1080


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-flowmem-"))
    picture = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (HEIGHT + 40, WIDTH + args.frames + 40, 3), np.uint8), (0, 0), 3)
    with atomic_dir(root / "frames" / "chunk_0000") as folder:
        for t in range(args.frames):
            write_rgb(folder / f"{t:06d}.png", picture[20 : 20 + HEIGHT, 20 + t : 20 + t + WIDTH])
    (root / "shots.json").write_text(json.dumps({"shots": [[0, args.frames]]}))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    flow_job(str(root / "frames"), {"start": 0, "end": args.frames}, args.frames, str(root / "shots.json"), str(root / "flow.npz"),
             "dis", "medium", [1], threads=2, log=lambda line: None)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    flows = ChunkFlows.load(root / "flow.npz")
    shift = float(np.median(flows.backward(1, args.frames // 2)[..., 0]))
    every = (args.frames - 1) * (WIDTH * HEIGHT * (2 * 2 + 1)) / 2**20
    print(f"{args.frames} frames at {WIDTH}x{HEIGHT}: flow job {seconds:.1f} s; peak RSS {peak:.0f} MB (before the job {before:.0f} MB); "
          f"every flow and mask at once would be {every:.0f} MB; median flow {shift:.2f} px (the pan is 1 px a frame)")


if __name__ == "__main__":
    main()
