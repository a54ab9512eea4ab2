"""Feed-forward networks on one clip, frame by frame, before any blend: how much of the picture each keeps, how near
the painting it paints, and how much it flickers, judged with a flow of this script's own (DIS `fine`), not the one a
blend or a training used. The pairs that straddle a cut (found as the pipeline finds them) are left out.

For each network it prints the mean edge correlation with the content (stylepipe.metrics.edge_correlation), the
style distance to the painting (stylepipe.fidelity, every 10th frame) and Lai's warping error over the input's, each
also over the arbitrary network's in the same run; and it writes a contact sheet (content, then one row a network)
of six frames spread over the clip.

    .venv/bin/python bench/network_on_clip.py --clip clip.mp4 --style painting.jpg --width 320 \\
        --workdir DIR [--model NAME=model.safetensors ...] [--sheet sheet.png]

`--workdir` is a pipeline's working directory: its resources/lossnet/auto.safetensors and
resources/arbitrary/*.safetensors are used. A model a run trained is in its resources/models/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from stylepipe import arbitrary_weights  # noqa: E402
from stylepipe.arbitrary import TRAINED_UPSAMPLING, FineTunedTransformer  # noqa: E402
from stylepipe.arbitrary_files import ARBITRARY_WEIGHTS_FILE  # noqa: E402
from stylepipe.checkpoint import load_model  # noqa: E402
from stylepipe.feedforward import prepare, style_image_tensor, stylize_batches  # noqa: E402
from stylepipe.fidelity import FidelityMeter  # noqa: E402
from stylepipe.flow import FlowEstimator, consistency_mask, warping_error  # noqa: E402
from stylepipe.frames import read_rgb  # noqa: E402
from stylepipe.lossnet import load_loss_network  # noqa: E402
from stylepipe.metrics import edge_correlation  # noqa: E402
from stylepipe.settings import schema_defaults  # noqa: E402
from stylepipe.shots import cut_scores, find_cuts  # noqa: E402
from stylepipe.video import probe, read_frames  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", required=True)
    parser.add_argument("--style", required=True)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--workdir", required=True, help="a pipeline's working directory (its resources/)")
    parser.add_argument("--model", action="append", default=[], help="NAME=path to a trained .safetensors")
    parser.add_argument("--sheet", default=None)
    args = parser.parse_args()
    resources = Path(args.workdir) / "resources"
    meta = probe(args.clip)
    height = round(meta.height * args.width / meta.width / 2) * 2
    frames = list(read_frames(args.clip, (args.width, height)))
    shots = schema_defaults("shots")
    cuts = set(find_cuts(cut_scores(frames), shots["threshold"], shots["min_frames"]))
    print(f"{args.clip}: {len(frames)} frames at {args.width}x{height}, cuts at {sorted(cuts)}")

    style = read_rgb(args.style)
    meter = FidelityMeter(load_loss_network(resources / "lossnet" / "auto.safetensors"))
    grams = meter.style_grams(np.array(Image.fromarray(style).resize((args.width, round(args.width * style.shape[0] / style.shape[1])))))
    flow = FlowEstimator("dis", "fine")
    pairs = []
    for t in range(1, len(frames)):
        if t not in cuts:
            backward, forward = flow(frames[t], frames[t - 1]), flow(frames[t - 1], frames[t])
            pairs.append((t, backward, consistency_mask(backward, forward)))

    def flicker(sequence: list[np.ndarray]) -> float:
        return float(np.mean([warping_error(sequence[t], sequence[t - 1], b, m) for t, b, m in pairs]))

    nets = arbitrary_weights.load_networks(Path(args.workdir) / ARBITRARY_WEIGHTS_FILE)
    with torch.no_grad():
        vector = nets.predictor(style_image_tensor(style, 256))
    # The arbitrary network as the pipeline runs it: with the upsampling its weights were trained with.
    networks: dict[str, torch.nn.Module] = {"arbitrary": FineTunedTransformer(nets.transformer, vector, upsampling=TRAINED_UPSAMPLING)}
    for spec in args.model:
        name, path = spec.split("=", 1)
        networks[name] = load_model(path, "cpu")[0]
    input_flicker = flicker(frames)
    picks = np.linspace(0, len(frames) - 1, 6).round().astype(int)
    rows = [np.concatenate([frames[t] for t in picks], 1)]
    base: dict[str, float] = {}
    print(f"{'network':14s} {'structure':>9s} {'x arb':>6s} {'style':>7s} {'x arb':>6s} {'E_warp/input':>12s} {'x arb':>6s}")
    for name, model in networks.items():
        out = list(stylize_batches(prepare(model.eval(), "cpu"), frames, "cpu", 1))
        figures = {"structure": float(np.mean([edge_correlation(c, o) for c, o in zip(frames, out)])),
                   "style": float(np.mean([meter.measure(o, c, grams)[0] for o, c in zip(out[::10], frames[::10])])),
                   "flicker": flicker(out) / input_flicker}
        base = base or figures
        print(f"{name:14s} {figures['structure']:9.3f} {figures['structure'] / base['structure']:6.2f} {figures['style']:7.4f} "
              f"{figures['style'] / base['style']:6.2f} {figures['flicker']:11.1f}x {figures['flicker'] / base['flicker']:6.2f}")
        rows.append(np.concatenate([out[t] for t in picks], 1))
    if args.sheet:
        Image.fromarray(np.concatenate(rows, 0)).save(args.sheet)
        print(f"contact sheet (content, then {', '.join(networks)}; frames {', '.join(map(str, picks))}): {args.sheet}")


if __name__ == "__main__":
    main()
