"""Does Gatys mode drift along a shot? The issue's three checks, on a generated 36-frame clip, through Snakemake.

Renders a clip with known motion (a textured scene that pans, with a disc moving in front of it) twice with the
same settings: temporal defaults, and frames stylised on their own (`init: content`, `temporal_weight: 0`). Prints,
from each run's metrics.json:
- content distance over the last third of the frames against the first third (drift; target at most 1.1x);
- output warping error against the input's (target at most 1.5x);
- mean style distance, temporal against independent (as stylised; target within 10%).

    .venv/bin/python bench/gatys_drift.py [--width 128] [--frames 36] [--style painting.jpg] [--keep DIR] [--independent-iterations 90] [--set gatys.iterations=60 ...]
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

from stylepipe.figures import contact_sheet  # noqa: E402
from stylepipe.frames import read_rgb  # noqa: E402
from stylepipe.demo import Scene, pipe_frames_to_h264, painterly_frame, write_content_video  # noqa: E402


def write_there_and_back(path: Path, width: int, height: int, frames: int, fps: Fraction) -> None:
    """The demo scene played forward for half the clip, then backward: frame t shows what frame n-1-t shows, so
    the first and last thirds hold the same pictures and any rise in content distance between them is drift."""
    scene = Scene(width, height, (frames + 1) // 2)
    order = [min(t, frames - 1 - t) for t in range(frames)]
    pipe_frames_to_h264([], (scene.render(t) for t in order), (width, height), fps, path)


def apply(config: dict, assignment: str) -> None:
    key, value = assignment.split("=", 1)
    *parents, leaf = key.split(".")
    block = config
    for part in parents:
        block = block.setdefault(part, {})
    block[leaf] = yaml.safe_load(value)


def bench_style(style: str | None, work: Path) -> str:
    """The painting a bench renders with: `style` (made absolute, since Snakemake runs in the work folder), else
    the shared Starry Night, else a generated painterly still written into `work`."""
    if style:
        return str(Path(style).resolve())
    shared = next(iter(sorted((REPO.parent / "shared" / "styles").glob("starry*.jpg"))), None)
    if shared is not None:
        return str(shared)
    path = work / "style.png"
    Image.fromarray(painterly_frame(320, 240, 0.5, seed=3)).save(path)
    return str(path)


def run_workflow(work: Path, targets: list[str], *options: str) -> None:
    """The README's `snakemake --cores 2 TARGETS` in `work` (its config.yaml); on failure, the end of its stderr and
    a one-line exit."""
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    result = subprocess.run([snakemake, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
                             *targets, *options], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stderr[-3000:])
        raise SystemExit("the run failed")


def write_sheet(work: Path, frames: int, out: Path) -> None:
    """Content, temporal and independent output side by side at frames 0, the middle and the last."""
    def frame(folder: str, number: int) -> np.ndarray:
        return read_rgb(next((work / "results" / folder).glob(f"chunk_*/{number:06d}.*")))

    rows = [(f"frame {n}", [frame(f, n) for f in ("out/frames/content", "out/stylized", "independent/stylized")])
            for n in (0, frames // 2, frames - 1)]
    Image.fromarray(contact_sheet(rows, ["content", "temporal (defaults)", "independent"], cell_height=200)).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--style", default=None)
    parser.add_argument("--keep", default=None)
    parser.add_argument("--there-and-back", action="store_true",
                        help="the scene forward then backward, so the last third repeats the first (independent frames: x1.000)")
    parser.add_argument("--independent-iterations", type=int, default=None,
                        help="iterations for each independent frame (default: the same as a temporal frame's); give the "
                             "first frame's total (e.g. 90) for a baseline as converged as frame 0")
    parser.add_argument("--set", action="append", default=[], help="config key=value for both runs, e.g. gatys.iterations=60")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-drift-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip.mp4"
    if not clip.exists():
        if args.there_and_back:
            write_there_and_back(clip, 256, 144, args.frames, Fraction(12))
        else:
            write_content_video(clip, 256, 144, args.frames, Fraction(12))
    style = bench_style(args.style, work)
    config: dict = {"content": str(clip), "style": str(style), "width": args.width, "chunk_frames": 12,
                    "variants": {"independent": {"gatys": {"init": "content", "temporal_weight": 0.0}}}}
    for assignment in args.set:
        apply(config, assignment)
    if args.independent_iterations:
        config["variants"]["independent"]["gatys"]["iterations"] = args.independent_iterations
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    began = time.perf_counter()
    run_workflow(work, ["results/out.mp4", "results/independent.mp4"])
    print(f"{args.frames} frames at {args.width} px, style {Path(style).name}, settings {args.set or 'defaults'}; "
          f"{time.perf_counter() - began:.0f} s")
    metrics = {name: json.loads((work / "results" / name / "metrics.json").read_text()) for name in ("out", "independent")}
    for name, m in metrics.items():
        f, w = m["fidelity"], m["warp_error"]
        print(f"{name:12s} content distance first third {f['content_distance_first_third']:.4f}, last third "
              f"{f['content_distance_last_third']:.4f} (x{f['content_distance_last_third'] / f['content_distance_first_third']:.3f}); "
              f"style distance {f['style_distance_mean']:.4f}; E_warp x{w['ratio_output_to_input']:.2f} the input's "
              f"(x{w['lanczos']['ratio_output_to_input']:.2f} with a Lanczos warp)")
    temporal, independent = metrics["out"]["fidelity"], metrics["independent"]["fidelity"]
    print(f"style distance, temporal / independent: {temporal['style_distance_mean'] / independent['style_distance_mean']:.3f}")
    sheet = work / "contact_sheet.png"
    write_sheet(work, args.frames, sheet)
    print(f"contact sheet of frames 0, the middle and the last (content, temporal, independent): {sheet}")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
