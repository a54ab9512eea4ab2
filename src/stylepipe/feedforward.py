"""Feed-forward inference: batched, inference_mode, channels_last, reduced precision where it is faster."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext

import numpy as np
import torch

from stylepipe.transformer import TransformerNet

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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


def prepare(model: TransformerNet, device: str) -> TransformerNet:
    return model.to(device).eval().to(memory_format=torch.channels_last)


def stylize_batches(
    model: TransformerNet, frames: Sequence[np.ndarray], device: str, batch_size: int | str = "auto", precision: str = "auto"
) -> Iterator[np.ndarray]:
    """Stylise HxWx3 uint8 frames, `batch_size` at a time; yields HxWx3 uint8 frames in order."""
    batch_size = resolve_batch_size(batch_size, device)
    dtype = autocast_dtype(device, precision)
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    cast = torch.autocast(device_type, dtype=dtype) if dtype is not None else nullcontext()
    with torch.inference_mode(), cast:
        for start in range(0, len(frames), batch_size):
            batch = np.stack(frames[start : start + batch_size])
            x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float().div(255)
            x = x.contiguous(memory_format=torch.channels_last)
            y = model(x).float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            yield from y
