"""Colour operations on (B, 3, H, W) images in [0, 1]: colour preservation for both style modes, and the 4:2:0
chroma of the delivered video for training."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _luma(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def keep_content_colors(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of the stylised frame with the colour (chroma) of the content frame."""
    return (content + (_luma(stylized) - _luma(content))).clamp(0, 1)


# BT.601, as ffmpeg converts RGB for yuv420p H.264.
_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)


def as_420(image: torch.Tensor) -> torch.Tensor:
    """The image as a 4:2:0 video shows it: luma at full resolution, chroma averaged over 2x2 pixels and spread back
    bilinearly. Differentiable, so a loss can be taken on what the viewer will see."""
    ycbcr = torch.einsum("ij,bjhw->bihw", _RGB_TO_YCBCR.to(image), image)
    chroma = F.interpolate(F.avg_pool2d(ycbcr[:, 1:], 2, ceil_mode=True), size=image.shape[-2:], mode="bilinear", align_corners=False)
    return torch.einsum("ij,bjhw->bihw", _YCBCR_TO_RGB.to(image), torch.cat([ycbcr[:, :1], chroma], 1))
