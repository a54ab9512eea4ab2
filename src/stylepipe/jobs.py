"""One function per pipeline step. Workflow scripts pass plain paths and values in; nothing here knows Snakemake."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from stylepipe import lossnet
from stylepipe.errors import StylepipeError
from stylepipe.frames import (
    atomic_dir,
    atomic_file,
    chunk_name,
    frame_name,
    list_frames,
    read_rgb,
    split_into_chunks,
    write_rgb,
    write_text_atomic,
)
from stylepipe.checkpoint import load_model, read_checkpoint
from stylepipe.feedforward import prepare, stylize_batches
from stylepipe.flow import ChunkFlows, FlowEstimator, chunk_flows, warping_error
from stylepipe.gatys import GatysSettings, initial_image, optimise_frame, temporal_terms, to_tensor, to_uint8
from stylepipe.metrics import finite_mean
from stylepipe.style import StyleTargets, extract_style_frames, parse_style_sources
from stylepipe.temporal import blend_with_previous
from stylepipe.train import TrainSettings, load_training_clips, train
from stylepipe.video import VideoMeta, decode_frames, encode_video, probe, scaled_size

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def job_log(path: str) -> Iterator[None]:
    """Send a job's stderr to its log; a StylepipeError ends the job with its one line, not a traceback."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle:
        saved, sys.stderr = sys.stderr, handle
        try:
            yield
        except StylepipeError as err:
            print(f"error: {err}", file=handle)
            print(f"stylepipe: {err}", file=saved)
            raise SystemExit(1) from None
        finally:
            sys.stderr = saved


def resolve_device(device: str) -> str:
    """`auto` picks CUDA when present; asking for CUDA without it is an error, not a silent fallback."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise StylepipeError("config key 'device': cuda was asked for but torch sees no CUDA GPU; use auto or cpu")
    return device


def preflight(cfg: dict[str, Any], generated: Sequence[str] = ()) -> None:
    """Check a validated config's inputs before any job runs; files a rule will generate are skipped."""

    def check(key: str, path: str, read: Callable[[str], object]) -> None:
        if path in generated:
            return
        try:
            read(path)
        except StylepipeError as err:
            raise StylepipeError(f"config key '{key}': {err}") from None

    check("content", cfg["content"], probe)
    feedforward = cfg["mode"] == "feedforward"
    if feedforward and cfg["feedforward"]["model"]:
        # The style lives in the trained model: `style` and the loss network are not used.
        check("feedforward.model", cfg["feedforward"]["model"], read_checkpoint)
        return
    sources = parse_style_sources(cfg["style"])
    if feedforward and (len(sources) != 1 or not sources[0].is_image):
        raise StylepipeError(
            "config key 'style': feedforward mode trains a network for one style image; "
            "for a style video or a blend of styles use mode: gatys"
        )
    for source in sources:
        check("style", source.path, read_rgb if source.is_image else probe)
    if feedforward:
        for video in cfg["feedforward"]["train"]["videos"]:
            check("feedforward.train.videos", video, _existing_path)
    weights = cfg["loss_network"]["weights"]
    if weights not in lossnet.NAMED_SOURCES:
        check("loss_network.weights", weights, _existing_path)


def _existing_path(path: str) -> None:
    if not Path(path).exists():
        raise StylepipeError(f"{path}: file or folder not found")


def probe_job(video: str, meta_out: str) -> VideoMeta:
    meta = probe(video)
    write_text_atomic(meta_out, meta.to_json())
    return meta


def content_frames_job(video: str, meta_path: str, out_dir: str, width: int, chunk_frames: int, log: Log = stderr_log) -> int:
    """Decode the content video at `width` into `out_dir/chunk_XXXX/NNNNNN.png`."""
    meta = VideoMeta.from_json_file(meta_path)
    size = scaled_size(meta.width, meta.height, width)
    with atomic_dir(out_dir) as scratch:
        flat = scratch / "decoded"
        decode_frames(video, flat, size)
        count = split_into_chunks(flat, scratch, chunk_frames)
        flat.rmdir()
        if count != meta.frame_count:
            # The chunk list comes from the probe's count; going on would fail later, far from the cause.
            raise StylepipeError(f"{video}: decoded {count} frames but the probe counted {meta.frame_count}; the file may be damaged")
    log(f"{video}: {count} frames at {size[0]}x{size[1]} in chunks of {chunk_frames}")
    return count


def content_frame_total(frames_dir: str | Path) -> int:
    return sum(len(list_frames(chunk)) for chunk in Path(frames_dir).glob("chunk_*"))


def style_frames_job(style: Any, frames_dir: str, meta_path: str, out_dir: str, index_out: str, width: int, match: str, log: Log = stderr_log) -> None:
    meta = VideoMeta.from_json_file(meta_path)
    sources = parse_style_sources(style)
    index = extract_style_frames(
        sources, out_dir, index_out, width=width, content_frames=content_frame_total(frames_dir), content_fps=meta.fps, match=match
    )
    for entry in index["styles"]:
        log(f"style {entry['path']}: weight {entry['weight']:.3f}, {entry['frames']} frame(s), match {match}")


def lossnet_job(spec: str, out_path: str, log: Log = stderr_log) -> None:
    """Resolve a named weights source once and cache it as safetensors for every stylise job."""
    state, info = lossnet.fetch_named_weights(spec, log=log)
    lossnet.save_weights(out_path, state, info)
    log(f"loss network weights ({spec}): {info.arch} from {info.source}")


def flow_job(frames_dir: str, chunk: int, chunk_frames: int, out_path: str, method: str, preset: str, offsets: Sequence[int], threads: int = 1, log: Log = stderr_log) -> None:
    """Backward/forward flow and reliability masks from every frame of a chunk to the frames `offsets` back."""
    cv2.setNumThreads(max(1, threads))
    estimator = FlowEstimator(method, preset)
    targets = [int(path.stem) for path in list_frames(Path(frames_dir) / chunk_name(chunk))]
    wanted = {t - d for t in targets for d in offsets if t - d >= 0} | set(targets)
    frames = {t: read_rgb(content_frame_path(frames_dir, t, chunk_frames)) for t in sorted(wanted)}
    began = time.perf_counter()
    arrays = chunk_flows(frames, targets, tuple(offsets), estimator)
    with atomic_file(out_path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    pairs = len(arrays) // 2
    log(f"flow ({method}{'/' + preset if method == 'dis' else ''}): {pairs} pairs for frames {targets[0]}-{targets[-1]}, "
        f"{(time.perf_counter() - began) / max(1, pairs) * 1000:.1f} ms a pair (both directions and mask)")


def content_frame_path(frames_dir: str | Path, number: int, chunk_frames: int) -> Path:
    return Path(frames_dir) / chunk_name(number // chunk_frames) / frame_name(number)


def find_frame(folders: Sequence[str | Path], number: int) -> Path:
    """The frame `number` in whichever of `folders` holds it."""
    for folder in folders:
        candidate = Path(folder) / frame_name(number)
        if candidate.is_file():
            return candidate
    raise StylepipeError(f"frame {number} is in none of {', '.join(map(str, folders))}")


def stylize_gatys_chunk_job(
    frames_dir: str,
    chunk: int,
    style_dir: str,
    index_path: str,
    weights_path: str,
    out_dir: str,
    settings: dict[str, Any],
    gram_window: int,
    device: str,
    threads: int,
    flow_path: str | None = None,
    previous_dirs: Sequence[str] = (),
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Optimise every frame of one chunk; writes the frames and a stats.json with losses and timings.

    With temporal consistency on, frame t starts from the stylised frame t-1 warped by the flow and is
    pulled towards it (and towards t-2, t-4 with long-term offsets) where the flow is reliable. Frames from
    earlier chunks are read from `previous_dirs`, which is why chunk k runs after chunk k-1.
    """
    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    gatys = GatysSettings.from_config(settings)
    net = lossnet.load_loss_network(weights_path, device=device)
    log(f"loss network: {net.info.arch} from {net.info.source}; device {device}")
    index = json.loads(Path(index_path).read_text())
    targets = StyleTargets(net, style_dir, index, lossnet.STYLE_LAYERS[net.info.arch], gram_window, device)
    frames = list_frames(Path(frames_dir) / chunk_name(chunk))
    flows = ChunkFlows.load(flow_path) if gatys.uses_previous_frames and flow_path else None
    generator = torch.Generator().manual_seed(gatys.seed + chunk)
    stats: dict[str, Any] = {"chunk": chunk, "weights": net.info.as_dict(), "device": device, "frames": []}
    # Stylised frames as saved (uint8), so a resumed run warps exactly what an uninterrupted one would.
    done: dict[int, np.ndarray] = {}
    with atomic_dir(out_dir) as scratch:
        for path in frames:
            number = int(path.stem)
            content = to_tensor(read_rgb(path), device)
            start, temporal_loss = None, None
            if flows is not None:
                offsets = [d for d in gatys.previous_offsets if number - d >= 0 and flows.has(d, number)]
                previous = {d: done.get(number - d) for d in offsets}
                for d in offsets:
                    if previous[d] is None:
                        previous[d] = read_rgb(find_frame(previous_dirs, number - d))
                start, temporal_loss = temporal_terms(
                    content, previous, {d: flows.backward(d, number) for d in offsets},
                    {d: flows.reliable(d, number) for d in offsets}, gatys,
                )
            if start is None:
                start = initial_image(gatys.init, content, generator)
            iterations = gatys.first_iterations if number == 0 else gatys.iterations
            result = optimise_frame(net, content, targets.grams_for(number), start, gatys, iterations, temporal_loss)
            done[number] = to_uint8(result.image)
            write_rgb(scratch / frame_name(number), done[number])
            log(
                f"frame {number:6d}  loss {result.total_loss:.4g} (content {result.content_loss:.4g}, "
                f"style {result.style_loss:.4g})  {result.iterations} it  {result.seconds:.2f} s"
            )
            stats["frames"].append(
                {"frame": number, "total_loss": result.total_loss, "content_loss": result.content_loss,
                 "style_loss": result.style_loss, "iterations": result.iterations, "seconds": result.seconds}
            )
        (scratch / "stats.json").write_text(json.dumps(stats, indent=1))
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
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Train the feed-forward network on `videos` for the style image; resumes from a partial checkpoint."""
    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    train_settings = TrainSettings.from_config(settings, arch)
    net = lossnet.load_loss_network(weights_path, device=device)
    log(f"loss network: {net.info.arch} from {net.info.source}; device {device}")
    style = Image.fromarray(read_rgb(style_path))
    scale = train_settings.image_size / min(style.size)
    style = style.resize((round(style.width * scale), round(style.height * scale)), Image.Resampling.LANCZOS)
    clips = load_training_clips(videos, train_settings.image_size, train_settings.max_frames_per_video)
    log(f"training {arch} on {sum(len(c) for c in clips)} frames from {len(clips)} source(s) at {train_settings.image_size} px")
    header = {"arch": arch, "style": style_path, "run": model_id, "weights": net.info.as_dict(), "train": asdict(train_settings)}
    partial = Path(out_path).with_name(Path(out_path).stem + ".partial.safetensors")
    final = train(net, np.array(style), clips, train_settings, out_path, partial, header, log=log)
    log(f"saved {out_path}: loss {final['first_loss']:.4g} at step 1, {final['last_loss']:.4g} at step {final['steps']}")
    return final


def stylize_feedforward_chunk_job(
    frames_dir: str, chunk: int, model_path: str, out_dir: str, batch_size: int | str, precision: str, device: str, threads: int,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """One forward pass per frame, `batch_size` frames at a time."""
    torch.set_num_threads(max(1, threads))
    device = resolve_device(device)
    model, header = load_model(model_path, device)
    model = prepare(model, device)
    frames = list_frames(Path(frames_dir) / chunk_name(chunk))
    images = [read_rgb(path) for path in frames]
    log(f"model {model_path}: {header.get('arch', model.arch)}, style {header.get('style', '?')}; device {device}, "
        f"precision {precision}, batch {batch_size}")
    stats: dict[str, Any] = {"chunk": chunk, "weights": header.get("weights"), "model": model_path, "device": device, "frames": []}
    began = time.perf_counter()
    with atomic_dir(out_dir) as scratch:
        for path, output in zip(frames, stylize_batches(model, images, device, batch_size, precision)):
            write_rgb(scratch / path.name, output)
        seconds = (time.perf_counter() - began) / max(1, len(frames))
        stats["frames"] = [{"frame": int(p.stem), "seconds": seconds} for p in frames]
        (scratch / "stats.json").write_text(json.dumps(stats, indent=1))
    log(f"{len(frames)} frames, {seconds * 1000:.1f} ms a frame")
    return stats


def stabilize_chunk_job(
    raw_dir: str, chunk: int, flow_path: str, previous_dirs: Sequence[str], out_dir: str, strength: float, log: Log = stderr_log
) -> None:
    """Blend each stylised frame with the stabilised frame before it, warped by the flow, where it is reliable."""
    flows = ChunkFlows.load(flow_path)
    done: dict[int, np.ndarray] = {}
    with atomic_dir(out_dir) as scratch:
        for path in list_frames(raw_dir):
            number = int(path.stem)
            fresh = read_rgb(path)
            if number == 0 or not flows.has(1, number):
                done[number] = fresh
            else:
                previous = done[number - 1] if number - 1 in done else read_rgb(find_frame(previous_dirs, number - 1))
                done[number] = blend_with_previous(fresh, previous, flows.backward(1, number), flows.reliable(1, number), strength)
            write_rgb(scratch / path.name, done[number])
        stats = json.loads((Path(raw_dir) / "stats.json").read_text())
        stats["stabilised"] = {"method": "blend", "strength": strength}
        (scratch / "stats.json").write_text(json.dumps(stats, indent=1))
    log(f"stabilised {len(done)} frames (blend, strength {strength})")


def report_job(
    frames_dir: str,
    stylized_dirs: Sequence[str],
    flow_paths: Sequence[str],
    out_path: str,
    unstabilised_dirs: Sequence[str] = (),
    log: Log = stderr_log,
) -> dict[str, Any]:
    """metrics.json: E_warp of the output and of the content (same flows and masks), losses, timings, weights.

    Frames are read one at a time and flows one chunk at a time, so memory does not grow with the video.
    The folder lists are in chunk order, as the workflow's chunk list gives them.
    """
    content_chunks = sorted(Path(frames_dir).glob("chunk_*"))
    sequences = {"output": stylized_dirs, "input": [str(c) for c in content_chunks], "unstabilised": unstabilised_dirs}
    sequences = {name: folders for name, folders in sequences.items() if folders}
    errors: dict[str, list[float]] = {name: [] for name in sequences}
    previous: dict[str, np.ndarray] = {}
    count = 0
    for chunk, flow_path in enumerate(flow_paths):
        flows = ChunkFlows.load(flow_path)
        for path in list_frames(content_chunks[chunk]):
            t = int(path.stem)
            current = {name: read_rgb(Path(folders[chunk]) / path.name) for name, folders in sequences.items()}
            if previous:
                bwd, mask = flows.backward(1, t), flows.reliable(1, t)
                for name in sequences:
                    errors[name].append(warping_error(current[name], previous[name], bwd, mask))
            previous = current
            count += 1
    out_errors, in_errors, raw_errors = errors["output"], errors["input"], errors.get("unstabilised")
    stats = [json.loads((Path(folder) / "stats.json").read_text()) for folder in stylized_dirs]
    per_frame = [frame for chunk in stats for frame in chunk["frames"]]
    out_mean, in_mean = finite_mean(out_errors), finite_mean(in_errors)
    report = {
        "frames": count,
        "warp_error": {
            "output_mean": out_mean,
            "input_mean": in_mean,
            "ratio_output_to_input": out_mean / in_mean if in_mean > 0 else None,
            "output_per_frame": out_errors,
            "input_per_frame": in_errors,
            "unstabilised_output_mean": finite_mean(raw_errors) if raw_errors is not None else None,
            "unstabilised_output_per_frame": raw_errors,
            "definition": "Lai et al. 2018: sum(M |F_t - warp(F_t-1)|^2) / sum(M), RGB in [0,1], M = Ruder consistency mask of the content flow",
        },
        "weights": stats[0]["weights"] if stats else None,
        "device": stats[0]["device"] if stats else None,
        "stylize": {
            "seconds_per_frame": finite_mean([f["seconds"] for f in per_frame]),
            "content_loss_per_frame": [f.get("content_loss") for f in per_frame],
            "style_loss_per_frame": [f.get("style_loss") for f in per_frame],
        },
    }
    write_text_atomic(out_path, json.dumps(report, indent=1))
    log(f"E_warp output {out_mean:.5f}, input {in_mean:.5f}, ratio {report['warp_error']['ratio_output_to_input']}")
    return report


def assemble_job(
    chunk_dirs: Sequence[str], meta_path: str, content_video: str, out_path: str, crf: int, codec: str, audio: str, log: Log = stderr_log
) -> None:
    """Join the chunks' frames into a video at the source fps, with the source's audio unless `audio: none`."""
    meta = VideoMeta.from_json_file(meta_path)
    frames = [frame for folder in chunk_dirs for frame in list_frames(folder)]
    if not frames:
        raise StylepipeError(f"{out_path}: no stylised frames to assemble")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    # ffmpeg wants one numbered sequence; links in a scratch folder give it one without copying frames.
    with tempfile.TemporaryDirectory(dir=Path(out_path).parent, prefix=".assemble-") as scratch, atomic_file(out_path) as tmp:
        links = Path(scratch)
        for number, frame in enumerate(frames):
            os.symlink(os.path.abspath(frame), links / frame_name(number))
        with_audio = audio == "copy" and meta.has_audio
        began = time.perf_counter()
        encode_video(
            str(links / "%06d.png"), meta.fps, tmp, crf=crf, codec=codec,
            audio_source=content_video if with_audio else None, audio_codec=meta.audio_codec,
        )
        log(f"{out_path}: {len(frames)} frames at {float(meta.fps):.3f} fps, audio {'copied' if with_audio else 'none'}, "
            f"crf {crf}, {time.perf_counter() - began:.1f} s")

