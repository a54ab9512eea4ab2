from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from stylepipe.demo import write_content_video
from stylepipe.errors import StylepipeError
from stylepipe.frames import list_frames, read_rgb
from stylepipe.video import decode_frames, encode_video, iter_frames, probe, scaled_size


def test_probe_reads_ntsc_rate_exactly_and_counts_frames(tmp_path):
    path = tmp_path / "ntsc.mp4"
    write_content_video(path, 48, 32, 7, Fraction(30000, 1001), audio=False)
    meta = probe(path)
    assert meta.fps == Fraction(30000, 1001)
    assert meta.frame_count == 7
    assert (meta.width, meta.height) == (48, 32)
    assert not meta.has_audio


@pytest.mark.parametrize(("size", "width", "expected"), [((64, 48), 32, (32, 24)), ((101, 57), 51, (52, 30)), ((1920, 1080), 513, (512, 288)), ((1080, 1920), 270, (270, 480))])
def test_scaled_size_is_even_and_keeps_aspect(size, width, expected):
    assert scaled_size(*size, width) == expected


def test_decode_then_encode_round_trip_keeps_count_and_fps(tmp_path):
    src = tmp_path / "src.mp4"
    write_content_video(src, 64, 48, 6, Fraction(12))
    frames = tmp_path / "frames"
    assert decode_frames(src, frames, (32, 24)) == 6
    assert read_rgb(list_frames(frames)[0]).shape == (24, 32, 3)
    out = tmp_path / "out.mp4"
    source = probe(src)
    assert encode_video((read_rgb(p) for p in list_frames(frames)), source, out, crf=18, codec="h264", audio_source=src) == 6
    meta = probe(out)
    assert (meta.frame_count, meta.fps, meta.audio_codec) == (6, Fraction(12), "aac")
    assert meta.pts == source.pts and meta.time_base == source.time_base


def test_probe_errors_name_the_file(tmp_path):
    text = tmp_path / "clip.mov"
    text.write_text("hello")
    with pytest.raises(StylepipeError, match="clip.mov: not a video"):
        probe(text)
    with pytest.raises(StylepipeError, match="gone.mp4: file not found"):
        probe(tmp_path / "gone.mp4")
    (tmp_path / "clips").mkdir()
    with pytest.raises(StylepipeError, match="clips: is a folder, not a video file"):
        probe(tmp_path / "clips")


def test_yuv444p_keeps_the_colour_detail_that_yuv420p_halves(tmp_path):
    import av

    src = tmp_path / "src.mp4"
    write_content_video(src, 64, 48, 4, Fraction(12), audio=False)
    # Saturated one-pixel stripes of red and blue: all colour detail, as a stroke texture is.
    stripes = np.zeros((48, 64, 3), np.uint8)
    stripes[:, 0::2, 0] = 230
    stripes[:, 1::2, 2] = 230
    errors = {}
    for pix_fmt in ("yuv420p", "yuv444p"):
        out = tmp_path / f"{pix_fmt}.mp4"
        assert encode_video([stripes] * 4, probe(src), out, crf=18, codec="h264", audio_source=None, pix_fmt=pix_fmt) == 4
        with av.open(str(out)) as container:
            assert container.streams.video[0].codec_context.pix_fmt == pix_fmt
        decoded = next(iter_frames(out)).astype(np.float32)
        errors[pix_fmt] = float(np.abs(decoded - stripes).mean())
    assert errors["yuv444p"] < 0.25 * errors["yuv420p"], errors
