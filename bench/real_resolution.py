"""Feed-forward mode at real resolution: where the time goes, the peak memory and the disk, per stage.

Renders a clip made from a real photograph (stylepipe.photo_scene: the camera pans, zooms and turns, a disc crosses
it, with a tone as audio) at 720p or 1080p, runs the README's `snakemake --cores all results/out.mp4` on it in
feed-forward mode (the arbitrary network, defaults otherwise), and prints from the jobs' benchmark files:

- each stage's seconds a frame, and all stages outside the network against the network's;
- each stage's peak memory (max RSS of its jobs);
- what the cache holds a frame, per folder, and in all;
- that the delivered mp4 has every frame at the source's fps with its audio;
- the warping error against the true motion (known for this clip) of the cached frames and of the delivered mp4,
  against the input's, beside the figure metrics.json reports.

    .venv/bin/python bench/real_resolution.py [--height 720] [--seconds 20] [--fps 24] [--keep DIR] [--set key=value]

The photographs are 512-640 px, so at 720p they are upscaled and softer than footage: PNG and JPEG sizes there are
lower than a real camera's. A 720p frame costs the network about 0.4 s on 2 cores; --seconds 2 gives the shares in
a few minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench")]

from gatys_drift import apply, bench_style, run_workflow  # noqa: E402
from stylepipe.config import TOP_LEVEL_NAME, load_schema, resolve_variants  # noqa: E402
from stylepipe.demo import _tone, photographs, pipe_frames_to_h264  # noqa: E402
from stylepipe.disk import estimate_run, folder_bytes  # noqa: E402
from stylepipe.photo_scene import PhotoScene  # noqa: E402
from stylepipe.flow import warping_error  # noqa: E402
from stylepipe.frames import list_frames, read_frame  # noqa: E402
from stylepipe.video import iter_frames, probe  # noqa: E402

# Benchmark files (results/out/benchmarks/<job>.tsv) by stage; the rest of a job's name is its chunk.
STAGES = ["probe", "content_frames", "style_frames", "shots", "flow", "feedforward", "stabilize", "report_flows", "report", "assemble"]
NETWORK = "feedforward"


def stage_of(job: str) -> str:
    return next(stage for stage in sorted(STAGES, key=len, reverse=True) if job.startswith(stage))


def bench_scene(width: int, height: int, frames: int, background: str = "astronaut", crossing: str = "coffee") -> PhotoScene:
    """The clip's exact motion: the `background` photograph panned, zoomed and turned, `crossing` moving across it."""
    photos = photographs(background, crossing)
    return PhotoScene(photos[background], photos[crossing], width, height, frames, view=0.85, view_centre=(0.45, 0.28))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=720, choices=[720, 1080])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--style", default=None)
    parser.add_argument("--photos", default="astronaut,coffee", help="the background photograph and the one crossing it "
                        "(astronaut, coffee, rocket, chelsea)")
    parser.add_argument("--keep", default=None, help="work folder to keep (the clip is reused when it is there)")
    parser.add_argument("--set", action="append", default=[], help="config key=value")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-realres-"))
    work.mkdir(parents=True, exist_ok=True)
    height = args.height
    width = height * 16 // 9
    frames = round(args.seconds * args.fps)
    fps = Fraction(args.fps)
    clip = work / f"clip_{args.photos.replace(',', '_')}_{height}p_{frames}.mp4"
    scene = bench_scene(width, height, frames, *args.photos.split(","))
    if not clip.exists():
        began = time.perf_counter()
        pipe_frames_to_h264(_tone(Fraction(frames) / fps), (scene.render(t) for t in range(frames)), (width, height), fps, clip)
        print(f"clip: {frames} frames at {width}x{height}, {args.fps} fps, made in {time.perf_counter() - began:.0f} s")
    config: dict = {"content": str(clip), "style": bench_style(args.style, work), "mode": "feedforward", "width": width}
    for assignment in args.set:
        apply(config, assignment)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    began = time.perf_counter()
    run_workflow(work, ["results/out.mp4"])
    wall = time.perf_counter() - began
    root = work / "results" / "out"

    seconds: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    for tsv in (root / "benchmarks").glob("*.tsv"):
        with tsv.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        stage = stage_of(tsv.stem)
        seconds[stage] += float(row["s"])
        peak[stage] = max(peak[stage], float(row["max_rss"]) if row["max_rss"] not in ("", "NA", "-") else 0.0)
    outside = sum(value for stage, value in seconds.items() if stage != NETWORK)
    print(f"{frames} frames at {width}x{height}, {os.cpu_count()} cores; wall {wall:.0f} s, {wall / frames:.2f} s a frame")
    print(f"{'stage':16s} {'s/frame':>8s} {'x network':>10s} {'peak MB':>8s}")
    for stage in STAGES:
        if stage in seconds:
            share = seconds[stage] / seconds[NETWORK] if seconds.get(NETWORK) else float("nan")
            print(f"{stage:16s} {seconds[stage] / frames:8.3f} {share:10.2f} {peak[stage]:8.0f}")
    print(f"outside the network: {outside / frames:.3f} s a frame, {outside / max(seconds[NETWORK], 1e-9):.2f}x the network's "
          f"{seconds[NETWORK] / frames:.3f}")

    sizes = {folder.name: folder_bytes(folder) for folder in sorted(root.iterdir()) if folder.is_dir()}
    loose = sum(path.stat().st_size for path in root.iterdir() if path.is_file())
    total = sum(sizes.values()) + loose
    print("cache a frame: " + ", ".join(f"{name} {size / frames / 1e6:.2f} MB" for name, size in sizes.items() if size > 1e5)
          + f"; all of results/out {total / frames / 1e6:.2f} MB a frame ({total / 1e6:.0f} MB)")
    variant = resolve_variants(config, load_schema(REPO / "workflow/schemas/config.schema.yaml"))[TOP_LEVEL_NAME]
    estimate = estimate_run(variant)
    print(f"the run's estimate before its first job of the most it holds: {estimate.bytes_per_frame / 1e6:.2f} MB a frame "
          f"(with the network's frames, removed once blended unless keep_intermediates); left after it: "
          f"{(total + (work / 'results' / 'out.mp4').stat().st_size) / frames / 1e6:.2f} MB a frame")
    meta, source = probe(work / "results" / "out.mp4"), probe(clip)
    print(f"delivered: {meta.frame_count} frames (source {source.frame_count}), {float(meta.fps):.3f} fps (source {float(source.fps):.3f}), "
          f"audio {'yes' if meta.has_audio else 'NO'}; {(work / 'results' / 'out.mp4').stat().st_size / 1e6:.1f} MB")
    stable = [path for chunk in sorted((root / "stable").glob("chunk_*")) for path in list_frames(chunk)]
    truth = {"input": true_warping_error(iter_frames(clip), scene),
             "cached frames": true_warping_error((read_frame(path) for path in stable), scene),
             "delivered mp4": true_warping_error(iter_frames(work / "results" / "out.mp4"), scene)}
    report = json.loads((root / "metrics.json").read_text())["warp_error"]
    print(f"E_warp against the true motion, x the input's: cached frames {truth['cached frames'] / truth['input']:.2f}, "
          f"delivered mp4 {truth['delivered mp4'] / truth['input']:.2f}; metrics.json says {report['ratio_output_to_input']:.2f}")
    delivered = json.loads((root / "delivered.json").read_text())
    print(f"E_warp of the delivered mp4: true {truth['delivered mp4']:.5f}, delivered.json {delivered['delivered_mean']:.5f} "
          f"({delivered['delivered_mean'] / truth['delivered mp4']:.2f}x); ratio to the input: true {truth['delivered mp4'] / truth['input']:.2f}, "
          f"delivered.json {delivered['ratio_delivered_to_input']:.2f}")
    print(f"E_warp of the cached frames: true {truth['cached frames']:.5f}, metrics.json {report['output_mean']:.5f} "
          f"({report['output_mean'] / truth['cached frames']:.2f}x); of the input: true {truth['input']:.6f}, "
          f"metrics.json {report['input_mean']:.6f} ({report['input_mean'] / truth['input']:.2f}x)")


def true_warping_error(frames: Iterable[np.ndarray], scene: PhotoScene) -> float:
    """Lai's E_warp along the scene's exact motion, over its known-visible pixels, averaged over the frames."""
    errors, previous = [], None
    for t, frame in enumerate(frames):
        if previous is not None:
            errors.append(warping_error(frame, previous, *scene.backward_flow(t)))
        previous = frame
    return float(np.mean(errors))


if __name__ == "__main__":
    main()
