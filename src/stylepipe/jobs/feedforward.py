"""Feed-forward mode: the arbitrary-style network, and the per-style networks with their training."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylepipe import arbitrary_weights
from stylepipe.arbitrary import FineTunedTransformer
from stylepipe.checkpoint import load_model
from stylepipe.feedforward import StylesOfBatch, StyleVectors, content_vectors, mix_strength, prepare, style_image_tensor, stylize_batches
from stylepipe.frames import atomic_dir, checked_folder, frame_name, read_frame, read_rgb, write_rgb
from stylepipe.jobs.common import Log, Progress, content_frames, resolve_device, stderr_log


def arbitrary_weights_job(out_path: str, log: Log = stderr_log) -> None:
    """Convert the arbitrary-style networks' ONNX weights once into safetensors for every stylise job."""
    source = arbitrary_weights.convert(out_path, log=log)
    log(f"arbitrary-style weights: {source}")


def arbitrary_styles(
    nets: arbitrary_weights.ArbitraryNetworks,
    style_dir: str,
    index_path: str,
    window: int,
    style_size: int,
    device: str,
    numbers: Sequence[int],
    strength: float,
) -> StylesOfBatch:
    """Each batch's style vectors, one per content frame: the style's (over the window), moved towards the frame's
    own below strength 1, which needs the frames themselves and so is worked out batch by batch."""
    vectors = StyleVectors.from_files(nets.predictor, checked_folder(style_dir), index_path, window, style_size, device)
    styles = torch.stack([vectors.for_frame(number) for number in numbers])

    def of_batch(start: int, batch: Sequence[np.ndarray]) -> torch.Tensor:
        chosen = styles[start : start + len(batch)]
        if strength < 1:
            chosen = mix_strength(chosen, content_vectors(nets.predictor, batch, style_size, device), strength)
        return chosen

    return of_batch


def _stylize_chunk(
    model: torch.nn.Module, frames: Sequence[Path], out_dir: str, stats: dict[str, Any], began: float, *,
    device: str, batch_size: int | str, precision: str, styles: StylesOfBatch | None, preserve_colors: bool, log: Log,
) -> None:
    """Stream the chunk's frames through the network into `out_dir`, with its stats.json.

    Memory holds one batch whatever the chunk's length. Reading and writing stay in this thread: a reader and a
    writer thread beside torch's own made 250 frames at 320 px take 6.7 s on a 2-core CPU, against 5.3 s in turn.
    """
    seconds = {"read": 0.0, "network": 0.0, "write": 0.0}

    def read_frames() -> Iterator[np.ndarray]:
        for path in frames:
            tick = time.perf_counter()
            image = read_frame(path)
            seconds["read"] += time.perf_counter() - tick
            yield image

    with atomic_dir(out_dir) as scratch:
        progress = Progress(len(frames), log)
        outputs = stylize_batches(model, read_frames(), device, batch_size, precision, styles, preserve_colors)
        for path in frames:
            tick = time.perf_counter()
            output = next(outputs)  # reads the frames of the next batch, then runs the network on it
            seconds["network"] += time.perf_counter() - tick
            tick = time.perf_counter()
            write_rgb(scratch / frame_name(int(path.stem)), output, compress=False)
            seconds["write"] += time.perf_counter() - tick
            progress.step()
        seconds["network"] -= seconds["read"]
        per_frame = seconds["network"] / max(1, len(frames))
        stats["frames"] = [{"frame": int(p.stem), "seconds": per_frame} for p in frames]
        stats["compute_seconds"] = seconds["network"]
        stats["read_seconds"], stats["write_seconds"] = seconds["read"], seconds["write"]
        stats["job_seconds"] = time.perf_counter() - began
        (scratch / "stats.json").write_text(json.dumps(stats, indent=1))
    log(f"{len(frames)} frames, {per_frame * 1000:.1f} ms a frame in the network; reading {seconds['read']:.1f} s, "
        f"writing {seconds['write']:.1f} s, job {time.perf_counter() - began:.1f} s in all")


def stylize_arbitrary_chunk_job(
    frames_dir: str,
    chunk: int,
    span: dict[str, int],
    chunk_frames: int,
    style_dir: str,
    index_path: str,
    weights_path: str,
    out_dir: str,
    *,
    strength: float,
    style_size: int,
    window: int,
    preserve_colors: bool,
    batch_size: int | str,
    precision: str,
    device: str,
    threads: int,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """The pretrained arbitrary-style network on one chunk: a style vector per frame, then one pass per frame.

    `precision: auto` is fp32 here: bf16 measured only ~8% faster on a bf16-native CPU and moved some pixels by up
    to 24 levels of 255 (bench/feedforward_speed.py), so it is used only when asked for.
    """
    began = time.perf_counter()
    precision = "fp32" if precision == "auto" else precision
    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    nets = arbitrary_weights.load_networks(weights_path, device)
    frames = content_frames(frames_dir, range(span["start"], span["end"]), chunk_frames)
    styles = arbitrary_styles(nets, style_dir, index_path, window, style_size, device, [int(p.stem) for p in frames], strength)
    log(f"arbitrary-style network: {nets.source}; device {device}, precision {precision}, batch {batch_size}, "
        f"strength {strength}, style size {style_size}, window {window}")
    stats: dict[str, Any] = {"chunk": chunk, "weights": {"arch": "arbitrary", "source": nets.source}, "device": device, "frames": []}
    _stylize_chunk(prepare(nets.transformer, device), frames, out_dir, stats, began, device=device, batch_size=batch_size,
                   precision=precision, styles=styles, preserve_colors=preserve_colors, log=log)
    return stats


def stylize_feedforward_chunk_job(
    frames_dir: str, chunk: int, span: dict[str, int], chunk_frames: int, model_path: str, out_dir: str, batch_size: int | str, precision: str, device: str, threads: int,
    preserve_colors: bool = False, log: Log = stderr_log,
) -> dict[str, Any]:
    """A network trained for one style on one chunk: one forward pass per frame, `batch_size` frames at a time."""
    began = time.perf_counter()
    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    model, header = load_model(model_path, device)
    frames = content_frames(frames_dir, range(span["start"], span["end"]), chunk_frames)
    log(f"model {model_path}: {header.get('arch', model.arch)}, style {header.get('style', '?')}; device {device}, "
        f"precision {precision}, batch {batch_size}")
    stats: dict[str, Any] = {"chunk": chunk, "weights": header.get("weights"), "model": model_path, "device": device, "frames": []}
    _stylize_chunk(prepare(model, device), frames, out_dir, stats, began, device=device, batch_size=batch_size,
                   precision=precision, styles=None, preserve_colors=preserve_colors, log=log)
    return stats


def train_job(
    style_path: str,
    videos: Sequence[str],
    weights_path: str,
    out_path: str,
    settings: dict[str, Any],
    arch: str,
    model_id: str,
    device: str,
    threads: int,
    arbitrary_path: str | None = None,
    style_size: int = 256,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Train the feed-forward network on `videos` for the style image; resumes from a partial checkpoint.

    `arch: finetuned` starts from the arbitrary network's transformer (`arbitrary_path`) with the style's vector, seen
    at `style_size` as the arbitrary network sees it; johnson starts from scratch.
    """
    from stylepipe import lossnet  # torchvision: only training needs the loss network
    from stylepipe.train import TrainSettings, load_training_clips, painting_at_training_scale, train

    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    train_settings = TrainSettings.from_config(settings, arch)
    net = lossnet.load_loss_network(weights_path, device=device)
    log(f"loss network: {net.info.arch} from {net.info.source}; device {device}")
    style = painting_at_training_scale(read_rgb(style_path), train_settings.image_size)
    clips = load_training_clips(videos, train_settings.image_size, train_settings.max_frames_per_video)
    log(f"training {arch} on {sum(len(c) for c in clips)} frames from {len(clips)} source(s) at {train_settings.image_size} px")
    header = {"arch": arch, "style": style_path, "run": model_id, "weights": net.info.as_dict(), "train": asdict(train_settings)}
    start = None
    if arch == FineTunedTransformer.arch:
        if arbitrary_path is None:
            raise ValueError("arch finetuned starts from the arbitrary network's weights")
        nets = arbitrary_weights.load_networks(arbitrary_path, device)
        with torch.no_grad():
            vector = nets.predictor(style_image_tensor(read_rgb(style_path), style_size).to(device))
        start = FineTunedTransformer(nets.transformer, vector).requires_grad_(True)
        header["start"] = {"network": nets.source, "style_size": style_size}
        log(f"starting from the arbitrary network ({nets.source}) with the style's vector at {style_size} px")
    partial = Path(out_path).with_name(Path(out_path).stem + ".partial.safetensors")
    final = train(net, style, clips, train_settings, out_path, partial, header, log=log, model=start)
    log(f"saved {out_path}: loss {final['first_loss']:.4g} at step 1, {final['last_loss']:.4g} at step {final['steps']}")
    return final
