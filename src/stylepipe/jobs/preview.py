"""A preview before the long render: three frames spread through the clip (10%, 50%, 90%), stylised with the output's settings.

Each preview frame is stylised on its own, as the first frame of a shot is: Gatys mode runs its coarse-to-fine
schedule, feed-forward mode one pass. It reads the cached content and style frames and writes only preview.png.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylepipe.figures import contact_sheet, moments, png_bytes
from stylepipe.frames import atomic_file, checked_folder, read_rgb
from stylepipe.jobs.common import Log, content_frame_total, find_frame, resolve_device, stderr_log

PREVIEW_FRAMES = 3


def _gatys_frames(config: dict[str, Any], numbers: list[int], images: list[np.ndarray], inputs: dict[str, str], device: str, log: Log) -> list[np.ndarray]:
    from stylepipe import lossnet
    from stylepipe.gatys import GatysSettings, optimize_coarse_to_fine, to_tensor, to_uint8
    from stylepipe.style_targets import StyleTargets

    gatys = GatysSettings.from_config(config["gatys"])
    net = lossnet.load_loss_network(inputs["weights"], device=device)
    index = json.loads(Path(inputs["index"]).read_text())
    targets = StyleTargets(net, checked_folder(inputs["style"]), index, lossnet.STYLE_LAYERS[net.info.arch],
                           config["style_video"]["window"], device, gatys.style_scale)
    generator = torch.Generator().manual_seed(gatys.seed)
    outputs = []
    for k, (number, image) in enumerate(zip(numbers, images), start=1):
        result = optimize_coarse_to_fine(net, to_tensor(image, device), lambda scale, n=number: targets.grams_for(n, scale), gatys, generator)
        outputs.append(to_uint8(result.image))
        log(f"preview frame {number}: {result.iterations} it, {result.seconds:.1f} s ({k}/{len(numbers)})")
    return outputs


def _feedforward_frames(config: dict[str, Any], numbers: list[int], images: list[np.ndarray], inputs: dict[str, str], device: str, log: Log) -> list[np.ndarray]:
    from stylepipe.feedforward import prepare, stylize_batches

    settings = config["feedforward"]
    precision = "fp32" if settings["precision"] == "auto" and "model" not in inputs else settings["precision"]
    if "model" in inputs:
        from stylepipe.checkpoint import load_model

        model, _ = load_model(inputs["model"], device)
        styles = None
    else:
        from stylepipe import arbitrary_weights
        from stylepipe.jobs.feedforward import arbitrary_styles

        nets = arbitrary_weights.load_networks(inputs["weights"], device)
        model = nets.transformer
        styles = arbitrary_styles(nets, inputs["style"], inputs["index"], config["style_video"]["window"],
                                  settings["style_size"], device, numbers, settings["strength"])
    began = time.perf_counter()
    outputs = list(stylize_batches(prepare(model, device), images, device, settings["batch_size"], precision, styles, settings["preserve_colors"]))
    log(f"preview: {len(outputs)} frames in {time.perf_counter() - began:.2f} s")
    return outputs


def preview_job(name: str, config: dict[str, Any], frames_dir: str, inputs: dict[str, str], out_path: str, threads: int, log: Log = stderr_log) -> None:
    """Write `out_path`: content frames above their stylised previews, at frames spread through the clip."""
    torch.set_num_threads(max(1, threads))
    device = resolve_device(config["device"])
    chunks = [checked_folder(chunk) for chunk in sorted(Path(frames_dir).glob("chunk_*"))]
    total = content_frame_total(frames_dir)
    numbers = moments(total, PREVIEW_FRAMES)
    images = [read_rgb(find_frame(chunks, number)) for number in numbers]
    began = time.perf_counter()
    stylize = _gatys_frames if config["mode"] == "gatys" else _feedforward_frames
    outputs = stylize(config, numbers, images, inputs, device, log)
    sheet = contact_sheet([("content", images), ("preview", outputs)], [f"frame {n}" for n in numbers])
    with atomic_file(out_path) as tmp:
        Path(tmp).write_bytes(png_bytes(sheet))
    log(f"{out_path}: frames {', '.join(map(str, numbers))} of {total} for results/{name}.mp4, {time.perf_counter() - began:.1f} s on {device}")
