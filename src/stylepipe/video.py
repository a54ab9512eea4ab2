"""Probing, decoding and encoding videos with the ffmpeg binary that imageio-ffmpeg ships."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from stylepipe.errors import StylepipeError

# Audio codecs that an .mp4 container takes as they are; anything else is re-encoded to AAC.
MP4_AUDIO_CODECS = {"aac", "mp3", "alac", "opus", "ac3", "eac3"}


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (imageio-ffmpeg's, so nothing needs a system install)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoMeta:
    """What the pipeline needs to know about a content video."""

    path: str
    width: int
    height: int
    fps_num: int
    fps_den: int
    frame_count: int
    audio_codec: str | None

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json_file(cls, path: str | Path) -> "VideoMeta":
        return cls(**json.loads(Path(path).read_text()))


def _run_ffmpeg(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True, check=False)


_VIDEO_LINE = re.compile(r"Stream #\S+.*?: Video: (?P<rest>.*)")
_AUDIO_LINE = re.compile(r"Stream #\S+.*?: Audio: (?P<codec>\w+)")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_TBR = re.compile(r"([\d.]+)(k?) tbr")


def _parse_rate(text: str) -> Fraction | None:
    for pattern in (_FPS, _TBR):
        match = pattern.search(text)
        if match:
            value = float(match.group(1)) * (1000 if match.group(2) else 1)
            if value > 0:
                return _exact_rate(value)
    return None


def _exact_rate(value: float) -> Fraction:
    """The rational frame rate behind ffmpeg's rounded print-out ("29.97" is 30000/1001, "25" is 25)."""
    if abs(value - round(value)) < 0.005:
        return Fraction(round(value))
    ntsc = value * 1.001
    if abs(ntsc - round(ntsc)) < 0.01:
        return Fraction(round(ntsc) * 1000, 1001)
    return Fraction(value).limit_denominator(1000)


def probe(path: str | Path) -> VideoMeta:
    """Read size, frame rate, frame count and audio codec of a video.

    Raises StylepipeError, naming the file, when it is missing, is not a video, or has no frames.
    """
    path = Path(path)
    if not path.is_file():
        raise StylepipeError(f"{path}: file not found")
    # Count by decoding with passthrough timing, exactly as decode_frames will, so the chunk list that the
    # workflow derives from this count always matches the frames extracted later.
    result = _run_ffmpeg(["-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "null", "-"])
    header = result.stderr
    video = _VIDEO_LINE.search(header)
    if "Input #0" not in header:
        raise StylepipeError(f"{path}: not a video file that ffmpeg can read ({_last_line(header)})")
    if video is None:
        raise StylepipeError(f"{path}: the file has no video frames (it holds no video stream)")
    size = _SIZE.search(video.group("rest"))
    rate = _parse_rate(video.group("rest"))
    if size is None or rate is None:
        raise StylepipeError(f"{path}: cannot read the frame size or frame rate of its video stream")
    frames = re.findall(r"frame=\s*(\d+)", header)
    frame_count = int(frames[-1]) if frames else 0
    if result.returncode != 0 and frame_count == 0:
        raise StylepipeError(f"{path}: ffmpeg cannot read this video ({_last_line(header)})")
    if frame_count == 0:
        raise StylepipeError(f"{path}: the video has no frames")
    audio = _AUDIO_LINE.search(header)
    return VideoMeta(
        path=str(path),
        width=int(size.group(1)),
        height=int(size.group(2)),
        fps_num=rate.numerator,
        fps_den=rate.denominator,
        frame_count=frame_count,
        audio_codec=audio.group("codec") if audio else None,
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def scaled_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """The size a frame is scaled to: the configured width, height by aspect ratio, both even."""
    out_w = max(2, int(round(target_width / 2)) * 2)
    out_h = max(2, int(round(height * out_w / width / 2)) * 2)
    return out_w, out_h


def decode_frames(path: str | Path, out_dir: Path, size: tuple[int, int], pattern: str = "%06d.png") -> int:
    """Decode every frame of `path`, scaled to `size`, as PNG files into `out_dir`; returns the count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = size
    result = _run_ffmpeg(
        [
            "-i", str(path),
            "-map", "0:v:0",
            # passthrough keeps one output image per decoded frame, so counts match the probe.
            "-fps_mode", "passthrough",
            "-vf", f"scale={width}:{height}:flags=area",
            "-start_number", "0",
            str(out_dir / pattern),
        ]
    )
    if result.returncode != 0:
        raise StylepipeError(f"{path}: ffmpeg failed to decode frames ({_last_line(result.stderr)})")
    return len(list(out_dir.glob("*.png")))


def encode_video(
    frame_pattern: str,
    fps: Fraction,
    out_path: Path,
    *,
    crf: int,
    codec: str,
    audio_source: str | Path | None,
    audio_codec: str | None,
) -> None:
    """Encode numbered PNG frames to a yuv420p video at `fps`, taking the audio of `audio_source` if given."""
    args = ["-y", "-framerate", f"{fps.numerator}/{fps.denominator}", "-start_number", "0", "-i", frame_pattern]
    if audio_source is not None:
        args += ["-i", str(audio_source), "-map", "0:v:0", "-map", "1:a:0?"]
    encoder = {"h264": "libx264", "h265": "libx265", "hevc": "libx265"}.get(codec, codec)
    args += ["-c:v", encoder, "-crf", str(crf), "-pix_fmt", "yuv420p", "-r", f"{fps.numerator}/{fps.denominator}"]
    if audio_source is not None:
        args += ["-c:a", "copy" if audio_codec in MP4_AUDIO_CODECS else "aac"]
        # Audio may run a little longer than the video; cut it where the picture ends.
        args += ["-shortest"]
    args += ["-movflags", "+faststart", str(out_path)]
    result = _run_ffmpeg(args)
    if result.returncode != 0:
        raise StylepipeError(f"{out_path}: ffmpeg failed to encode ({_last_line(result.stderr)})")


def read_frames(path: str | Path, size: tuple[int, int], max_frames: int | None = None) -> np.ndarray:
    """Decode up to `max_frames` frames of a video, scaled to `size`, into an (N, H, W, 3) uint8 array."""
    width, height = size
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
            "-fps_mode", "passthrough", "-vf", f"scale={width}:{height}:flags=area"]
    if max_frames:
        args += ["-frames:v", str(max_frames)]
    result = subprocess.run([*args, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=False)
    if result.returncode != 0:
        raise StylepipeError(f"{path}: ffmpeg failed to decode frames ({_last_line(result.stderr.decode(errors='replace'))})")
    return np.frombuffer(result.stdout, np.uint8).reshape(-1, height, width, 3)
