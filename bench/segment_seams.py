"""How long must a segment's overlap be for its seam not to pop? Gatys mode with a long shot split in two, through Snakemake.

Renders one generated shot (the demo scene: a textured picture that turns and slides, a disc moving in front of
it) as one chain, and then split into two segments (`gatys.segment_frames`) with each of several
`gatys.segment_overlap` values. For each, from metrics.json, prints the worst warping error over the seam's frames
against the median over the other frames (the issue's target: at most 2x), and the same frames' error in the
one-chain render, so the seam's cost is set beside what the frames cost anyway.

    .venv/bin/python bench/segment_seams.py [--width 128] [--frames 32] [--segment N] [--overlaps 0,2,4,6,8] [--scene demo|pan]
        [--style painting.jpg] [--keep DIR] [--set gatys.iterations=60 ...]

`--scene pan` is a different shot: a window panning 2 px a frame across a picture of colour blobs and shapes, with a
disc crossing in front (the tests' `shot_frames`). The README's second clip is
`--scene pan --frames 50 --segment 40 --overlaps 12,20 --width 150 --style the_scream.jpg`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gatys_drift import apply, bench_style, run_workflow  # noqa: E402  (bench/ is this script's own folder on sys.path)
from stylepipe.demo import write_content_video  # noqa: E402
from stylepipe.figures import contact_sheet  # noqa: E402
from stylepipe.frames import segment_starts  # noqa: E402
from stylepipe.frames import read_rgb  # noqa: E402


def decoded(video: Path, size: tuple[int, int]) -> np.ndarray:
    from stylepipe.video import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, size[1], size[0], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--segment", type=int, default=None, help="gatys.segment_frames (default: half of --frames)")
    parser.add_argument("--overlaps", default="0,2,4,6,8")
    parser.add_argument("--scene", choices=["demo", "pan"], default="demo")
    parser.add_argument("--style", default=None)
    parser.add_argument("--keep", default=None)
    parser.add_argument("--set", action="append", default=[], help="config key=value for every run, e.g. gatys.iterations=60")
    args = parser.parse_args()
    overlaps = [int(v) for v in args.overlaps.split(",")]
    segment = args.segment or args.frames // 2
    if max(overlaps) > segment // 2 or args.frames <= segment:
        raise SystemExit(f"give --segment below --frames ({args.frames}) and at least twice the largest overlap")
    split = segment_starts(0, args.frames, segment)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-seams-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip.mp4"
    if not clip.exists():
        if args.scene == "pan":
            sys.path.insert(0, str(REPO / "tests"))
            from videotools import shot_frames, write_timed_clip

            write_timed_clip(clip, [t / 24 for t in range(args.frames)], (320, 180), audio=(0.0, args.frames / 24),
                             pictures=shot_frames(12, args.frames, (320, 180), pan=2))
        else:
            write_content_video(clip, 256, 144, args.frames, Fraction(12))
    style = bench_style(args.style, work)
    names = {o: f"overlap{o}" for o in overlaps}
    config: dict = {"content": str(clip), "style": str(style), "width": args.width, "chunk_frames": 8,
                    "shots": {"detect": False},
                    "variants": {name: {"gatys": {"segment_frames": segment, "segment_overlap": o}} for o, name in names.items()}}
    for assignment in args.set:
        apply(config, assignment)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/out/metrics.json", *(f"results/{name}.mp4" for name in names.values())]
    began = time.perf_counter()
    # One thread a job on every core: the segments of a run go side by side, as they would on several GPUs.
    run_workflow(work, targets, "--set-threads", "stylize_gatys=1")
    print(f"{args.frames} frames ({args.scene}) at {args.width} px in one shot, segments from frames {split}; style {Path(style).name}; "
          f"settings {args.set or 'defaults'}; {time.perf_counter() - began:.0f} s")
    one_chain = json.loads((work / "results/out/metrics.json").read_text())["warp_error"]["output_per_frame"]
    median_one = float(np.median([v for v in one_chain if v is not None]))
    print(f"one chain: median E_warp {median_one:.5f}")
    print("overlap  seam frames   worst seam E_warp  median elsewhere  ratio (target <= 2)  one chain, same frames (worst)")
    for o, name in names.items():
        seams = json.loads((work / "results" / name / "metrics.json").read_text())["seams"]
        row = seams["seams"][0]
        frames = range(row["chain_start"], row["segment_start"] + 1)
        same = max(one_chain[t] for t in frames)
        print(f"{o:7d}  {frames.start:3d}-{frames.stop - 1:<3d}       {seams['max']:.5f}            {seams['median_elsewhere']:.5f}"
              f"           {seams['ratio_max_to_median']:5.2f}                {same:.5f}")
    sheet_rows = []
    size = read_rgb(next((work / "results/out/frames/content").glob("chunk_*/*.jpg"))).shape[1::-1]
    widest = names[max(overlaps)]
    video = decoded(work / "results" / f"{widest}.mp4", size)
    for t in (split[1] - max(overlaps) - 1, split[1] - max(overlaps) // 2, split[1]):
        holders = sorted((work / "results" / widest / "stylized").glob(f"chunk_*/{t:06d}.*"))
        earlier, later = read_rgb(holders[0]), read_rgb(holders[-1])
        sheet_rows.append((f"frame {t}", [earlier, later, video[t]]))
    sheet = work / "seam_sheet.png"
    Image.fromarray(contact_sheet(sheet_rows, ["earlier segment", "later segment", "video (cross-faded)"], cell_height=160)).save(sheet)
    print(f"frames before, inside and at the end of the widest overlap: {sheet}")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
