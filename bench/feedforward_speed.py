"""Frames per second of the feed-forward network at 640x360 on this machine, against a plain baseline.

Baseline: the standard Johnson network in fp32 under torch.no_grad, batch 1, no channels_last. Ours: the
pipeline's inference path (`stylepipe.feedforward.stylize_batches`: inference_mode, channels_last, batched,
bf16 autocast where the CPU has native bf16 or on CUDA) for both architectures. Weights are random: speed
does not depend on them. The last line is `fast/baseline: X.XXx johnson/baseline: Y.YYx`.

    .venv/bin/python bench/feedforward_speed.py [--frames 24] [--batch-size 4] [--device auto]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from stylepipe.demo import Scene
from stylepipe.feedforward import autocast_dtype, prepare, resolve_batch_size, stylize_batches
from stylepipe.jobs import resolve_device
from stylepipe.transformer import TransformerNet


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def baseline_fps(frames: list[np.ndarray], device: str) -> float:
    model = TransformerNet("johnson").to(device).eval()
    tensors = [torch.from_numpy(f).permute(2, 0, 1)[None].float().div(255).to(device) for f in frames]
    with torch.no_grad():
        model(tensors[0])  # warm-up
        _sync(device)
        began = time.perf_counter()
        for x in tensors:
            model(x).clamp(0, 1).mul(255).byte().cpu()
        _sync(device)
    return len(frames) / (time.perf_counter() - began)


def pipeline_fps(arch: str, frames: list[np.ndarray], device: str, batch_size: int | str, precision: str) -> float:
    model = prepare(TransformerNet(arch), device)
    list(stylize_batches(model, frames[: resolve_batch_size(batch_size, device)], device, batch_size, precision))  # warm-up
    _sync(device)
    began = time.perf_counter()
    out = list(stylize_batches(model, frames, device, batch_size, precision))
    _sync(device)
    assert len(out) == len(frames)
    return len(frames) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--batch-size", default="auto", help="frames per forward pass in our path (auto: 1 on CPU, 8 on CUDA)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    scene = Scene(640, 360, args.frames)
    frames = [scene.render(t) for t in range(args.frames)]
    dtype = autocast_dtype(device, args.precision)
    print(f"640x360, {args.frames} frames, device {device}, {torch.get_num_threads()} threads, "
          f"our precision {dtype or 'fp32'}, batch {resolve_batch_size(args.batch_size, device)}")
    base = baseline_fps(frames, device)
    print(f"baseline (johnson fp32, no_grad, batch 1): {base:.2f} fps")
    fps = {}
    for arch in ("fast", "johnson"):
        fps[arch] = pipeline_fps(arch, frames, device, args.batch_size, args.precision)
        print(f"{arch}: {fps[arch]:.2f} fps")
    print(f"fast/baseline: {fps['fast'] / base:.2f}x johnson/baseline: {fps['johnson'] / base:.2f}x")


if __name__ == "__main__":
    main()
