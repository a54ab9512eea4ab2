"""Probe, frame extraction and the final encode: the stages around the styling. No torch here."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from stylepipe.errors import StylepipeError
from stylepipe.frames import JPEG, atomic_dir, atomic_file, checked_folder, split_into_chunks, write_text_atomic
from stylepipe.jobs.common import Log, content_frame_total, stderr_log
from stylepipe.stitch import OutputFrames
from stylepipe.style import extract_style_frames, parse_style_sources
from stylepipe.video import FPS_RANGE, VideoMeta, decode_frames, encode_video, probe, scaled_size


def probe_job(video: str, meta_out: str, log: Log = stderr_log) -> VideoMeta:
    meta = probe(video)
    write_text_atomic(meta_out, meta.to_json())
    audio = f"{meta.audio_codec} from {meta.audio_start:.3f} s for {meta.audio_seconds:.3f} s" if meta.has_audio else "none"
    log(f"{video}: {meta.frame_count} frames, {meta.width}x{meta.height} as displayed (rotation {meta.rotation}), "
        f"{float(meta.fps):.3f} fps{' (variable: every frame keeps its own time)' if meta.variable_rate else ''}, "
        f"video from {meta.video_start:.3f} s, audio {audio}")
    if meta.has_alpha:
        log(f"warning: {video} has an alpha channel; transparent areas are composited over white")
    if meta.rate_source != "timestamps":
        said = "the stream header's" if meta.rate_source == "header" else f"none usable, so {float(meta.fps):g} fps"
        log(f"note: {video}'s frame rate comes from {said} ({meta.frame_count} frame(s); rates outside "
            f"{float(FPS_RANGE[0]):g}-{float(FPS_RANGE[1]):g} fps are not taken)")
    return meta


def content_frames_job(video: str, meta_path: str, out_dir: str, width: int, chunk_frames: int, log: Log = stderr_log) -> int:
    """Decode the content video at `width` into `out_dir/chunk_XXXX/NNNNNN.jpg` (`frames.JPEG`)."""
    meta = VideoMeta.from_json_file(meta_path)
    size = scaled_size(meta.width, meta.height, width)
    if size[0] > meta.width:
        log(f"warning: width {width} is more than the source's {meta.width} pixels: frames are upscaled, which adds no detail")
    if meta.has_alpha:
        log(f"warning: {video} has an alpha channel; transparent areas are composited over white")
    with atomic_dir(out_dir) as scratch:
        flat = scratch / "decoded"
        decode_frames(video, flat, size, pattern="{:06d}" + JPEG)
        count = split_into_chunks(flat, scratch, chunk_frames)
        flat.rmdir()
        if count != meta.frame_count:
            # The chunk list comes from the probe's count; going on would fail later, far from the cause.
            raise StylepipeError(f"{video}: decoded {count} frames but the probe counted {meta.frame_count}; the file may be damaged")
    log(f"{video}: {count} frames at {size[0]}x{size[1]} in chunks of {chunk_frames}")
    return count


def style_frames_job(
    style: Any, frames_dir: str, meta_path: str, out_dir: str, index_out: str, width: int, match: str,
    short_side: int | None = None, log: Log = stderr_log,
) -> None:
    meta = VideoMeta.from_json_file(meta_path)
    sources = parse_style_sources(style)
    index = extract_style_frames(
        sources, out_dir, index_out, width=width, content_frames=content_frame_total(frames_dir), content_fps=meta.fps,
        match=match, short_side=short_side,
    )
    for entry in index["styles"]:
        log(f"style {entry['path']}: weight {entry['weight']:.3f}, {entry['frames']} frame(s), match {match}")


def assemble_job(
    chunk_dirs: Sequence[str], layout: Sequence[Mapping[str, int]], meta_path: str, content_video: str, out_path: str, crf: int,
    codec: str, audio: str, pix_fmt: str = "yuv420p", measure: Mapping[str, Any] | None = None, log: Log = stderr_log,
) -> None:
    """Encode the chunks' frames, each at its source frame's timestamp, with the source's audio unless `audio: none`.

    With `measure` (`temporal.delivered_report`'s arguments after the video: frames_dir, chunk_frames, flows_path,
    out_path, threads), the encoded video's warping error is measured before it is renamed into place.

    Every chunk is checked against its manifest first, and a frame count that differs from the probe's stops the
    job: a video that exits 0 has every frame. Segments' overlaps are cross-faded (`stitch.OutputFrames`).
    """
    meta = VideoMeta.from_json_file(meta_path)
    for folder in chunk_dirs:
        checked_folder(folder)
    frames = OutputFrames(chunk_dirs, layout)
    if len(frames) != meta.frame_count:
        raise StylepipeError(f"{out_path}: the stylised chunks hold {len(frames)} frames but {content_video} has {meta.frame_count}; "
                             "not writing a short video")
    with_audio = audio == "copy" and meta.has_audio
    began = time.perf_counter()
    with atomic_file(out_path) as tmp:
        encode_video(iter(frames), meta, tmp, crf=crf, codec=codec, pix_fmt=pix_fmt,
                     audio_source=content_video if with_audio else None)
        written = probe(tmp)
        if written.frame_count != meta.frame_count:
            raise StylepipeError(f"{out_path}: the encoder wrote {written.frame_count} of {meta.frame_count} frames")
        if measure is not None:
            from stylepipe.jobs.temporal import delivered_report

            delivered_report(tmp, log=log, **measure)
    timing = "variable frame rate kept" if meta.variable_rate else f"{float(meta.fps):.3f} fps"
    seams = f", {len(frames.seams)} segment seam(s) cross-faded" if frames.seams else ""
    log(f"{out_path}: {len(frames)} frames, {timing}, source timestamps, audio {'copied' if with_audio else 'none'}, "
        f"{codec} {pix_fmt} crf {crf}{seams}, {time.perf_counter() - began:.1f} s")
