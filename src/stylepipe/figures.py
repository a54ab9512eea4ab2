"""What the report shows of one output: a contact sheet, per-frame plots as SVG, and a self-contained overview page.

Plain PIL and hand-written SVG: the report needs three line plots, not a plotting library. No torch here.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# An mp4 embedded in the page travels base64-encoded twice (page, then report): above this, an animated preview.
MAX_EMBEDDED_VIDEO_BYTES = 20 * 1024 * 1024
CELL_HEIGHT = 180
LABEL_HEIGHT = 22
SERIES_COLORS = ("#d62728", "#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd")


def moments(frame_count: int, count: int = 3) -> list[int]:
    """Frames spread through the clip (10%, 50% and 90% for three), distinct where the clip allows."""
    if frame_count <= 0:
        return []
    picks = [round((frame_count - 1) * (0.1 + 0.8 * k / max(1, count - 1))) for k in range(count)] if count > 1 else [frame_count // 2]
    return sorted(set(picks))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _fit(image: np.ndarray, width: int, height: int) -> Image.Image:
    """`image` scaled to fit width x height on a neutral background, without changing its aspect ratio."""
    picture = Image.fromarray(image)
    scale = min(width / picture.width, height / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 3 else Image.Resampling.LANCZOS
    cell = Image.new("RGB", (width, height), (238, 238, 238))
    cell.paste(picture.resize(size, resample), ((width - size[0]) // 2, (height - size[1]) // 2))
    return cell


def contact_sheet(rows: Sequence[tuple[str, Sequence[np.ndarray]]], columns: Sequence[str], cell_height: int = CELL_HEIGHT) -> np.ndarray:
    """A grid with one row per (label, images) and one column per title, every cell `cell_height` pixels high."""
    first = rows[0][1][0]
    cell_width = max(1, round(cell_height * first.shape[1] / first.shape[0]))
    label_width = 110
    sheet = Image.new("RGB", (label_width + cell_width * len(columns), LABEL_HEIGHT + cell_height * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(15)
    for c, title in enumerate(columns):
        draw.text((label_width + c * cell_width + 6, 3), title, fill="black", font=font)
    for r, (label, images) in enumerate(rows):
        top = LABEL_HEIGHT + r * cell_height
        draw.text((6, top + cell_height // 2 - 8), label, fill="black", font=font)
        for c, image in enumerate(images):
            sheet.paste(_fit(image, cell_width - 2, cell_height - 2), (label_width + c * cell_width + 1, top + 1))
    return np.asarray(sheet)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step + 1e-9) + 1)]


def line_plot_svg(title: str, series: Mapping[str, Sequence[float | None]], y_label: str, width: int = 640, height: int = 220) -> str:
    """One SVG line plot of per-frame values; None and non-finite values leave gaps."""
    left, right, top, bottom = 64, 150, 28, 34
    values = [v for ys in series.values() for v in ys if v is not None and math.isfinite(v)]
    frames = max((len(ys) for ys in series.values()), default=0)
    y_max = max(values, default=1.0) * 1.05 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + plot_w * (i / max(1, frames - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">frame</text>',
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" transform="rotate(-90 14 {top + plot_h / 2})">{html.escape(y_label)}</text>',
    ]
    for tick in _ticks(0.0, y_max):
        parts.append(f'<line x1="{left - 4}" y1="{y(tick):.1f}" x2="{left + plot_w}" y2="{y(tick):.1f}" stroke="#dddddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
    for tick in _ticks(0.0, max(1, frames - 1)):
        parts.append(f'<text x="{x(int(tick)):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{int(tick)}</text>')
    for number, (name, ys) in enumerate(series.items()):
        color = SERIES_COLORS[number % len(SERIES_COLORS)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(ys):
            if v is None or not math.isfinite(v):
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            elif run:
                parts.append(f'<polyline class="series" points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        legend_y = top + 8 + 18 * number
        parts.append(f'<line x1="{left + plot_w + 12}" y1="{legend_y}" x2="{left + plot_w + 32}" y2="{legend_y}" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{left + plot_w + 36}" y="{legend_y + 4}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    """For photographic sheets: a fifth of the PNG's size, and the report embeds every image it shows."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def animated_png(frames: Sequence[np.ndarray], seconds_per_frame: float, max_width: int = 320) -> bytes:
    """An animated PNG, which every browser plays in an <img>: the preview when the video is too big to embed."""
    pictures = [Image.fromarray(frame) for frame in frames]
    if pictures[0].width > max_width:
        size = (max_width, max(1, round(pictures[0].height * max_width / pictures[0].width)))
        pictures = [picture.resize(size, Image.Resampling.LANCZOS) for picture in pictures]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="PNG", save_all=True, append_images=pictures[1:], duration=round(seconds_per_frame * 1000), loop=0)
    return buffer.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def overview_html(
    name: str,
    video: Path,
    poster_png: bytes,
    animated_preview: bytes | None,
    sheet_jpeg: bytes,
    plots_svg: Sequence[str],
    facts: Sequence[tuple[str, str]],
    config_yaml: str,
) -> str:
    """One self-contained page: the video (or its animated preview), the contact sheet, the plots and the knobs."""
    if animated_preview is None:
        player = (f'<video id="video" controls autoplay muted loop playsinline poster="{data_uri(poster_png, "image/png")}" '
                  f'src="{data_uri(video.read_bytes(), "video/mp4")}"></video>')
    else:
        player = (f'<img id="animated-preview" alt="animated preview of {html.escape(name)}.mp4" '
                  f'src="{data_uri(animated_preview, "image/png")}"><p class="note">{html.escape(video.name)} is too large to embed '
                  f'({video.stat().st_size / 1e6:.0f} MB); this is an animated preview.</p>')
    rows = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    plots = "\n".join(f'<div class="plot">{svg}</div>' for svg in plots_svg)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}: stylepipe</title>
<style>
body {{ font-family: sans-serif; margin: 16px; color: #222; }}
video, #animated-preview {{ max-width: 100%; width: 480px; background: black; }}
.row {{ display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }}
table {{ border-collapse: collapse; font-size: 13px; }} th, td {{ text-align: left; padding: 2px 8px; border-bottom: 1px solid #eee; }}
pre {{ background: #f6f6f6; padding: 8px; font-size: 12px; max-height: 320px; overflow: auto; }}
.note {{ font-size: 12px; color: #666; }}
</style></head>
<body>
<h1>{html.escape(name)}.mp4</h1>
<div class="row"><div>{player}</div><table id="facts">{rows}</table></div>
<h2>Content, style and output</h2>
<img id="contact-sheet" alt="contact sheet" src="{data_uri(sheet_jpeg, "image/jpeg")}" style="max-width: 100%">
<h2>Per frame</h2>
{plots}
<h2>Settings</h2>
<pre id="settings">{html.escape(config_yaml)}</pre>
</body></html>
"""
