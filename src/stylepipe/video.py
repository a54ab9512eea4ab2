"""Probing, decoding and encoding videos with PyAV, frame by frame and with each frame's own timestamp.

PyAV gives what parsing ffmpeg's printout cannot: exact rational rates and time bases, a timestamp per frame (so a
variable frame rate is kept), the start of each stream (so an offset between picture and sound is kept), the
display-matrix rotation, and whether the audio stream holds any packets at all.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np

from stylepipe.errors import StylepipeError

# Audio codecs that an .mp4 container takes as they are; anything else is re-encoded to AAC.
MP4_AUDIO_CODECS = {"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"}
VIDEO_ENCODERS = {"h264": "libx264", "h265": "libx265"}


def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's ffmpeg binary: the demo generator and the tests write clips with it."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoMeta:
    """What the pipeline needs to know about a content video.

    `width`/`height` are the displayed size (after rotation). `pts` holds every frame's presentation time in
    `time_base` units, in display order; the output carries the same times.
    """

    path: str
    width: int
    height: int
    fps_num: int
    fps_den: int
    frame_count: int
    audio_codec: str | None
    rotation: int = 0
    time_base: str = "1/90000"
    pts: list[int] = field(default_factory=list)
    video_start: float = 0.0
    audio_start: float | None = None
    audio_seconds: float | None = None
    variable_rate: bool = False
    has_alpha: bool = False
    # Where the frame rate comes from: the frames' timestamps, the stream header (one frame), or neither gave a rate
    # in FPS_RANGE and it is DEFAULT_FPS.
    rate_source: str = "timestamps"

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def seconds(self) -> float:
        """Time from the first frame to the end of the last one."""
        if len(self.pts) < 2:
            return self.frame_count / float(self.fps)
        tb = Fraction(self.time_base)
        return float((self.pts[-1] - self.pts[0]) * tb + 1 / self.fps)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json_file(cls, path: str | Path) -> "VideoMeta":
        data = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def _open(path: Path) -> av.container.InputContainer:
    if path.is_dir() and str(path) not in ("", "."):
        raise StylepipeError(f"{path}: is a folder, not a video file")
    if not path.is_file():
        raise StylepipeError(f"{path}: file not found" if str(path) not in ("", ".") else "no file given (the path is empty)")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise StylepipeError(f"{path}: not a video file that ffmpeg can read ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc).strip()[:160]


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        raise StylepipeError(f"{path}: the file has no video frames (it holds no video stream)")
    return streams[0]


def _has_alpha(pix_fmt: str | None) -> bool:
    if not pix_fmt:
        return False
    try:
        return any(component.is_alpha for component in av.VideoFormat(pix_fmt).components)
    except (ValueError, av.FFmpegError):
        return False


def _rotation(frame: av.VideoFrame) -> int:
    """Degrees counter-clockwise that the frame is turned for display, as a multiple of 90."""
    return int(round(getattr(frame, "rotation", 0) or 0)) % 360 // 90 * 90


def check_video(path: str | Path) -> None:
    """A cheap check, for the pre-flight step: the file opens, has a video stream and decodes a first frame."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        try:
            for _ in container.decode(stream):
                return
        except av.FFmpegError as exc:
            raise StylepipeError(f"{path}: ffmpeg cannot read this video ({_reason(exc)})") from None
    raise StylepipeError(f"{path}: the video has no frames")


def header_size_and_frames(path: str | Path) -> tuple[int, int, int]:
    """The displayed width and height and the frame count of a video, from its header and first frame, without
    decoding the rest: the count is the stream's, else its duration times its rate (an estimate, for planning)."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = _header_rate(stream) or DEFAULT_FPS
        count = stream.frames
        if not count:
            seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            if seconds is None and container.duration:
                seconds = container.duration / av.time_base
            count = max(1, round((seconds or 0) * float(rate)))
        try:
            frame = next(container.decode(stream))
        except (StopIteration, av.FFmpegError):
            raise StylepipeError(f"{path}: the video has no frames") from None
        width, height = frame.width, frame.height
        if _rotation(frame) in (90, 270):
            width, height = height, width
    return width, height, count


def probe(path: str | Path) -> VideoMeta:
    """Decode every frame's timestamp, and read size, rotation, rates and the audio stream's extent.

    Raises StylepipeError, naming the file, when it is missing, is not a video, or has no frames.
    """
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 90000)
        pts: list[int] = []
        rotation, width, height, alpha = 0, 0, 0, _has_alpha(stream.codec_context.pix_fmt)
        # Read while the container is open: PyAV's rate properties read freed memory once it is closed (a crash
        # on one-frame clips), and a header's rate can be anything (2147483648 fps for a frame at 2.4 s).
        header_rate = _header_rate(stream)
        step = max(1, round(1 / ((header_rate or DEFAULT_FPS) * time_base)))
        try:
            for frame in container.decode(stream):
                if not pts:
                    rotation, width, height = _rotation(frame), frame.width, frame.height
                    alpha = alpha or _has_alpha(frame.format.name)
                pts.append(_frame_pts(frame, time_base, pts, step))
        except av.FFmpegError as exc:
            if not pts:
                raise StylepipeError(f"{path}: ffmpeg cannot read this video ({_reason(exc)})") from None
            # A damaged tail: keep what decodes, as every player does; the count is the decoded count.
    if not pts:
        raise StylepipeError(f"{path}: the video has no frames")
    audio_codec, audio_start, audio_seconds = _audio_extent(path)
    if rotation in (90, 270):
        width, height = height, width
    rate, variable, source = _rate(pts, time_base, header_rate)
    return VideoMeta(
        path=str(path), width=width, height=height, fps_num=rate.numerator, fps_den=rate.denominator,
        frame_count=len(pts), audio_codec=audio_codec, rotation=rotation, time_base=str(time_base), pts=pts,
        video_start=float(pts[0] * time_base), audio_start=audio_start, audio_seconds=audio_seconds,
        variable_rate=variable, has_alpha=alpha, rate_source=source,
    )


# Frame rates a video can sensibly have; a header or timestamps that say otherwise are taken as DEFAULT_FPS.
FPS_RANGE = (Fraction(1, 100), Fraction(1000))
DEFAULT_FPS = Fraction(25)


def _header_rate(stream: av.VideoStream) -> Fraction | None:
    """The stream header's frame rate, or None when it gives none in FPS_RANGE."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and FPS_RANGE[0] <= rate <= FPS_RANGE[1]:
            return Fraction(rate).limit_denominator(1001)
    return None


def _frame_pts(frame: av.VideoFrame, time_base: Fraction, previous: list[int], step: int) -> int:
    """The frame's timestamp; a missing or non-increasing one follows the previous frame by one nominal step."""
    value = frame.pts
    if value is not None and frame.time_base is not None and frame.time_base != time_base:
        value = round(value * frame.time_base / time_base)
    if previous and (value is None or value <= previous[-1]):
        return previous[-1] + step
    return 0 if value is None else value


def _rate(pts: list[int], time_base: Fraction, header_rate: Fraction | None) -> tuple[Fraction, bool, str]:
    """The average rate from the timestamps, snapped to the exact rational rate it rounds, whether it varies, and
    where it came from (VideoMeta.rate_source); a single frame has only the header's rate."""
    fallback = (header_rate, "header") if header_rate else (DEFAULT_FPS, "default")
    if len(pts) < 2:
        return fallback[0], False, fallback[1]
    steps = np.diff(np.asarray(pts, dtype=np.int64))
    mean = float(steps.mean())
    if not FPS_RANGE[0] <= 1 / (mean * time_base) <= FPS_RANGE[1]:
        return fallback[0], True, fallback[1]
    # Each timestamp is rounded to a tick (GIF: 1/100 s), so the mean step is known to within a tick over the span.
    rate = exact_rate(1 / (mean * float(time_base)), tolerance=float(time_base) / (len(pts) - 1))
    # Ticks make a constant rate jitter (8 fps in a GIF is steps of 12 and 13 ticks); a real change of rate is large.
    variable = bool(np.abs(steps - mean).max() > max(1.0, 0.1 * mean))
    return rate, variable, "timestamps"


def exact_rate(value: float, tolerance: float = 0.0) -> Fraction:
    """The rational frame rate behind a measured one ("29.97" is 30000/1001, "25" is 25).

    `tolerance` is how far, in seconds, the measured frame step may be from the exact one.
    """
    for candidate in (Fraction(round(value)), Fraction(round(value * 1.001) * 1000, 1001)):
        if candidate > 0 and abs(1 / float(candidate) - 1 / value) <= tolerance + 2e-5 / value:
            return candidate
    return Fraction(value).limit_denominator(1001)


def _audio_extent(path: Path) -> tuple[str | None, float | None, float | None]:
    """Codec, start and length of the first audio stream; a stream without packets is no audio."""
    with _open(path) as container:
        if not container.streams.audio:
            return None, None, None
        stream = container.streams.audio[0]
        first = last = None
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                end = (packet.pts + (packet.duration or 0)) * packet.time_base
                first = packet.pts * packet.time_base if first is None else first
                last = end if last is None else max(last, end)
        except av.FFmpegError:
            pass  # a truncated file: the packets read so far are the audio there is
        if first is None:
            return None, None, None
        start = stream.start_time * stream.time_base if stream.start_time is not None else max(first, Fraction(0))
        return stream.codec_context.name, float(start), float(last - start)


def scaled_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """The size a frame is scaled to: the configured width, height by aspect ratio, both even."""
    out_w = max(2, int(round(target_width / 2)) * 2)
    out_h = max(2, int(round(height * out_w / width / 2)) * 2)
    return out_w, out_h


def iter_frames(path: str | Path, size: tuple[int, int] | None = None, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Every frame of `path` as HxWx3 uint8 RGB, turned as it is displayed and scaled to `size` (displayed).

    Transparent pixels are composited over white, as style images are.
    """
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        count = 0
        try:
            for frame in container.decode(stream):
                yield _to_rgb(frame, size)
                count += 1
                if max_frames and count >= max_frames:
                    return
        except av.FFmpegError as exc:
            if count == 0:
                raise StylepipeError(f"{path}: ffmpeg cannot decode this video ({_reason(exc)})") from None


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    rotation = _rotation(frame)
    if size is not None:
        width, height = size if rotation in (0, 180) else size[::-1]
    else:
        width, height = frame.width, frame.height
    if _has_alpha(frame.format.name):
        rgba = frame.reformat(width, height, format="rgba", interpolation="AREA").to_ndarray().astype(np.float32)
        alpha = rgba[..., 3:] / 255.0
        image = np.clip(rgba[..., :3] * alpha + 255.0 * (1 - alpha) + 0.5, 0, 255).astype(np.uint8)
    else:
        image = frame.reformat(width, height, format="rgb24", interpolation="AREA").to_ndarray()
    if rotation:
        image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
    return image


def decode_frames(path: str | Path, out_dir: Path, size: tuple[int, int], pattern: str = "{:06d}.png") -> int:
    """Decode every frame of `path`, turned for display and scaled to `size`, as PNG files into `out_dir`."""
    from stylepipe.frames import write_rgb  # frames imports nothing of this module; kept local to stay acyclic

    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, image in enumerate(iter_frames(path, size), start=1):
        write_rgb(out_dir / pattern.format(count - 1), image)
    return count


def read_frames(path: str | Path, size: tuple[int, int], max_frames: int | None = None) -> np.ndarray:
    """Decode up to `max_frames` frames of a video, scaled to `size`, into an (N, H, W, 3) uint8 array."""
    frames = list(iter_frames(path, size, max_frames))
    if not frames:
        raise StylepipeError(f"{path}: the video has no frames")
    return np.stack(frames)


def encode_video(
    frames: Iterable[np.ndarray],
    meta: VideoMeta,
    out_path: str | Path,
    *,
    crf: int,
    codec: str,
    audio_source: str | Path | None,
    pix_fmt: str = "yuv420p",
) -> int:
    """Encode RGB frames to H.264/H.265 in MP4 (`pix_fmt`: yuv420p, or yuv444p, which keeps full-resolution colour),
    each frame at its source timestamp, with the source's audio.

    Times keep the source's own offsets: whichever stream starts first starts at 0, and the other keeps its delay.
    Audio shorter than the picture simply ends early; it never shortens the video. Returns the frames written.
    """
    time_base = Fraction(meta.time_base)
    pts = meta.pts or [round(i / (meta.fps * time_base)) for i in range(meta.frame_count)]
    with_audio = audio_source is not None and meta.has_audio
    zero = min(meta.video_start, meta.audio_start) if with_audio and meta.audio_start is not None else meta.video_start
    zero_ticks = round(Fraction(zero).limit_denominator(10**9) / time_base)
    try:
        output = av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"})
    except av.FFmpegError as exc:
        raise StylepipeError(f"{out_path}: cannot write ({_reason(exc)})") from None
    written = 0
    try:
        with output:
            video = output.add_stream(VIDEO_ENCODERS.get(codec, codec), rate=meta.fps)
            video.codec_context.time_base = time_base
            video.time_base = time_base
            video.pix_fmt = pix_fmt
            video.options = {"crf": str(crf)}
            audio_packets = _audio_packets(output, audio_source, zero) if with_audio else iter(())
            pending = next(audio_packets, None)
            for index, image in enumerate(frames):
                if index >= len(pts):
                    raise StylepipeError(f"{out_path}: more frames to encode than the source has ({len(pts)})")
                if index == 0:
                    video.height, video.width = image.shape[:2]
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = pts[index] - zero_ticks, time_base
                output.mux(video.encode(frame))
                written += 1
                # Interleave by time, so players need not seek back and forth through the file.
                while pending is not None and pending[0] <= frame.pts * time_base:
                    output.mux(pending[1])
                    pending = next(audio_packets, None)
            output.mux(video.encode(None))
            while pending is not None:
                output.mux(pending[1])
                pending = next(audio_packets, None)
    except av.FFmpegError as exc:
        if getattr(exc, "errno", None) == errno.ENOSPC:
            raise StylepipeError(f"{out_path}: no space left on device") from None
        raise StylepipeError(f"{out_path}: encoding failed ({_reason(exc)})") from None
    return written


def _audio_packets(output: av.container.OutputContainer, source: str | Path, zero: float) -> Iterator[tuple[Fraction, av.Packet]]:
    """The source's first audio stream as packets for `output`, shifted by `zero` seconds, with their times.

    Codecs MP4 takes are copied bit for bit; others are re-encoded to AAC.
    """
    container = _open(Path(source))
    stream = container.streams.audio[0]
    shift = Fraction(zero).limit_denominator(10**9)
    if stream.codec_context.name in MP4_AUDIO_CODECS:
        target = output.add_stream_from_template(stream)
        return _copied_packets(container, stream, target, shift)
    target = output.add_stream("aac", rate=stream.codec_context.sample_rate or 48000, layout=stream.codec_context.layout.name)
    return _transcoded_packets(container, stream, target, shift)


def _copied_packets(container, stream, target, shift: Fraction) -> Iterator[tuple[Fraction, av.Packet]]:
    with container:
        ticks = round(shift / stream.time_base)
        for packet in container.demux(stream):
            if packet.dts is None or packet.size == 0:
                continue
            packet.pts = None if packet.pts is None else packet.pts - ticks
            packet.dts -= ticks
            packet.stream = target
            yield (packet.pts if packet.pts is not None else packet.dts) * stream.time_base, packet


def _transcoded_packets(container, stream, target, shift: Fraction) -> Iterator[tuple[Fraction, av.Packet]]:
    with container:
        for frame in container.decode(stream):
            if frame.pts is not None:
                frame.pts -= round(shift / frame.time_base)
            for packet in target.encode(frame):
                yield packet.pts * packet.time_base, packet
        for packet in target.encode(None):
            yield packet.pts * packet.time_base, packet
