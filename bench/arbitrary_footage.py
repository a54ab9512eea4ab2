"""Feed-forward mode (arbitrary-style network) on a footage-like clip, end to end through Snakemake.

Makes a 10 s, 25 fps, 640x272 clip with AAC audio and four shots (pans, a zoom, a moving disc, sensor noise and a
slow exposure drift) cut out of large pictures, then renders it at 320 px with `mode: feedforward` and a painting,
and prints: wall time (flow and encoding included), frames, fps and audio of the output, the warping error against
the input's, and where the stylise job's time went. Then it renders the clip again with `warm_start: false`, as
the baseline for the warm start, and prints the ratios (--no-cold skips it).

    .venv/bin/python bench/arbitrary_footage.py [--pictures a.jpg b.jpg ...] [--style painting.jpg] [--keep DIR]

Without --pictures it uses ../shared/styles/*.jpg when present, else generated painterly pictures.
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

import cv2
import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from stylepipe.arbitrary_files import ARBITRARY_WEIGHTS_FILE  # noqa: E402
from stylepipe.demo import pipe_frames_to_h264, painterly_frame  # noqa: E402
from stylepipe.video import probe  # noqa: E402

SIZE = (640, 272)
FPS = Fraction(25)
SHOT_FRAMES = (70, 55, 75, 50)  # 250 frames, 10 s


def load_pictures(paths: list[str]) -> list[np.ndarray]:
    if not paths:
        shared = sorted((REPO.parent / "shared" / "styles").glob("*.jpg"))
        paths = [str(p) for p in shared]
    pictures = [np.asarray(Image.open(p).convert("RGB").resize((1400, 1000))) for p in paths]
    while len(pictures) < len(SHOT_FRAMES):
        pictures.append(painterly_frame(1400, 1000, 0.3 * len(pictures), seed=10 + len(pictures)))
    return pictures


def shot_frames(picture: np.ndarray, shot: int, frames: int, rng: np.random.Generator):
    """A camera over `picture`: each shot moves differently; noise and exposure drift as a real camera has."""
    w, h = SIZE
    for t in range(frames):
        u = t / max(1, frames - 1)
        if shot == 0:  # slow pan right
            zoom, cx, cy = 1.6, 350 + 500 * u, 500
        elif shot == 1:  # zoom in
            zoom, cx, cy = 1.8 - 0.7 * u, 700, 480
        elif shot == 2:  # diagonal pan with a moving disc in front
            zoom, cx, cy = 1.4, 900 - 300 * u, 380 + 200 * u
        else:  # nearly static, handheld shake
            zoom, cx, cy = 1.5, 640 + 6 * np.sin(t * 0.9), 520 + 4 * np.cos(t * 1.3)
        matrix = np.array([[1 / zoom, 0, w / 2 - cx / zoom], [0, 1 / zoom, h / 2 - cy / zoom]], np.float32)
        frame = cv2.warpAffine(picture, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frame = frame.astype(np.float32) * (1 + 0.04 * np.sin(t / 12))
        if shot == 2:
            centre = (int(80 + 480 * u), int(200 - 60 * np.sin(3 * u)))
            cv2.circle(frame, centre, 38, (30, 60, 200), -1, lineType=cv2.LINE_AA)
        frame += rng.normal(0, 2.0, frame.shape)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def write_clip(path: Path, pictures: list[np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    frames = (f for shot, n in enumerate(SHOT_FRAMES) for f in shot_frames(pictures[shot], shot, n, rng))
    seconds = sum(SHOT_FRAMES) / FPS
    audio = ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={float(seconds):.3f}", "-c:a", "aac", "-b:a", "96k", "-shortest"]
    pipe_frames_to_h264(audio, frames, SIZE, FPS, path)


def network_alone(work: Path) -> float:
    """Seconds the arbitrary-style network takes over the run's content frames held in memory, with the job's
    threads and batch and one style vector, the faster of two passes: the stylise compute that the job's overhead
    is measured against."""
    import torch

    from stylepipe import arbitrary_weights
    from stylepipe.feedforward import prepare, stylize_batches
    from stylepipe.frames import list_frames, read_rgb

    torch.set_num_threads(2)
    nets = arbitrary_weights.load_networks(str(next((work / "resources" / "arbitrary").glob("*.safetensors"))), "cpu")
    model = prepare(nets.transformer, "cpu")
    frames = [read_rgb(p) for folder in sorted((work / "results" / "out" / "frames" / "content").glob("chunk_*")) for p in list_frames(folder)]
    styles = torch.randn(len(frames), 100)
    list(stylize_batches(model, frames[:4], "cpu", "auto", "fp32", styles))  # warm-up
    passes = []
    for _ in range(2):  # the faster of two: the overhead is not flattered by a slow baseline
        began = time.perf_counter()
        for _ in stylize_batches(model, frames, "cpu", "auto", "fp32", styles):
            pass
        passes.append(time.perf_counter() - began)
    return min(passes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pictures", nargs="*", default=[])
    parser.add_argument("--style", default=None)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--strength", type=float, default=None, help="temporal.strength (default: the config default)")
    parser.add_argument("--change-scale", type=float, default=None,
                        help="temporal.change_scale (default: the config default; 0 with --strength 0.6 is the blend before it)")
    parser.add_argument("--warp", default=None, help="temporal.warp: bilinear, cubic or lanczos (default: the config default)")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the baseline run with warm_start: false (every network job imports torch itself)")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-footage-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip.mp4"
    if not clip.exists():
        write_clip(clip, load_pictures(args.pictures))
    style = args.style or next(iter(sorted((REPO.parent / "shared" / "styles").glob("starry*.jpg"))), None)
    if style is None:
        style = str(work / "style.png")
        Image.fromarray(painterly_frame(512, 400, 0.5, seed=3)).save(style)
    config = {"content": str(clip), "style": str(style), "mode": "feedforward", "width": args.width}
    if args.strength is not None:
        config.setdefault("temporal", {})["strength"] = args.strength
    if args.change_scale is not None:
        config.setdefault("temporal", {})["change_scale"] = args.change_scale
    if args.warp is not None:
        config.setdefault("temporal", {})["warp"] = args.warp
    print(f"clip: {clip}; style {style}; work folder: {work}")
    # The one-off weight conversion is made first, so that neither timed run includes it.
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([snakemake_command(), "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
                    ARBITRARY_WEIGHTS_FILE], capture_output=True, check=True)
    warm = render(work, config, clip, "warm start (the default)")
    if not args.no_cold:
        cold_work = work / "cold"
        cold_work.mkdir(exist_ok=True)
        if not (cold_work / "resources").exists():
            (cold_work / "resources").symlink_to(work / "resources")
        cold = render(cold_work, {**config, "warm_start": False}, clip, "baseline: warm_start false")
        print(f"warm against baseline: stylise job wall {warm['job_wall'] / cold['job_wall']:.2f}x, overhead/compute "
              f"{warm['overhead']:.2f} against {cold['overhead']:.2f}, whole pipeline {warm['wall'] / cold['wall']:.2f}x")


def snakemake_command() -> str:
    return str(Path(sys.executable).with_name("snakemake"))


def render(work: Path, config: dict, clip: Path, label: str) -> dict[str, float]:
    """Render the clip in `work` through Snakemake; print and return where the time went."""
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    began = time.perf_counter()
    result = subprocess.run([snakemake_command(), "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2", "results/out.mp4"],
                            capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    if result.returncode != 0:
        print(result.stderr[-3000:])
        raise SystemExit("the run failed")
    source, output = probe(clip), probe(work / "results" / "out.mp4")
    metrics = json.loads((work / "results" / "out" / "metrics.json").read_text())
    warp = metrics["warp_error"]
    stats = [json.loads(p.read_text()) for p in sorted((work / "results" / "out" / "feedforward").glob("chunk_*/stats.json"))]
    network = sum(s["compute_seconds"] for s in stats)
    reading, writing = sum(s["read_seconds"] for s in stats), sum(s["write_seconds"] for s in stats)
    jobs = sum(s["job_seconds"] for s in stats)
    bench = sorted((work / "results" / "out" / "benchmarks").glob("feedforward_*.tsv"))
    job_wall = sum(float(p.read_text().splitlines()[1].split("\t")[0]) for p in bench)
    compute = network_alone(work)
    overhead = (job_wall - network) / network
    print(f"== {label}")
    print(f"clip: {source.frame_count} frames, {source.width}x{source.height}, {source.fps} fps, audio {source.has_audio}")
    print(f"output: {output.frame_count} frames, {output.width}x{output.height}, {output.fps} fps, audio {output.has_audio}")
    print(f"wall time, whole pipeline: {wall:.1f} s")
    print(f"stylise: {len(stats)} job(s), job wall (Snakemake benchmark) {job_wall:.2f} s: start-up (Python, imports, Snakemake's "
          f"preamble) {job_wall - jobs:.2f} s, setup (weights, style vectors) {jobs - network - reading - writing:.2f} s, "
          f"reading {reading:.2f} s, network {network:.2f} s, writing {writing:.2f} s")
    print(f"overhead/compute {overhead:.2f} (job wall less the network's time in the job, over it); "
          f"the network alone on the same frames in this process took {compute:.2f} s")
    print(f"E_warp output {warp['output_mean']:.5f}, unstabilised {warp['unstabilized_output_mean']:.5f}, input {warp['input_mean']:.5f}; "
          f"ratio {warp['ratio_output_to_input']:.2f} (unstabilised {warp['unstabilized_output_mean'] / warp['input_mean']:.2f}); "
          f"with a Lanczos warp {warp['lanczos']['ratio_output_to_input']:.2f}")
    return {"wall": wall, "job_wall": job_wall, "overhead": overhead}

if __name__ == "__main__":
    main()
