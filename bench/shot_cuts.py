"""Cut scores on generated clips: where the shot detector's threshold sits between cuts and hard motion.

Prints, per clip, the frames detected as cuts against the true ones, the highest score among frames that are not
cuts, the lowest score among cuts, and the time per frame. Pans are given as a share of the frame width a frame.

    .venv/bin/python bench/shot_cuts.py [--width 640] [--height 360]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from stylepipe.shots import cut_scores, find_cuts  # noqa: E402
from videotools import shot_frames  # noqa: E402

THRESHOLD, MIN_FRAMES = 0.25, 6  # the schema's defaults


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return ((1 - w) * a.astype(np.float32) + w * b.astype(np.float32)).round().astype(np.uint8)


def _noisy(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    return [np.clip(f.astype(np.int16) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8) for f in frames]


def clips(size: tuple[int, int]) -> dict[str, tuple[list[np.ndarray], list[int]]]:
    width = size[0]
    a, b, c = shot_frames(1, 24, size, pan=width * 0.01), shot_frames(2, 24, size, pan=-width * 0.015), shot_frames(3, 20, size, pan=0)
    mirrored = [f[:, ::-1].copy() for f in shot_frames(3, 12, size, pan=width * 0.005)]
    found: dict[str, tuple[list[np.ndarray], list[int]]] = {
        "cuts (4 shots, one back to the same place mirrored)": (a[:12] + b[:10] + c[:14] + mirrored, [12, 22, 36]),
        "fade through black (8 + 8 frames)": (a[:12] + [_mix(f, 0 * f, k / 8) for k, f in enumerate(a[12:20], 1)]
                                              + [_mix(0 * f, f, k / 8) for k, f in enumerate(b[:8])] + b[8:], []),
        "dissolve (10 frames)": (a[:10] + [_mix(x, y, k / 11) for k, (x, y) in enumerate(zip(a[10:20], b[:10]), 1)] + b[10:], []),
    }
    for share in (0.05, 0.10, 0.15, 0.25):
        pan = shot_frames(5, 20, size, pan=width * share)
        found[f"pan of {share:.0%} a frame from a standstill"] = ([pan[0]] * 8 + pan, [])
        cut = shot_frames(6, 16, size, pan=width * share)
        found[f"cut between two pans of {share:.0%}"] = (pan[:16] + cut, [16])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'clip':55s} {'cuts found':>14s} {'true':>14s} {'max non-cut':>12s} {'min cut':>8s} {'ms/frame':>9s}")
    for name, (frames, truth) in clips((args.width, args.height)).items():
        frames = _noisy(frames, rng)
        began = time.perf_counter()
        scores = cut_scores(frames)
        seconds = time.perf_counter() - began
        cuts = find_cuts(scores, THRESHOLD, MIN_FRAMES)
        others = [s for t, s in enumerate(scores) if t not in truth]
        lowest = min((scores[t] for t in truth), default=float("nan"))
        mark = "" if cuts == truth else "  <- differs"
        print(f"{name:55s} {str(cuts):>14s} {str(truth):>14s} {max(others):12.2f} {lowest:8.2f} {1000 * seconds / len(frames):9.1f}{mark}")


if __name__ == "__main__":
    main()
