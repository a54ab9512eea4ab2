"""Seconds per Gatys iteration and per frame at 256 and 512 px width on this machine.

Uses the loss network the pipeline would use (resources/lossnet/auto.safetensors when a run has cached it,
else `--weights`), the demo scene as content and a painterly still as style.

    .venv/bin/python bench/gatys_speed.py [--weights PATH] [--iterations 20] [--widths 256 512]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from stylepipe import lossnet
from stylepipe.demo import Scene, painterly_frame
from stylepipe.gatys import GatysSettings, optimise_frame, to_tensor
from stylepipe.jobs.common import resolve_device
from stylepipe.losses import gram_matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="resources/lossnet/auto.safetensors")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pipeline-iterations", type=int, default=30, help="per-frame iterations for the s/frame figure")
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
        optimise_frame(net, content, grams, content, settings, 2)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        optimise_frame(net, content, grams, content, settings, args.iterations)
        if device == "cuda":
            torch.cuda.synchronize()
        per_iteration = (time.perf_counter() - began) / args.iterations
        print(f"{width}x{height}: {per_iteration:.3f} s/iteration, "
              f"{per_iteration * args.pipeline_iterations:.2f} s/frame at {args.pipeline_iterations} iterations")


if __name__ == "__main__":
    main()
