"""End-point error of each flow preset against the true motion, on clips made from real photographs and passed
through H.264 as footage is.

The clips are stylepipe.photo_scene's: the camera pans, zooms and turns over a photograph while a round object
cut from another crosses it. They are encoded (yuv420p, crf 16) and decoded again, because compression noise in
smooth areas (a night sky, a wall) is what misleads a flow there: on the clean rendered frames the errors are a
third of these. Prints, per photograph and preset, the mean end-point error in px over the background (the
pixels whose true motion is known, more than 4 px from the object's rim) and near the rim (within 4 px), and the
time per frame pair.

    .venv/bin/python bench/flow_truth.py [--photos astronaut,rocket,chelsea] [--width 192] [--frames 24]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench")]

from gatys_photo import VIEWS  # noqa: E402
from stylepipe.demo import photographs, pipe_frames_to_h264  # noqa: E402
from stylepipe.flow import FlowEstimator  # noqa: E402
from stylepipe.photo_scene import PhotoScene  # noqa: E402
from stylepipe.video import read_frames  # noqa: E402

PRESETS = ("medium", "fine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="astronaut,rocket,chelsea")
    parser.add_argument("--object", default="coffee")
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    names = args.photos.split(",")
    photos = photographs(*names, args.object)
    width, height = args.width, 2 * round(args.width * 9 / 32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    print(f"{args.frames} frames at {width}x{height}, H.264 crf 16; end-point error in px against the true motion")
    for name in names:
        scene = PhotoScene(photos[name], photos[args.object], width, height, args.frames, **VIEWS.get(name, {}))
        with tempfile.TemporaryDirectory(prefix="stylepipe-flow-truth-") as tmp:
            clip = Path(tmp) / "clip.mp4"
            pipe_frames_to_h264([], (scene.render(t) for t in range(args.frames)), (width, height), Fraction(12), clip)
            frames = read_frames(clip, (width, height))
        for preset in PRESETS:
            estimate = FlowEstimator("dis", preset)
            background, rim, seconds = [], [], 0.0
            for t in range(1, args.frames):
                truth, known = scene.backward_flow(t)
                began = time.perf_counter()
                flow = estimate(frames[t], frames[t - 1])
                seconds += time.perf_counter() - began
                error = np.hypot(*(flow - truth).transpose(2, 0, 1))
                cx, cy = scene.object_centre(t)
                from_rim = np.hypot(xx - cx, yy - cy) - scene.radius
                background.append(error[known & (from_rim > 4)].mean())
                rim.append(error[known & (np.abs(from_rim) <= 4)].mean())
            print(f"{name:10s} {preset:7s} background {np.mean(background):.3f} px, near the rim {np.mean(rim):.3f} px, "
                  f"{1000 * seconds / (args.frames - 1):.1f} ms a pair")


if __name__ == "__main__":
    main()
