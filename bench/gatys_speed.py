"""Seconds per Gatys iteration and per frame at 256 and 512 px width on this machine.

Uses the loss network the pipeline would use (resources/lossnet/auto.safetensors when a run has cached it,
else `--weights`), the demo scene as content and a painterly still as style. Also prints the peak memory of each
width (CUDA: max allocated; CPU: the process's peak RSS, which only grows, so give widths in increasing order) and,
with `--bf16`, the same run under bf16 autocast with the loss each reaches after the same iterations; with
`--compile`, the same run with the loss network through torch.compile (its compile time printed apart).

    .venv/bin/python bench/gatys_speed.py [--weights PATH] [--iterations 20] [--widths 256 512] [--bf16] [--compile]
    .venv/bin/python bench/gatys_speed.py --iterations 3 --widths 512 1024 1920     # memory at the issue's sizes
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import resource
import time
from pathlib import Path

import torch

from stylepipe import lossnet
from stylepipe.demo import Scene, painterly_frame
from stylepipe.gatys import GatysSettings, optimize_frame, to_tensor
from stylepipe.jobs.common import resolve_device
from stylepipe.losses import gram_matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="resources/lossnet/auto.safetensors")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pipeline-iterations", type=int, default=30, help="per-frame iterations for the s/frame figure")
    parser.add_argument("--bf16", action="store_true", help="also run under bf16 autocast and compare")
    parser.add_argument("--compile", action="store_true", help="also run the loss network through torch.compile")
    args = parser.parse_args()
    device = resolve_device(args.device)
    weights = Path(args.weights)
    if not weights.is_file():
        print(f"{weights} not found: fetching the auto weights once (as the pipeline does)")
        state, info = lossnet.fetch_named_weights("auto")
        lossnet.save_weights(weights, state, info)
    net = lossnet.load_loss_network(weights, device=device)
    print(f"device {device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads); "
          f"loss network {net.info.arch} from {net.info.source}")
    for width in args.widths:
        height = width * 9 // 16 // 2 * 2
        content = to_tensor(Scene(width, height, 2).render(1), device)
        style = to_tensor(painterly_frame(width, height, 1.0), device)
        with torch.no_grad():
            grams = {k: gram_matrix(v) for k, v in net(style).items() if k in lossnet.STYLE_LAYERS[net.info.arch]}
        settings = GatysSettings(iterations=args.iterations)
        variants = ["fp32"] + (["bf16"] if args.bf16 else []) + (["fp32 compiled"] if args.compile else [])
        for precision in variants:
            autocast = torch.autocast(device, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
            # dynamic=False: each width is its own graph, as a pipeline run has one frame size.
            model = torch.compile(net, dynamic=False) if precision.endswith("compiled") else net
            with autocast:
                warm = time.perf_counter()
                optimize_frame(model, content, grams, content, settings, 2)  # warm-up (and compilation)
                if device == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                if model is not net:
                    print(f"{width}x{height}: torch.compile warm-up took {time.perf_counter() - warm:.1f} s")
                began = time.perf_counter()
                result = optimize_frame(model, content, grams, content, settings, args.iterations)
                if device == "cuda":
                    torch.cuda.synchronize()
            per_iteration = (time.perf_counter() - began) / args.iterations
            if device == "cuda":
                memory = f"peak CUDA allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"
            else:
                memory = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
            print(f"{width}x{height} {precision}: {per_iteration:.3f} s/iteration, "
                  f"{per_iteration * args.pipeline_iterations:.2f} s/frame at {args.pipeline_iterations} iterations; "
                  f"loss after {args.iterations}: {result.total_loss:.5g}; {memory}")


if __name__ == "__main__":
    main()
