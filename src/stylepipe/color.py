"""Colour preservation shared by both style modes."""

from __future__ import annotations

import torch


def _luma(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def keep_content_colors(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of the stylised frame with the colour (chroma) of the content frame."""
    return (content + (_luma(stylized) - _luma(content))).clamp(0, 1)
