"""Coarse-to-fine against single-scale Gatys optimisation of one frame, at the same wall time.

Stylises one frame at 512 px (default) with the configured coarse-to-fine schedule (gatys.scales and
gatys.scale_iterations from config.yaml's defaults, or --scales/--scale-iterations), times it, then runs single-scale
L-BFGS at full size for as many iterations as fit in the same time, and prints both final losses (measured at full
size with the same weights) and their ratio. Below 1 means coarse-to-fine wins.

    .venv/bin/python bench/gatys_quality.py [--width 512] [--content a.jpg] [--style painting.jpg] [--weights auto]
        [--scales 0.25 0.5 1] [--scale-iterations 100 60 40] [--save DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from stylepipe import lossnet  # noqa: E402
from stylepipe.config import load_schema, validate  # noqa: E402
from stylepipe.demo import painterly_frame  # noqa: E402
from stylepipe.fidelity import FidelityMeter  # noqa: E402
from stylepipe.jobs.common import resolve_device  # noqa: E402
from stylepipe.gatys import optimize_coarse_to_fine, optimize_frame, to_tensor, to_uint8  # noqa: E402
from stylepipe.settings import GatysSettings  # noqa: E402
from stylepipe.style_targets import style_grams  # noqa: E402


def picture(path: str | None, width: int, height: int, seed: int) -> np.ndarray:
    if path:
        return np.asarray(Image.open(path).convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
    return painterly_frame(width, height, 0.2 * seed, seed=seed)


def grams_at(net, style: np.ndarray, layers, style_scale: float, device: str):
    """The style's Grams per content scale, resized as the pipeline's StyleTargets resizes it."""
    cache: dict[float, dict] = {}

    def grams(scale: float) -> dict:
        if scale not in cache:
            cache[scale] = style_grams(net, style, layers, scale * style_scale, device)
        return cache[scale]

    return grams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--content", default=None)
    parser.add_argument("--style", default=None)
    parser.add_argument("--weights", default="auto")
    parser.add_argument("--scales", type=float, nargs="*", default=None)
    parser.add_argument("--scale-iterations", type=int, nargs="*", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--save", default=None, help="write both results as PNGs into this folder")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shared = REPO.parent / "shared" / "styles"
    content_path = args.content or next(iter(sorted(shared.glob("shipwreck*.jpg"))), None)
    style_path = args.style or next(iter(sorted(shared.glob("starry*.jpg"))), None)
    width, height = args.width, round(args.width * 9 / 16 / 2) * 2
    content = picture(str(content_path) if content_path else None, width, height, seed=1)
    style = picture(str(style_path) if style_path else None, width, round(width * 0.75), seed=2)
    block = validate(yaml.safe_load((REPO / "config.yaml").read_text()), load_schema(REPO / "workflow/schemas/config.schema.yaml"))["gatys"]
    if args.scales:
        block["scales"] = args.scales
    if args.scale_iterations:
        block["scale_iterations"] = args.scale_iterations
    settings = GatysSettings.from_config(block)
    device = resolve_device(args.device)
    net = lossnet.load_named_or_file(args.weights, device=device)
    layers = lossnet.STYLE_LAYERS[net.info.arch]
    grams = grams_at(net, style, layers, settings.style_scale, device)
    content_t = to_tensor(content, device)
    grams(1.0)
    for scale, _ in settings.first_frame_schedule():
        grams(scale)  # style targets are computed once per scale in the pipeline too; not timed here

    began = time.perf_counter()
    coarse = optimize_coarse_to_fine(net, content_t, grams, settings, torch.Generator().manual_seed(0))
    coarse_seconds = time.perf_counter() - began

    # Single-scale gets the same wall time: run it longer, and read its best loss reached within that time.
    probe = optimize_frame(net, content_t, grams(1.0), content_t.clone(), settings, 5)
    steps = max(5, round(1.5 * coarse_seconds / (probe.seconds / 5)))
    trace: list[tuple[float, float]] = []
    single = optimize_frame(net, content_t, grams(1.0), content_t.clone(), settings, steps, trace=trace)
    within = [loss for seconds, loss in trace if seconds <= coarse_seconds]
    single_at_equal_time = min(within) if within else float("inf")
    if trace[-1][0] < coarse_seconds:
        print(f"note: single-scale finished {steps} iterations in {trace[-1][0]:.1f} s, before the {coarse_seconds:.1f} s budget")

    meter = FidelityMeter(net, device)
    style_grams = {layer: grams(1.0)[layer] for layer in layers}
    schedule = ", ".join(f"{scale:g}x{n}" for scale, n in settings.first_frame_schedule())
    print(f"frame {width}x{height}, device {device}, loss network {net.info.arch} ({net.info.source}), {torch.get_num_threads()} threads")
    for name, result, what, loss in (("coarse-to-fine", coarse, schedule, coarse.total_loss),
                                     ("single-scale", single, f"1x{steps}, best within the time", single_at_equal_time)):
        s_d, c_d = meter.measure(to_uint8(result.image), content, style_grams)
        print(f"{name:15s} {what:34s} {coarse_seconds:6.1f} s  loss {loss:.5g}   (final image: content {result.content_loss:.4g}, "
              f"style {result.style_loss:.4g}, style distance {s_d:.4f}, content distance {c_d:.4f})")
    print(f"coarse-to-fine / single-scale loss at equal time: {coarse.total_loss / single_at_equal_time:.3f}")
    if args.save:
        out = Path(args.save)
        out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(coarse.image)).save(out / "coarse_to_fine.png")
        Image.fromarray(to_uint8(single.image)).save(out / "single_scale.png")
        Image.fromarray(content).save(out / "content.png")


if __name__ == "__main__":
    main()
