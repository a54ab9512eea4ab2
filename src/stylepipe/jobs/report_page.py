"""The report's page for one output: its video, a contact sheet, per-frame plots and the knobs. No torch here."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from stylepipe.figures import (
    MAX_EMBEDDED_VIDEO_BYTES,
    animated_png,
    contact_sheet,
    jpeg_bytes,
    line_plot_svg,
    moments,
    overview_html,
    png_bytes,
)
from stylepipe.frames import atomic_file, checked_folder, frame_name, read_rgb, write_text_atomic
from stylepipe.jobs.common import Log, find_frame, stderr_log
from stylepipe.stitch import OutputFrames
from stylepipe.video import VideoMeta


def _style_frame(style_dir: Path, index: dict[str, Any], frame: int) -> np.ndarray:
    """The style frame this content frame was stylised towards; for a blend, the heaviest style's."""
    entry = max(index["styles"], key=lambda e: e["weight"])
    return read_rgb(style_dir / entry["folder"] / frame_name(entry["index"][frame]))


def per_frame_plots(metrics: dict[str, Any]) -> list[str]:
    """The warping error of output, input and (when blended) the unstabilised output; Gatys's distances when measured."""
    warp = metrics["warp_error"]
    # One value per frame; None (a gap in the line) where a shot starts.
    series = {"output": warp["output_per_frame"], "input (content)": warp["input_per_frame"]}
    if warp.get("unstabilized_output_per_frame"):
        series["output before blend"] = warp["unstabilized_output_per_frame"]
    plots = [line_plot_svg("Warping error per frame (lower flickers less)", series, "E_warp")]
    structure = metrics.get("structure")
    if structure:
        # Beside the flicker: a picture that fades into texture along a shot shows here as a falling line.
        plots.append(line_plot_svg("Structure kept per frame: edge correlation with the content (1 = all of it)",
                                   {"edge correlation": structure["per_frame"]}, "correlation", height=180))
    fidelity = metrics.get("fidelity")
    if fidelity:
        # Apart, as the two differ by orders of magnitude; a rising content line is drift along the shot.
        plots.append(line_plot_svg("VGG style distance per frame (0 = the style's own textures)",
                                   {"style distance": fidelity["style_distance_per_frame"]}, "distance", height=180))
        plots.append(line_plot_svg("VGG content distance per frame (rising = drifting from the content)",
                                   {"content distance": fidelity["content_distance_per_frame"]}, "distance", height=180))
    return plots


def stacked_svg(plots: Sequence[str]) -> str:
    """Several SVG plots one above the other in one file, as the report shows one image per result."""
    heights = [int(svg.split('height="', 1)[1].split('"', 1)[0]) for svg in plots]
    width = max(int(svg.split('width="', 1)[1].split('"', 1)[0]) for svg in plots)
    parts, top = [], 0
    for svg, height in zip(plots, heights):
        parts.append(svg.replace("<svg ", f'<svg y="{top}" ', 1))
        top += height
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top}" viewBox="0 0 {width} {top}">\n'
            + "\n".join(parts) + "\n</svg>\n")


def _facts(name: str, config: dict[str, Any], meta: VideoMeta, metrics: dict[str, Any], size: tuple[int, int]) -> list[tuple[str, str]]:
    warp = metrics["warp_error"]
    styles = config["style"] if isinstance(config["style"], list) else [config["style"]]
    style_text = ", ".join(s if isinstance(s, str) else f"{s['path']} (weight {s.get('weight', 1.0):g})" for s in styles)
    weights = metrics.get("weights") or {}
    facts = [
        ("output", f"results/{name}.mp4"),
        ("content", config["content"]),
        ("style", style_text),
        ("mode", config["mode"] if config["mode"] == "gatys" else f"feedforward ({config['feedforward']['arch']})"),
        ("network", str(weights.get("source") or weights.get("arch") or "?")),
        ("frames", f"{metrics['frames']} at {size[0]}x{size[1]}, {float(meta.fps):.3f} fps{' (variable)' if meta.variable_rate else ''}"),
        ("audio", "source audio" if meta.has_audio and config["encode"]["audio"] == "copy" else "none"),
        ("stylise, seconds per frame", f"{metrics['stylize']['seconds_per_frame']:.3f} on {metrics.get('device') or '?'}"),
        ("warping error, output / input", f"{warp['output_mean']:.5f} / {warp['input_mean']:.5f} = "
                                          f"{warp['ratio_output_to_input']:.2f}x" if warp.get("ratio_output_to_input") else "n/a"),
    ]
    sharp = warp.get("lanczos") or {}
    if sharp.get("ratio_output_to_input"):
        facts.append(("warping error with a Lanczos warp (no bilinear blur)", f"{sharp['output_mean']:.5f} / {sharp['input_mean']:.5f} = "
                                                                             f"{sharp['ratio_output_to_input']:.2f}x"))
    if warp.get("unstabilized_output_mean") is not None:
        facts.append(("warping error before the blend", f"{warp['unstabilized_output_mean']:.5f}"))
    seams = metrics.get("seams") or {}
    if seams.get("count") and seams.get("ratio_max_to_median") is not None:
        facts.append(("segment seams", f"{seams['count']}, worst warping error {seams['ratio_max_to_median']:.2f}x the median of the other frames"))
    structure = metrics.get("structure")
    if structure and structure.get("per_frame"):
        facts.append(("structure kept (edge correlation with the content)", f"mean {structure['mean']:.2f}, lowest {structure['min']:.2f}, "
                                                                            f"first third {structure['first_third']:.2f}, last third {structure['last_third']:.2f}"))
    fidelity = metrics.get("fidelity")
    if fidelity:
        facts.append(("style / content distance", f"{fidelity['style_distance_mean']:.3f} / {fidelity['content_distance_mean']:.3f}"))
    return facts


def report_page_job(
    name: str,
    video: str,
    meta_path: str,
    frames_dir: str,
    style_dir: str,
    index_path: str,
    chunk_dirs: Sequence[str],
    layout: Sequence[Mapping[str, int]],
    metrics_path: str,
    config: dict[str, Any],
    page_out: str,
    sheet_out: str,
    plots_out: str,
    log: Log = stderr_log,
) -> None:
    """Write the overview page, the contact sheet (content, style, output at three moments) and the per-frame plots."""
    meta = VideoMeta.from_json_file(meta_path)
    metrics = json.loads(Path(metrics_path).read_text())
    index = json.loads(Path(index_path).read_text())
    content_chunks = [checked_folder(chunk) for chunk in sorted(Path(frames_dir).glob("chunk_*"))]
    for folder in [*chunk_dirs, style_dir]:
        checked_folder(folder)
    outputs = OutputFrames(chunk_dirs, layout)
    count = len(outputs)
    rows = []
    picks = moments(count)
    for frame in picks:
        output = outputs.read(frame)
        seconds = frame / float(meta.fps)
        rows.append((f"frame {frame}\n{seconds:.1f} s", [read_rgb(find_frame(content_chunks, frame)), _style_frame(Path(style_dir), index, frame), output]))
    sheet = jpeg_bytes(contact_sheet(rows, ["content", "style", "output"]))
    plots = per_frame_plots(metrics)
    size = (rows[0][1][2].shape[1], rows[0][1][2].shape[0])
    poster = png_bytes(outputs.read(count // 2))
    preview = None
    if Path(video).stat().st_size > MAX_EMBEDDED_VIDEO_BYTES:
        picks = sorted({round(k * (count - 1) / 47) for k in range(48)}) if count > 1 else [0]
        preview = animated_png([outputs.read(k) for k in picks], (count / len(picks)) / float(meta.fps))
    page = overview_html(name, Path(video), poster, preview, sheet, plots, _facts(name, config, meta, metrics, size),
                         yaml.safe_dump(config, sort_keys=False))
    with atomic_file(sheet_out) as tmp:
        Path(tmp).write_bytes(sheet)
    write_text_atomic(plots_out, stacked_svg(plots))
    write_text_atomic(page_out, page)
    log(f"report page for results/{name}.mp4: video {'embedded' if preview is None else 'too large, animated preview'}, "
        f"contact sheet at frames {', '.join(map(str, picks))}, {len(plots)} plot(s)")
