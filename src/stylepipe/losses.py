"""Losses as small modules that keep their targets in buffers (so `.to(device)` moves them too).

Normalisations follow neural-style / artistic-videos, so their weights (content 5, style 100, temporal 1e3)
keep their meaning.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) activations to (B, C, C) Gram matrices, divided by C*H*W."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


class ContentLoss(nn.Module):
    """Mean squared error between activations and a fixed target."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(features, self.target)


class StyleLoss(nn.Module):
    """Mean squared error between the Gram matrix of activations and a target Gram matrix; `relative`, over the
    target's mean square.

    Absolute, the loss is neural-style's, and with VGG-16 relu1_2 makes nearly all of it: on Starry Night the target's
    mean square is 7e5 at relu1_2 against 0.004 at relu4_3, so the deep layers, which hold a painting's larger
    structure, barely count, and a darker painting weighs less. Relative, every layer counts alike whatever the
    painting's brightness, as in the style distance that `fidelity` reports.
    """

    def __init__(self, target_gram: torch.Tensor, relative: bool = False) -> None:
        super().__init__()
        target = target_gram.detach()
        self.register_buffer("target", target)
        scale = target.pow(2).mean().clamp_min(torch.finfo(target.dtype).tiny) if relative else torch.ones((), dtype=target.dtype)
        self.register_buffer("scale", scale)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        gram = gram_matrix(features)
        # One style target serves every image of a batch.
        return F.mse_loss(gram, self.target.expand_as(gram)) / self.scale


class TVLoss(nn.Module):
    """Total variation: sum of squared differences between neighbouring pixels, averaged."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        dx = image[..., :, 1:] - image[..., :, :-1]
        dy = image[..., 1:, :] - image[..., :-1, :]
        return dx.pow(2).mean() + dy.pow(2).mean()


def masked_mse(image: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over pixels and channels of weights * (image - target)^2; weights broadcast over channels."""
    return (weights * (image - target).pow(2)).mean()


class TemporalLoss(nn.Module):
    """Ruder et al.'s temporal loss: mean of c * (x - warped previous output)^2 over pixels and channels.

    `target` is the previous stylised frame warped into this frame (B, 3, H, W, in [0, 255] scale as in the
    paper) and `weights` the per-pixel reliability c in [0, 1] (B, 1, H, W).
    """

    def __init__(self, target: torch.Tensor, weights: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach())
        self.register_buffer("weights", weights.detach())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return masked_mse(image, self.target, self.weights)
