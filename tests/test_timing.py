"""Timing, audio and orientation survive the pipeline: generated clips with awkward streams, rendered end to end."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_workdir, run_snakemake, tiny_config
from stylepipe.frames import read_rgb
from stylepipe.video import encode_video, ffmpeg_exe, iter_frames, probe, scaled_size
from videotools import read_all_frames, write_timed_clip

EIGHT_FPS = [i / 8 for i in range(8)]

# name: (file name, clip arguments)
CLIPS = {
    "shortaudio": ("short.mp4", {"times": EIGHT_FPS, "audio": (0.0, 0.3)}),
    "emptyaudio": ("empty.mkv", {"times": EIGHT_FPS, "empty_audio": True}),
    "latevideo": ("late.mp4", {"times": [0.5 + t for t in EIGHT_FPS], "audio": (0.0, 1.5)}),
    "rot90": ("rot90.mp4", {"times": EIGHT_FPS, "audio": (0.0, 1.0), "rotation": 90}),
    "rot270": ("rot270.mp4", {"times": EIGHT_FPS, "audio": (0.0, 1.0), "rotation": 270}),
    "vfr": ("vfr.mp4", {"times": EIGHT_FPS + [1 + i / 16 for i in range(8)], "audio": (0.0, 1.5)}),
    "oneframe": ("one.mp4", {"times": [0.0], "audio": (0.0, 0.5)}),
    # One frame that starts at 2.4 s, made by ffmpeg's `select` (below): its rate was read as 2147483648 fps.
    "latesingle": ("late_single.mp4", None),
    "twoframes": ("two.mp4", {"times": EIGHT_FPS[:2], "audio": (0.0, 0.25)}),
}
# Clips that also serve as style videos.
STYLE_CLIPS = ("oneframe", "twoframes")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("timed")
    paths = {}
    for name, (filename, kwargs) in CLIPS.items():
        paths[name] = folder / filename
        if kwargs is not None:
            write_timed_clip(paths[name], **kwargs)
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=3", "-vf", "select='eq(n,60)'",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(paths["latesingle"])], check=True)
    return paths


def test_probe_reads_what_was_written(clips):
    short, empty, late = probe(clips["shortaudio"]), probe(clips["emptyaudio"]), probe(clips["latevideo"])
    assert short.audio_seconds == pytest.approx(0.3, abs=0.03) and short.frame_count == 8
    assert not empty.has_audio, "an audio stream with no packets is no audio"
    assert late.video_start == pytest.approx(0.5) and late.audio_start == pytest.approx(0.0)
    for name in ("rot90", "rot270"):
        meta = probe(clips[name])
        assert (meta.width, meta.height, meta.rotation) == (48, 64, int(name[3:]))
    vfr = probe(clips["vfr"])
    assert vfr.variable_rate and vfr.frame_count == 16


@pytest.mark.parametrize("name", ["rot90", "rot270"])
def test_frames_are_turned_as_ffmpeg_displays_them(clips, name):
    ours = np.stack(list(iter_frames(clips[name])))
    shown = read_all_frames(clips[name], (48, 64))  # the ffmpeg binary applies the display matrix itself
    assert ours.shape == shown.shape
    assert np.abs(ours.astype(int) - shown).mean() < 2


def _seconds(meta) -> np.ndarray:
    return np.asarray(meta.pts, dtype=np.float64) * float(Fraction(meta.time_base))


def _zero(meta) -> float:
    return min(meta.video_start, meta.audio_start) if meta.has_audio else meta.video_start


def assert_same_timing(source, output) -> None:
    """Every frame, at the source's times within one frame, with the same offset between picture and sound."""
    frame = 1 / float(source.fps)
    assert output.frame_count == source.frame_count
    np.testing.assert_allclose(_seconds(output) - _zero(output), _seconds(source) - _zero(source), atol=frame)
    assert output.has_audio == source.has_audio
    if source.has_audio:
        offset = lambda meta: meta.video_start - meta.audio_start  # noqa: E731
        assert offset(output) == pytest.approx(offset(source), abs=frame)
        assert output.audio_seconds == pytest.approx(source.audio_seconds, abs=frame)


@pytest.mark.parametrize("name", list(CLIPS))
def test_encode_keeps_every_frame_its_time_and_the_audio(clips, name, tmp_path):
    source = probe(clips[name])
    out = tmp_path / "out.mp4"
    written = encode_video(iter_frames(clips[name]), source, out, crf=18, codec="h264", audio_source=clips[name])
    assert written == source.frame_count
    assert_same_timing(source, probe(out))


@pytest.fixture(scope="module")
def rendered(clips, tiny_inputs, tmp_path_factory) -> Path:
    """One Snakemake run that renders every awkward clip as its own variant (Gatys, few iterations)."""
    config = tiny_config(tiny_inputs, style=str(tiny_inputs["style_rgba"]), chunk_frames=8)
    config["gatys"] = {"iterations": 2, "first_iterations": 2, "scale_iterations": [2, 2], "init": "content", "temporal_weight": 0.0}
    config["variants"] = {name: {"content": str(path)} for name, path in clips.items()}
    config["variants"].update({f"{name}_style": {"style": str(clips[name])} for name in STYLE_CLIPS})
    workdir = make_workdir(tmp_path_factory.mktemp("timedrun"), config)
    result = run_snakemake(workdir, *[f"results/{name}.mp4" for name in config["variants"]])
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.mark.parametrize("name", list(CLIPS))
def test_pipeline_output_keeps_frames_timing_audio_and_orientation(rendered, clips, name):
    source, output = probe(clips[name]), probe(rendered / f"results/{name}.mp4")
    assert_same_timing(source, output)
    assert output.rotation == 0 and (output.width, output.height) == scaled_size(source.width, source.height, 32)
    if name.startswith("rot"):
        # The frames the pipeline stylised are the picture as it is shown, not as it is stored.
        size = (output.width, output.height)
        first = read_rgb(rendered / f"results/{name}/frames/content/chunk_0000/000000.jpg").astype(int)
        shown = read_all_frames(clips[name], size)[0].astype(int)
        assert np.abs(first - shown).mean() < 6
        assert np.abs(first - shown[::-1, ::-1]).mean() > 4 * np.abs(first - shown).mean()


@pytest.mark.parametrize("name", STYLE_CLIPS)
def test_a_style_video_of_one_or_two_frames_styles_every_frame(rendered, tiny_inputs, name):
    output = probe(rendered / f"results/{name}_style.mp4")
    assert output.frame_count == probe(tiny_inputs["content"]).frame_count


def test_a_single_frame_with_no_usable_rate_gets_a_sane_one_and_says_so(rendered, clips):
    meta = probe(clips["latesingle"])
    assert meta.frame_count == 1 and 1 <= meta.fps <= 1000 and meta.video_start == pytest.approx(2.4)
    assert "frame rate comes from" in (rendered / "results/latesingle/logs/probe.log").read_text()


def test_short_audio_never_shortens_the_video(rendered, clips):
    output = probe(rendered / "results/shortaudio.mp4")
    assert output.frame_count == 8 and output.audio_seconds == pytest.approx(0.3, abs=0.05)
    log = (rendered / "results/shortaudio/logs/probe.log").read_text()
    assert "aac from 0.000 s for 0.300 s" in log


def test_upscaling_and_alpha_are_said(tmp_path, tiny_inputs):
    from stylepipe.jobs.media import content_frames_job, probe_job

    lines: list[str] = []
    clip = tmp_path / "alpha.mov"
    _write_alpha_clip(clip)
    meta_path = tmp_path / "meta.json"
    meta = probe_job(str(clip), str(meta_path), log=lines.append)
    assert meta.has_alpha
    content_frames_job(str(clip), str(meta_path), str(tmp_path / "frames"), width=64, chunk_frames=4, log=lines.append)
    assert any("alpha channel" in line for line in lines)
    assert any("upscaled" in line for line in lines)
    frame = np.asarray(Image.open(tmp_path / "frames/chunk_0000/000000.jpg"))
    assert min(frame[0, 0].tolist()) >= 253, "transparent pixels are composited over white, as said"


def _write_alpha_clip(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("png", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "rgba"
        for index in range(4):
            rgba = np.zeros((24, 32, 4), np.uint8)
            rgba[8:16, 8:24] = (200, 40, 40, 255)
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts, frame.time_base = index, Fraction(1, 8)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_an_animated_gif_keeps_its_rate(tmp_path):
    gif = tmp_path / "anim.gif"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=48x32:rate=8", "-t", "2", str(gif)], check=True)
    source = probe(gif)
    # GIF delays are whole centiseconds: 8 fps is stored as 12 and 13; it is still 8 fps, not 8.33.
    assert source.fps == 8 and source.frame_count == 16 and not source.variable_rate
    out = tmp_path / "out.mp4"
    encode_video(iter_frames(gif), source, out, crf=18, codec="h264", audio_source=None)
    assert_same_timing(source, probe(out))


def test_a_full_disk_is_named(tmp_path):
    from stylepipe.errors import StylepipeError

    source = probe(_tiny_clip(tmp_path))
    with pytest.raises(StylepipeError, match="no space left on device"):
        encode_video(iter_frames(source.path), source, "/dev/full", crf=18, codec="h264", audio_source=None)


def test_a_job_that_runs_out_of_space_ends_with_one_line(tmp_path, capsys):
    import errno

    from stylepipe.jobs.common import job_log

    log = tmp_path / "job.log"
    with pytest.raises(SystemExit):
        with job_log(str(log)):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "frame.png"))
    assert capsys.readouterr().err.strip() == f"stylepipe: {tmp_path / 'frame.png'}: no space left on device"
    assert "no space left on device" in log.read_text()


def _tiny_clip(folder: Path) -> Path:
    path = folder / "tiny.mp4"
    write_timed_clip(path, EIGHT_FPS)
    return path
