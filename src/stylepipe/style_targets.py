"""Gram-matrix style targets for Gatys mode, per content frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylepipe.frames import list_frames, read_rgb
from stylepipe.losses import gram_matrix
from stylepipe.style import style_frame_shares


def style_grams(net: torch.nn.Module, image: np.ndarray, layers: Sequence[str], factor: float, device: str | torch.device) -> dict[str, torch.Tensor]:
    """Gram matrices of a style image resized by `factor` (area when shrinking, bicubic when enlarging)."""
    tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float().div(255).to(device)
    if factor != 1:
        size = (max(16, round(tensor.shape[2] * factor)), max(16, round(tensor.shape[3] * factor)))
        tensor = F.interpolate(tensor, size=size, mode="area" if factor < 1 else "bicubic", align_corners=None).clamp(0, 1)
    with torch.no_grad():
        features = net(tensor)
    return {layer: gram_matrix(features[layer]) for layer in layers}


class StyleTargets:
    """Gram-matrix targets for each content frame: blended over styles, averaged over a window of style frames.

    Averaging the Grams of 2*window+1 neighbouring style frames keeps the style video's own flicker out of
    the output. Grams of each style frame are computed once per scale and cached. At a coarse scale of the
    content the style is shrunk by the same factor (times `style_scale`), so strokes keep their size relative
    to the frame at every scale.
    """

    def __init__(
        self, net: torch.nn.Module, style_dir: str | Path, index: dict, layers: Sequence[str], window: int,
        device: str | torch.device, style_scale: float = 1.0,
    ) -> None:
        self.net = net
        self.style_dir = Path(style_dir)
        self.index = index
        self.layers = tuple(layers)
        self.window = window
        self.device = device
        self.style_scale = style_scale
        self._cache: dict[tuple[int, int, float], dict[str, torch.Tensor]] = {}

    def _frame_grams(self, style: int, frame: int, scale: float) -> dict[str, torch.Tensor]:
        key = (style, frame, scale)
        if key not in self._cache:
            entry = self.index["styles"][style]
            image = read_rgb(list_frames(self.style_dir / entry["folder"])[frame])
            self._cache[key] = style_grams(self.net, image, self.layers, scale * self.style_scale, self.device)
        return self._cache[key]

    def grams_for(self, content_frame: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
        """The target Gram per style layer for content frame `content_frame`, with the content at `scale`."""
        blended: dict[str, torch.Tensor] = {}
        for style, frame, share in style_frame_shares(self.index, content_frame, self.window):
            for layer, gram in self._frame_grams(style, frame, scale).items():
                blended[layer] = blended[layer] + share * gram if layer in blended else share * gram
        return blended
