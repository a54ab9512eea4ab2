"""Feed-forward inference: batched, inference_mode, channels_last, reduced precision where it is faster.

Serves both kinds of network: a TransformerNet trained for one style, and the arbitrary-style network, which
also takes a style vector per frame (`StyleVectors` makes them from the style frames).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylepipe.arbitrary import StylePredictor
from stylepipe.frames import list_frames, read_rgb
from stylepipe.style import style_frame_shares
from stylepipe.color import keep_content_colors



def cpu_supports_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels here (AVX512-BF16 / AMX); elsewhere bf16 is emulated and slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: str, precision: str) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None means plain fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else None


def resolve_batch_size(batch_size: int | str, device: str) -> int:
    """`auto`: 8 frames a pass on CUDA; 1 on a CPU, where larger batches measured slower per frame."""
    if batch_size == "auto":
        return 8 if device.startswith("cuda") else 1
    return int(batch_size)


def prepare(model: torch.nn.Module, device: str) -> torch.nn.Module:
    return model.to(device).eval().to(memory_format=torch.channels_last)


# A batch's style vectors, given the batch's frames and where the batch starts in the stream.
StylesOfBatch = Callable[[int, Sequence[np.ndarray]], torch.Tensor]


def stylize_batches(
    model: torch.nn.Module,
    frames: Iterable[np.ndarray],
    device: str,
    batch_size: int | str = "auto",
    precision: str = "auto",
    styles: torch.Tensor | StylesOfBatch | None = None,
    preserve_colors: bool = False,
) -> Iterator[np.ndarray]:
    """Stylise HxWx3 uint8 frames, `batch_size` at a time; yields HxWx3 uint8 frames in order.

    Frames are taken from the iterable one batch at a time, so a stream of any length runs in the memory of a batch.
    `styles` (one style vector per frame, or a function giving a batch's) is passed to networks that take one, such
    as the arbitrary-style one.
    """
    batch_size = resolve_batch_size(batch_size, device)
    dtype = autocast_dtype(device, precision)
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    cast = torch.autocast(device_type, dtype=dtype) if dtype is not None else nullcontext()
    styles_of = (lambda start, batch: styles[start : start + len(batch)]) if isinstance(styles, torch.Tensor) else styles
    stream = iter(frames)
    start = 0
    with torch.inference_mode(), cast:
        while batch := list(itertools.islice(stream, batch_size)):
            x = torch.from_numpy(np.stack(batch)).to(device).permute(0, 3, 1, 2).float().div(255)
            x = x.contiguous(memory_format=torch.channels_last)
            y = model(x) if styles_of is None else model(x, styles_of(start, batch).to(device))
            y = y.float().clamp(0, 1)
            if preserve_colors:
                y = keep_content_colors(y, x.float())
            yield from y.mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            start += len(batch)


def style_image_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """The predictor's input: the image's centre square, resized to `size`, as a (1, 3, size, size) tensor in [0, 1].

    Cropping rather than squashing keeps the brush strokes' shapes, as Magenta's own preprocessing does.
    """
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side]).resize((size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.array(square)).permute(2, 0, 1)[None].float().div(255)


class StyleVectors:
    """The style vector for each content frame: blended over styles by weight, averaged over a window of frames.

    Like Gram targets in Gatys mode, averaging 2*window+1 neighbouring style-video frames keeps the style video's own
    flicker out of the output; the embedding interpolates (Ghiasi et al.), so a weighted mean blends styles.
    """

    def __init__(self, predictor: StylePredictor, style_dir: str | Path, index: dict, window: int, size: int, device: str) -> None:
        self.predictor = predictor
        self.style_dir = Path(style_dir)
        self.index = index
        self.window = window
        self.size = size
        self.device = device
        self._cache: dict[tuple[int, int], torch.Tensor] = {}

    def _frame_vector(self, style: int, frame: int) -> torch.Tensor:
        key = (style, frame)
        if key not in self._cache:
            entry = self.index["styles"][style]
            image = read_rgb(list_frames(self.style_dir / entry["folder"])[frame])
            with torch.inference_mode():
                self._cache[key] = self.predictor(style_image_tensor(image, self.size).to(self.device))[0].float().cpu()
        return self._cache[key]

    def for_frame(self, content_frame: int) -> torch.Tensor:
        """The (100,) style vector for content frame `content_frame`."""
        shares = style_frame_shares(self.index, content_frame, self.window)
        return sum(share * self._frame_vector(style, frame) for style, frame, share in shares)

    @classmethod
    def from_files(cls, predictor: StylePredictor, style_dir: str | Path, index_path: str | Path, window: int, size: int, device: str) -> "StyleVectors":
        return cls(predictor, style_dir, json.loads(Path(index_path).read_text()), window, size, device)


def content_vectors(predictor: StylePredictor, frames: Sequence[np.ndarray], size: int, device: str) -> torch.Tensor:
    """Each frame's own style vector: where `feedforward.strength` below 1 pulls the style towards."""
    with torch.inference_mode():
        return torch.cat([predictor(style_image_tensor(frame, size).to(device)).float().cpu() for frame in frames])


def mix_strength(style: torch.Tensor, own: torch.Tensor, strength: float) -> torch.Tensor:
    """Ghiasi et al.'s way to soften the effect: interpolate from the content's own vector towards the style's."""
    return strength * style + (1 - strength) * own
