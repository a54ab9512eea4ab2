"""How stylised, and how faithful, each output frame is: VGG style and content distances, relative and unitless.

- style distance: per style layer, ||G(output) - G(style)||^2 / ||G(style)||^2, averaged over the layers;
- content distance: per content layer, ||F(output) - F(content)||^2 / ||F(content)||^2, averaged.

Both are 0 for a perfect match and near 1 for an image that shares nothing with the target, whatever the
resolution or the loss weights, so they can be read across runs and plotted along a shot to show drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stylepipe.gatys import to_tensor
from stylepipe.lossnet import CONTENT_LAYERS, STYLE_LAYERS, VGGFeatures
from stylepipe.losses import gram_matrix
from stylepipe.metrics import thirds

StyleGrams = dict[str, torch.Tensor]


@dataclass(frozen=True)
class FrameFidelity:
    frame: int
    style_distance: float
    content_distance: float


def _relative(value: torch.Tensor, target: torch.Tensor) -> float:
    return float((value - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12))


class FidelityMeter:
    """Measures frames against a content frame and style Gram matrices with one loss network."""

    def __init__(self, net: VGGFeatures, device: str | torch.device = "cpu") -> None:
        arch = net.info.arch
        self.net = net
        self.device = device
        self.style_layers = STYLE_LAYERS[arch]
        self.content_layers = CONTENT_LAYERS[arch]

    @torch.inference_mode()
    def style_grams(self, image: np.ndarray) -> StyleGrams:
        features = self.net(to_tensor(image, self.device))
        return {layer: gram_matrix(features[layer]) for layer in self.style_layers}

    @torch.inference_mode()
    def measure(self, output: np.ndarray, content: np.ndarray, grams: StyleGrams) -> tuple[float, float]:
        """(style distance, content distance) of one output frame."""
        out = self.net(to_tensor(output, self.device))
        ref = self.net(to_tensor(content, self.device))
        style = np.mean([_relative(gram_matrix(out[layer]), grams[layer]) for layer in self.style_layers])
        content_distance = np.mean([_relative(out[layer], ref[layer]) for layer in self.content_layers])
        return float(style), float(content_distance)


def measure_frames(
    meter: FidelityMeter,
    outputs: Iterable[np.ndarray],
    contents: Iterable[np.ndarray],
    grams_for: Callable[[int], StyleGrams],
) -> Iterator[FrameFidelity]:
    """Distances frame by frame; two frames in memory at a time."""
    for number, (output, content) in enumerate(zip(outputs, contents, strict=True)):
        style, content_distance = meter.measure(output, content, grams_for(number))
        yield FrameFidelity(number, style, content_distance)


def summary(rows: Sequence[FrameFidelity]) -> dict[str, Any]:
    """Means, the content distance over the first and last thirds, and the per-frame values."""
    style = [row.style_distance for row in rows]
    content = [row.content_distance for row in rows]
    first, last = thirds(content)
    return {
        "style_distance_mean": float(np.mean(style)),
        "content_distance_mean": float(np.mean(content)),
        "content_distance_first_third": first,
        "content_distance_last_third": last,
        "style_distance_per_frame": style,
        "content_distance_per_frame": content,
    }
