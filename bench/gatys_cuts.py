"""Gatys mode on a clip with cuts and a fast occluder, through Snakemake: what the pixels the flow cannot carry over
start from (`gatys.uncovered_start`), side by side.

Writes three 12-frame shots (a textured window panning, with a yellow disc crossing it fast; in the last shot it
passes over a dark disc that then comes back into view), renders them with the defaults and with
`uncovered_start: content`, and prints the cuts found, each run's output warping error against the input's, its
style distance and its content distance per shot. The contact sheet shows the last shot's frames 26, 29, 32 and 35:
content, defaults, `content`.

    .venv/bin/python bench/gatys_cuts.py [--width 130] [--style painting.jpg] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from gatys_drift import bench_style, run_workflow  # noqa: E402  (bench/ is this script's own folder on sys.path)
from stylepipe.figures import contact_sheet  # noqa: E402
from stylepipe.frames import read_rgb  # noqa: E402
from videotools import shot_frames, write_timed_clip  # noqa: E402

SHOT_FRAMES = 12
SHEET_FRAMES = (26, 29, 32, 35)
RUNS = {"out": "defaults (neighbours)", "content_start": "uncovered_start: content"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=130)
    parser.add_argument("--style", default=None)
    parser.add_argument("--keep", default=None)
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-cuts-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip.mp4"
    if not clip.exists():
        size = (2 * args.width, round(2 * args.width * 148 / 260))
        pictures = [frame for seed, pan in ((1, 3), (2, -2), (3, 4)) for frame in shot_frames(seed, SHOT_FRAMES, size, pan=pan)]
        write_timed_clip(clip, [t / 24 for t in range(len(pictures))], size, audio=(0, 1.5), pictures=pictures)
    style = bench_style(args.style, work)
    config = {"content": str(clip), "style": str(style), "width": args.width,
              "variants": {"content_start": {"gatys": {"uncovered_start": "content"}}}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    began = time.perf_counter()
    run_workflow(work, [f"results/{name}.mp4" for name in RUNS])
    shots = json.loads((work / "results" / "out" / "shots.json").read_text())
    print(f"{3 * SHOT_FRAMES} frames at {args.width} px, style {Path(style).name}; {time.perf_counter() - began:.0f} s; "
          f"cuts found at {[cut['frame'] for cut in shots['cuts']]} (made at {SHOT_FRAMES} and {2 * SHOT_FRAMES})")
    for name, label in RUNS.items():
        metrics = json.loads((work / "results" / name / "metrics.json").read_text())
        fidelity, warp = metrics["fidelity"], metrics["warp_error"]
        per_shot = [np.mean(fidelity["content_distance_per_frame"][a:b]) for a, b in shots["shots"]]
        print(f"{label:26s} E_warp x{warp['ratio_output_to_input']:.2f} the input's (x{warp['lanczos']['ratio_output_to_input']:.2f} "
              f"with a Lanczos warp); style distance {fidelity['style_distance_mean']:.4f}; content distance per shot "
              + ", ".join(f"{value:.3f}" for value in per_shot))

    def frame(folder: str, number: int) -> np.ndarray:
        return read_rgb(next((work / "results" / folder).glob(f"chunk_*/{number:06d}.*")))

    rows = [(f"frame {n}", [frame("out/frames/content", n), *(frame(f"{name}/stylized", n) for name in RUNS)]) for n in SHEET_FRAMES]
    sheet = work / "contact_sheet.png"
    Image.fromarray(contact_sheet(rows, ["content", *RUNS.values()], cell_height=160)).save(sheet)
    print(f"contact sheet of the last shot (content, then each run): {sheet}")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
