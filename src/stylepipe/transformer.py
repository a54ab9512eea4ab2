"""The feed-forward stylisation network (Johnson et al. 2016 family, as used by Huang et al. 2017).

Residual encoder-decoder with instance normalisation; the decoder upsamples then convolves, which avoids the
checkerboard artefacts of transposed convolutions. Input and output are RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ArchSpec:
    widths: tuple[int, int, int]
    residual_blocks: int


# `johnson`: Johnson et al.'s widths, trained from scratch per style. (A narrower `fast` was removed: trained from scratch
# it needs the same hours on a GPU, and the fine-tuned arbitrary network is the per-style network a CPU can train.)
ARCHS = {"johnson": ArchSpec((32, 64, 128), 5)}


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True, relu: bool = True) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.norm = nn.InstanceNorm2d(cout, affine=True) if norm else nn.Identity()
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(self.pad(x)))
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = ConvLayer(channels, channels, 3)
        self.second = ConvLayer(channels, channels, 3, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(self.first(x))


class UpsampleConv(nn.Module):
    """Nearest-neighbour upsampling by 2, then a convolution."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, kernel)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class TransformerNet(nn.Module):
    """Image transformation network: RGB [0, 1] in, stylised RGB [0, 1] out, any size."""

    def __init__(self, arch: str = "johnson") -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHS)}")
        self.arch = arch
        c1, c2, c3 = ARCHS[arch].widths
        self.encoder = nn.ModuleList([ConvLayer(3, c1, 9), ConvLayer(c1, c2, 3, 2), ConvLayer(c2, c3, 3, 2)])
        self.residuals = nn.Sequential(*[ResidualBlock(c3) for _ in range(ARCHS[arch].residual_blocks)])
        self.up1 = UpsampleConv(c3, c2, 3)
        self.up2 = UpsampleConv(c2, c1, 3)
        self.out = ConvLayer(c1, 3, 9, norm=False, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = []
        for layer in self.encoder:
            sizes.append(x.shape[-2:])
            x = layer(x)
        x = self.residuals(x)
        # Upsample to the encoder's exact sizes, so odd frame sizes come back unchanged.
        x = self.up1(x, tuple(sizes[2]))
        x = self.up2(x, tuple(sizes[1]))
        return (torch.tanh(self.out(x)) + 1) / 2
