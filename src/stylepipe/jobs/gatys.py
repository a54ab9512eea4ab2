"""Gatys mode: the loss network's weights and the per-chunk optimisation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylepipe import lossnet
from stylepipe.flow import ChunkFlows
from stylepipe.frames import atomic_dir, checked_folder, frame_name, list_frames, read_frame, write_rgb
from stylepipe.gatys import GatysSettings, initial_image, optimize_coarse_to_fine, optimize_frame, temporal_terms, to_tensor, to_uint8
from stylepipe.jobs.common import Log, Progress, content_frames, find_frame, resolve_device, stderr_log
from stylepipe.style_targets import StyleTargets


def lossnet_job(spec: str, out_path: str, log: Log = stderr_log) -> None:
    """Resolve a named weights source once and cache it as safetensors for every stylise job."""
    state, info = lossnet.fetch_named_weights(spec, log=log)
    lossnet.save_weights(out_path, state, info)
    log(f"loss network weights ({spec}): {info.arch} from {info.source}")


def stylize_gatys_chunk_job(
    frames_dir: str,
    chunk: int,
    span: dict[str, int],
    chunk_frames: int,
    style_dir: str,
    index_path: str,
    weights_path: str,
    out_dir: str,
    settings: dict[str, Any],
    window: int,
    device: str,
    threads: int,
    flow_path: str | None = None,
    previous_dirs: Sequence[str] = (),
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Optimise every frame of one chunk; writes the frames and a stats.json with losses and timings.

    With temporal consistency on, frame t starts from frame t-1's stylisation carried along the flow onto its own
    content and is pulled towards it (and towards t-2, t-4 with long-term offsets) where the flow is reliable. Frames from
    earlier chunks of the chain are read from `previous_dirs`, which is why a chunk runs after the one before it in
    its chain. `span` is the chunk's entry in the chunk layout: its frames [start, end) and its chain's first frame
    (a shot's, or a segment's), which starts afresh (coarse to fine) like frame 0; the chunk's content frames are
    stored in folders of `chunk_frames`.
    """
    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    gatys = GatysSettings.from_config(settings)
    net = lossnet.load_loss_network(weights_path, device=device)
    log(f"loss network: {net.info.arch} from {net.info.source}; device {device}")
    index = json.loads(Path(index_path).read_text())
    for folder in (style_dir, *previous_dirs):
        checked_folder(folder)
    targets = StyleTargets(net, style_dir, index, lossnet.STYLE_LAYERS[net.info.arch], window, device, gatys.style_scale)
    # The temporal terms carry each earlier frame's stylisation against its own content frame, and the earliest of
    # those sit in chunks before this one: check and find all of them once, not on every frame.
    first = max(span["chain_start"], span["start"] - max(gatys.previous_offsets, default=0))
    content_paths = {int(p.stem): p for p in content_frames(frames_dir, range(first, span["end"]), chunk_frames)}
    frames = [path for number, path in content_paths.items() if number >= span["start"]]
    flows = ChunkFlows.load(flow_path) if gatys.uses_previous_frames and flow_path else None
    generator = torch.Generator().manual_seed(gatys.seed + chunk)
    stats: dict[str, Any] = {"chunk": chunk, "shot": span["shot"], "chain": span["chain"], "weights": net.info.as_dict(), "device": device, "frames": []}
    # Stylised frames as saved (uint8), so a resumed run warps exactly what an uninterrupted one would, and their content.
    done: dict[int, np.ndarray] = {}
    seen: dict[int, np.ndarray] = {}
    progress = Progress(len(frames), log, every=0.0)
    with atomic_dir(out_dir) as scratch:
        for path in frames:
            number = int(path.stem)
            began = time.perf_counter()
            seen[number] = read_frame(path)
            content = to_tensor(seen[number], device)
            start, temporal_loss = None, None
            # A cut: almost nothing of the previous frame is reliably visible, so nothing should carry over.
            restart = number == span["chain_start"] or (flows is not None and flows.has(1, number)
                                      and float(flows.reliable(1, number).mean()) < gatys.restart_below)
            if flows is not None and not restart:
                # Not before the chain's first frame: a segment's chain runs beside the one before it, not after it.
                offsets = [d for d in gatys.previous_offsets if number - d >= span["chain_start"] and flows.has(d, number)]
                for d in offsets:
                    if number - d not in done:
                        done[number - d] = read_frame(find_frame(previous_dirs, number - d))
                    if number - d not in seen:
                        seen[number - d] = read_frame(content_paths[number - d])
                start, temporal_loss = temporal_terms(
                    content, {d: done[number - d] for d in offsets}, {d: seen[number - d] for d in offsets},
                    {d: flows.backward(d, number) for d in offsets},
                    {d: flows.reliable(d, number).astype(np.float32) for d in offsets}, gatys,
                )
            if restart:
                result = optimize_coarse_to_fine(net, content, lambda scale: targets.grams_for(number, scale), gatys, generator)
            else:
                if start is None:
                    start = initial_image(gatys.init, content, generator)
                result = optimize_frame(net, content, targets.grams_for(number), start, gatys, gatys.iterations, temporal_loss)
            done[number] = to_uint8(result.image)
            write_rgb(scratch / frame_name(number), done[number])
            reach = number - max(gatys.previous_offsets, default=0)
            done, seen = ({n: f for n, f in kept.items() if n >= reach} for kept in (done, seen))
            seconds = time.perf_counter() - began
            log(
                f"frame {number:6d}  loss {result.total_loss:.4g} (content {result.content_loss:.4g}, "
                f"style {result.style_loss:.4g})  {result.iterations} it"
                f"  {seconds:.2f} s{_restart_note(restart, number, span)}"
            )
            stats["frames"].append(
                {"frame": number, "total_loss": result.total_loss, "content_loss": result.content_loss,
                 "style_loss": result.style_loss, "iterations": result.iterations, "seconds": seconds}
            )
            progress.step()
        (scratch / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats


def _restart_note(restart: bool, number: int, span: dict[str, int]) -> str:
    if not restart or number == 0:
        return ""
    if number == span["shot_start"]:
        return "  (new shot)"
    if number == span["chain_start"]:
        return f"  (new segment, taking over at frame {span['segment_start']})"
    return "  (restarted: flow unreliable)"


def fidelity_per_frame(
    frames_dir: str,
    outputs: Iterable[np.ndarray],
    style_dir: str,
    index_path: str,
    weights_path: str,
    window: int,
    device: str,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """VGG style and content distances of every output frame, against the same style targets the frames were made for.

    `outputs` are the output frames in order, as the video shows them (`stitch.OutputFrames`). The caller (the report
    job) has already checked the content and output folders against their manifests.
    """
    from stylepipe.fidelity import FidelityMeter, measure_frames, summary

    device = resolve_device(device)
    net = lossnet.load_loss_network(weights_path, device=device)
    meter = FidelityMeter(net, device)
    targets = StyleTargets(net, checked_folder(style_dir), json.loads(Path(index_path).read_text()), meter.style_layers, window, device)
    contents = (read_frame(p) for chunk in sorted(Path(frames_dir).glob("chunk_*")) for p in list_frames(chunk))
    report = summary(list(measure_frames(meter, outputs, contents, targets.grams_for)))
    log(f"fidelity: style distance {report['style_distance_mean']:.4f}, content distance {report['content_distance_mean']:.4f} "
        f"(first third {report['content_distance_first_third']:.4f}, last third {report['content_distance_last_third']:.4f}; "
        f"loss network {net.info.arch} from {net.info.source})")
    return {
        **report,
        "loss_network": net.info.as_dict(),
        "definition": "per layer ||G(out)-G(style)||^2/||G(style)||^2 (style layers) and ||F(out)-F(content)||^2/||F(content)||^2 "
                      "(content layers), averaged over layers; 0 is a perfect match",
    }
