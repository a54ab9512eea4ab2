"""Probe, frame extraction and the final encode: the stages around the styling. No torch here."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_file, frame_name, list_frames, split_into_chunks, atomic_dir, write_text_atomic
from stylepipe.jobs.common import Log, content_frame_total, stderr_log
from stylepipe.style import extract_style_frames, parse_style_sources
from stylepipe.video import VideoMeta, decode_frames, encode_video, probe, scaled_size


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
